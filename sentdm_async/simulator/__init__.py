"""A local fake Sent v3 server for tests, demos and benchmarks.

Start it in-process with ``async with Simulator() as sim:`` (then point a client at
``sim.base_url``, with ``x-api-key`` ``sim.api_key``: ``sk_test_simulator`` unless given) or
from a shell with ``python -m sentdm_async.simulator --port 8080`` (or ``sentdm-async
simulate``). ``sim.webhooks.faults = WebhookFaults(drop=0.1)`` loses, repeats, reorders, delays
or mis-signs webhook deliveries.
"""

from ._cli import run_main as run_main
from ._cli import serve as serve
from ._faults import FAULT_KINDS as FAULT_KINDS
from ._http import SimStats as SimStats
from ._model import OUTCOMES as OUTCOMES
from ._model import OutcomeMix as OutcomeMix
from ._server import Simulator as Simulator
from ._webhooks import WebhookFaults as WebhookFaults

__all__ = [
    "FAULT_KINDS",
    "OUTCOMES",
    "OutcomeMix",
    "SimStats",
    "Simulator",
    "WebhookFaults",
    "run_main",
    "serve",
]
