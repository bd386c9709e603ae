"""A local fake Sent v3 server for tests, demos and benchmarks.

Start it in-process with ``async with Simulator() as sim:`` (then point a client at
``sim.base_url``, with ``x-api-key`` ``sim.api_key``: ``sk_test_simulator`` unless given) or
from a shell with ``python -m sentdm_async.simulator --port 8080`` (or ``sentdm-async
simulate``). ``sim.webhooks.faults = WebhookFaults(drop=0.1)`` loses, repeats, reorders, delays
or mis-signs webhook deliveries.
"""

from sentdm_async.simulator._cli import run_main as run_main
from sentdm_async.simulator._cli import serve as serve
from sentdm_async.simulator._faults import FAULT_KINDS as FAULT_KINDS
from sentdm_async.simulator._http import SimStats as SimStats
from sentdm_async.simulator._model import OUTCOMES as OUTCOMES
from sentdm_async.simulator._model import OutcomeMix as OutcomeMix
from sentdm_async.simulator._server import Simulator as Simulator
from sentdm_async.simulator._webhooks import WebhookFaults as WebhookFaults

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
