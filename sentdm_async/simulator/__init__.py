"""A local fake Sent v3 server for tests, demos and benchmarks.

Start it in-process with ``async with Simulator() as sim:`` (then point a client at
``sim.base_url``) or from a shell with ``python -m sentdm_async.simulator --port 8080``.
"""

from ._cli import run_main as run_main
from ._cli import serve as serve
from ._faults import FAULT_KINDS as FAULT_KINDS
from ._http import SimStats as SimStats
from ._model import OUTCOMES as OUTCOMES
from ._model import OutcomeMix as OutcomeMix
from ._server import Simulator as Simulator

__all__ = [
    "FAULT_KINDS",
    "OUTCOMES",
    "OutcomeMix",
    "SimStats",
    "Simulator",
    "run_main",
    "serve",
]
