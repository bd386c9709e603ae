"""``sentdm-async demo``: send a batch to an in-process simulator and watch it to the end.

Needs no account. The simulator runs on a sped-up clock (``--speed 30``: 30 simulated seconds per
real second), so every duration the client is given is scaled by ``1 / speed``: the poll
cadence, the not-found grace and the 10-minute watch timeout. Its rate limit is enforced in real
requests per real minute, so 200/min of simulated time becomes ``200 x speed`` real; the client
keeps its default ``"auto"`` budget and learns that limit from the ``X-RateLimit-*`` headers.

Latencies are measured from the activities' own timestamps, which are in simulated time, so the
histogram shows what the same batch would look like against the real API.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sentdm_async._client import AsyncSent
from sentdm_async._watch.watcher import PollPolicy
from sentdm_async.cli._args import positive_float, positive_int
from sentdm_async.cli._output import JsonLines, format_duration
from sentdm_async.cli.watch import TIMED_OUT, LiveBoard, WatchBoard
from sentdm_async.errors import WatchTimeoutError
from sentdm_async.types.messages import SUCCESS_STATUSES

if TYPE_CHECKING:
    import argparse
    from datetime import datetime

    from sentdm_async.cli._output import Ui
    from sentdm_async.types.messages import WatchEvent

__all__ = ["DemoStats", "latency_buckets", "run_demo"]

#: Recipients per send call (one message each).
BATCH: Final = 20
#: The simulated rate limit, in requests per simulated minute, and its burst.
SIM_RATE_PER_MINUTE: Final = 200
SIM_BURST: Final = 50
#: Simulated seconds after which a message still waiting (e.g. SENT, no receipt) times out.
WATCH_TIMEOUT: Final = 600.0
FUNNEL: Final = ("QUEUED", "SENT", "DELIVERED", "READ")
#: Upper bounds (simulated seconds) and labels of the latency histogram.
BUCKETS: Final = (
    (5.0, "<5s"),
    (10.0, "5-10s"),
    (30.0, "10-30s"),
    (60.0, "30-60s"),
    (120.0, "1-2m"),
    (300.0, "2-5m"),
    (float("inf"), ">5m"),
)
BAR_WIDTH: Final = 40


@dataclass
class _Track:
    seen: set[str] = field(default_factory=set)
    queued: datetime | None = None
    delivered: datetime | None = None
    end: str | None = None


@dataclass
class DemoStats:
    """Per-message facts gathered from the watch events."""

    tracks: dict[str, _Track] = field(default_factory=dict)

    def record(self, event: WatchEvent) -> None:
        """Apply one watch event."""
        track = self.tracks.setdefault(event.message_id, _Track())
        activity = event.activity
        if activity is not None:
            track.seen.add(activity.status)
            if activity.status == "QUEUED" and track.queued is None:
                track.queued = activity.timestamp
            if activity.status in SUCCESS_STATUSES and track.delivered is None:
                track.delivered = activity.timestamp
            if event.done:
                track.end = activity.status
        elif event.error is not None:
            timed_out = isinstance(event.error, WatchTimeoutError)
            track.end = TIMED_OUT if timed_out else type(event.error).__name__

    def funnel(self) -> dict[str, int]:
        """Return how many messages reached each of QUEUED, SENT, DELIVERED, READ."""
        return {s: sum(s in t.seen for t in self.tracks.values()) for s in FUNNEL}

    def failures(self) -> Counter[str]:
        """Return how the messages that were not delivered ended, by status or error."""
        return Counter(
            t.end for t in self.tracks.values() if t.end is not None and t.delivered is None
        )

    def latencies(self) -> list[float]:
        """Return QUEUED-to-delivered seconds (simulated time) of the delivered messages."""
        return sorted(
            (t.delivered - t.queued).total_seconds()
            for t in self.tracks.values()
            if t.delivered is not None and t.queued is not None
        )


def latency_buckets(latencies: list[float]) -> dict[str, int]:
    """Count latencies (seconds) per histogram bucket, in bucket order."""
    counts = dict.fromkeys((label for _, label in BUCKETS), 0)
    for seconds in latencies:
        label = next(label for bound, label in BUCKETS if seconds < bound)
        counts[label] += 1
    return counts


def _bar(count: int, top: int, char: str) -> str:
    return char * (round(BAR_WIDTH * count / top) if top else 0)


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[index]


def _report(ui: Ui, stats: DemoStats, messages: int, requests: int, limited: int) -> None:
    char = "█" if ui.fancy else "#"
    funnel = stats.funnel()
    ui.line("")
    ui.line(f"Outcome funnel ({messages} messages)")
    for status, count in funnel.items():
        share = 100.0 * count / messages if messages else 0.0
        bar = _bar(count, messages, char)
        ui.line(f"  {status:<10} {count:>7}  {share:5.1f}%  {bar}")
    ui.line("  (READ: messages already read when their delivery was seen; the watch ends there)")
    failures = stats.failures()
    if failures:
        ui.line("Not delivered")
        for label, count in failures.most_common():
            note = "  (no receipt within 10 simulated minutes)" if label == TIMED_OUT else ""
            ui.line(f"  {label:<10} {count:>7}{note}")
    latencies = stats.latencies()
    if latencies:
        ui.line(
            f"Delivery latency, QUEUED to DELIVERED in simulated time (n={len(latencies)}, "
            f"p50 {format_duration(_percentile(latencies, 0.5))}, "
            f"p90 {format_duration(_percentile(latencies, 0.9))}, "
            f"p99 {format_duration(_percentile(latencies, 0.99))})"
        )
        buckets = latency_buckets(latencies)
        top = max(buckets.values())
        for label, count in buckets.items():
            ui.line(f"  {label:>6} {count:>7}  {_bar(count, top, char)}")
    per_message = requests / messages if messages else 0.0
    ui.line(f"Requests: {requests} ({per_message:.2f} per message); 429s received: {limited}")


async def _send_all(client: AsyncSent, messages: int, rng: random.Random) -> list[str]:
    numbers = [f"+1555{rng.randrange(10**7):07d}" for _ in range(messages)]
    ids: list[str] = []
    for start in range(0, messages, BATCH):
        result = await client.messages.send(
            to=numbers[start : start + BATCH], text="Your sentdm-async demo code is 424242"
        )
        ids.extend(result.message_ids)
    return ids


async def run_push_demo(args: argparse.Namespace, ui: Ui) -> int:
    """Watch the same batch by polling alone, then with webhooks pushed in; compare the two."""
    from sentdm_async.cli._push import watch_pass

    passes = []
    for push in (False, True):
        mode = "push+poll (simulator webhooks -> receiver -> watcher)" if push else "polling only"
        ui.line(f"demo: {args.messages} messages, {mode}")
        passes.append(
            await watch_pass(messages=args.messages, speed=args.speed, seed=args.seed, push=push)
        )
    ui.line(f"{'':24}{'requests/message':>18}{'p50 delay':>12}{'p95 delay':>12}{'429s':>7}")
    for result in passes:
        ui.line(
            f"{result.label:24}{result.per_message:>18.2f}"
            f"{format_duration(result.percentile(0.5)):>12}"
            f"{format_duration(result.percentile(0.95)):>12}{result.rate_limited:>7}"
        )
    ui.line("delay: from a message turning terminal to its event, in simulated time")
    JsonLines().write(
        {
            r.label: {
                "requests_per_message": round(r.per_message, 3),
                "p50_delay": round(r.percentile(0.5), 3),
                "p95_delay": round(r.percentile(0.95), 3),
                "rate_limited": r.rate_limited,
                "timed_out": r.timed_out,
            }
            for r in passes
        }
    )
    return 0


async def run_demo(args: argparse.Namespace, ui: Ui) -> int:
    """Run the demo; prints the report on stderr and one JSON summary line on stdout."""
    if args.push:
        return await run_push_demo(args, ui)
    from sentdm_async.simulator import Simulator  # the simulator is not needed by any other command

    speed: float = args.speed
    rng = random.Random(args.seed)  # noqa: S311 - phone numbers for a simulation
    sim = Simulator(
        seed=args.seed,
        speed=speed,
        rate_limit=max(1, int(SIM_RATE_PER_MINUTE * speed)),
        burst=SIM_BURST,
    )
    started = time.monotonic()
    async with sim, AsyncSent(api_key=sim.api_key, base_url=sim.base_url) as client:
        ui.line(
            f"demo: simulator on {sim.base_url} at {speed:g}x speed; "
            f"sending {args.messages} messages"
        )
        ids = await _send_all(client, args.messages, rng)
        ui.line(f"demo: sent {len(ids)} messages in {sim.stats.requests} requests; watching")

        def extra() -> str:
            return f"{sim.stats.requests} requests, {sim.stats.rate_limited} x 429"

        board = WatchBoard(len(ids), extra=extra)
        stats = DemoStats()
        poll = PollPolicy(
            min_interval=1.0 / speed, max_interval=30.0 / speed, not_found_grace=30.0 / speed
        )
        watcher = client.messages.watch_many(ids, poll=poll, timeout=WATCH_TIMEOUT / speed)
        async with LiveBoard(ui, board, "demo"), watcher:
            async for event in watcher:
                board.record(event)
                stats.record(event)
        requests, limited = sim.stats.requests, sim.stats.rate_limited
        client_stats = client.stats()
    _report(ui, stats, len(ids), requests, limited)
    ui.line(f"Client: {client_stats.summary()}")
    elapsed = time.monotonic() - started
    ui.line(f"demo: done in {format_duration(elapsed)} of real time")
    summary: dict[str, Any] = {
        "messages": len(ids),
        "funnel": stats.funnel(),
        "not_delivered": dict(stats.failures()),
        "latency_buckets": latency_buckets(stats.latencies()),
        "requests": requests,
        "rate_limited": limited,
        "elapsed": round(elapsed, 3),
    }
    JsonLines().write(summary)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this command's subparser."""
    p = sub.add_parser(
        "demo",
        help="send a batch to an in-process simulator and watch it live (no account needed)",
    )
    p.add_argument(
        "--messages", type=positive_int, default=1000, help="messages to send (default: 1000)"
    )
    p.add_argument(
        "--speed",
        type=positive_float,
        default=30.0,
        help="simulated seconds per real second (default: 30)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default: 0)")
    p.add_argument(
        "--push",
        action="store_true",
        help="compare polling only with webhooks pushed into the watcher (requests per message "
        "and delivery-to-event delay, side by side)",
    )
    p.set_defaults(run=run_demo, needs_client=False)
