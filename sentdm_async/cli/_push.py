"""Polling only versus push+poll, measured on one in-process simulator setup each.

Used by ``sentdm-async demo --push`` and ``benchmarks/bench_push.py``: the same messages (same
seed) are watched once by polling alone and once with the simulator's signed webhooks pushed
into the watcher through the real receiver, optionally with a share of deliveries dropped.
Delays are from a message turning terminal in the simulator to its ``done`` event, in simulated
seconds; requests are the activity polls only.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

import anyio
from aiohttp import web

from sentdm_async._client import AsyncSent
from sentdm_async._watch.watcher import PollPolicy, Watcher
from sentdm_async.simulator._model import OutcomeMix
from sentdm_async.webhooks import aiohttp_handler

if TYPE_CHECKING:
    from sentdm_async.simulator import Simulator
    from sentdm_async.webhooks import WebhookEvent

__all__ = ["PassResult", "watch_pass"]

#: The simulated account limit (requests per simulated minute) and burst, as in the demo.
RATE_PER_MINUTE: Final = 200
BURST: Final = 50
#: Simulated seconds after which a message still waiting (SENT, no receipt) times out.
TIMEOUT: Final = 480.0


@dataclass
class PassResult:
    """What one pass measured."""

    label: str
    messages: int
    requests: int = 0
    rate_limited: int = 0
    delays: list[float] = field(default_factory=list)
    timed_out: int = 0
    pushes: int = 0

    @property
    def per_message(self) -> float:
        """Activity requests per watched message."""
        return self.requests / self.messages if self.messages else 0.0

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0..1) of the delays, in simulated seconds (0 if none)."""
        if not self.delays:
            return 0.0
        if len(self.delays) == 1:
            return self.delays[0]
        return statistics.quantiles(self.delays, n=100, method="inclusive")[round(q * 100) - 1]


async def watch_pass(
    *,
    messages: int,
    speed: float,
    seed: int,
    push: bool,
    drop: float = 0.0,
    label: str = "",
    mix: OutcomeMix | None = None,
    die_after: float | None = None,
    expect_pushes: bool = False,
    gap_fill: Literal["adaptive", "fixed"] = "adaptive",
) -> PassResult:
    """Watch ``messages`` new messages to the end, by polling or push+poll, and measure it.

    Args:
        messages: How many new messages to watch.
        speed: How much faster than real time the simulator's clock runs (the policy likewise).
        seed: The simulator's seed (the same lifecycles for the same seed).
        push: Mount a receiver and push the simulator's webhooks into the watcher.
        drop: Share of deliveries lost.
        label: The run's name in the report.
        mix: Outcomes and delivery delays (the simulator's default if ``None``).
        die_after: Simulated seconds after which every delivery is lost (the endpoint died).
        expect_pushes: Tell the watcher pushes will come (no polls before the first one).
        gap_fill: The watcher's `PollPolicy.gap_fill`.
    """
    from sentdm_async.simulator import WebhookFaults

    result = PassResult(label or ("push+poll" if push else "polling only"), messages)
    sim = _simulator(seed, speed, mix)
    async with sim, AsyncSent(api_key=sim.api_key, base_url=sim.base_url) as client:
        watcher = client.messages.watcher(
            poll=_policy(speed, gap_fill),
            timeout=TIMEOUT / speed,
            expect_pushes=expect_pushes and push,
        )
        runner: web.AppRunner | None = None
        alive = [True]
        if push:
            runner = await _mount_receiver(client, watcher, result, alive)
            sim.webhooks.faults = WebhookFaults(drop=drop)
        before = sim.stats.by_route["activities"]
        try:
            async with watcher, anyio.create_task_group() as tg:
                if push and die_after is not None:
                    tg.start_soon(_kill_endpoint, alive, die_after / speed)
                for message_id in sim.create_messages(messages):
                    watcher.add(message_id)
                watcher.finish()
                await _measure(watcher, sim, speed, result)
                tg.cancel_scope.cancel()
        finally:
            if runner is not None:
                await runner.cleanup()
        result.requests = sim.stats.by_route["activities"] - before
        result.rate_limited = sim.stats.rate_limited
    return result


def _simulator(seed: int, speed: float, mix: OutcomeMix | None) -> Simulator:
    """The pass's simulator: the demo's account limit, on a clock ``speed`` times faster."""
    from sentdm_async.simulator import Simulator

    return Simulator(
        seed=seed,
        speed=speed,
        rate_limit=max(1, int(RATE_PER_MINUTE * speed)),
        burst=BURST,
        mix=mix or OutcomeMix(),
    )


def _policy(speed: float, gap_fill: Literal["adaptive", "fixed"]) -> PollPolicy:
    """The watcher's intervals, scaled to a clock ``speed`` times faster."""
    return PollPolicy(
        min_interval=1.0 / speed,
        max_interval=30.0 / speed,
        not_found_grace=30.0 / speed,
        overdue_after=60.0 / speed,
        gap_fill=gap_fill,
    )


async def _measure(watcher: Watcher, sim: Simulator, speed: float, result: PassResult) -> None:
    """Read ``watcher`` to the end: count timeouts, and each message's delay past its end."""
    async for event in watcher:
        if not event.done:
            continue
        if event.error is not None:
            result.timed_out += 1
            continue
        ended = sim.terminal_at(event.message_id)
        if ended is not None:
            result.delays.append(max(0.0, time.monotonic() - ended) * speed)


async def _mount_receiver(
    client: AsyncSent, watcher: Watcher, result: PassResult, alive: list[bool]
) -> web.AppRunner:
    """Serve a receiver pushing into ``watcher`` and register it with the simulator."""
    secret: dict[str, str] = {}
    handlers: list[object] = []

    def target(event: WebhookEvent) -> None:
        result.pushes += 1
        watcher.push(event)

    async def receive(request: web.Request) -> web.StreamResponse:
        if not alive[0]:
            return web.Response(status=503)
        if not handlers:
            handlers.append(aiohttp_handler(secret["value"], target))
        response: web.StreamResponse = await handlers[0](request)  # type: ignore[operator]
        return response

    app = web.Application()
    app.router.add_post("/hooks", receive)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    endpoint = await client.webhooks.create(endpoint_url=f"http://{host}:{port}/hooks")
    secret["value"] = endpoint.signing_secret or ""
    return runner


async def _kill_endpoint(alive: list[bool], after: float) -> None:
    """After ``after`` real seconds, the endpoint answers every delivery with 503 (it died)."""
    await anyio.sleep(after)
    alive[0] = False
