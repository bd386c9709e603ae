"""Watching 1,000 messages under the account's rate limit: watch_many against a naive watcher.

Scenario: the simulator with the default rate limit (200 requests per simulated minute, burst
50), 1,000 messages with realistic lifecycles (most terminal within a minute, a long tail over
several minutes, a few never leaving SENT), and a clock sped up ``--speed`` times so a run takes
well under a minute. Every duration the client uses (poll intervals, grace, timeout) is scaled by
the same factor, so the run is the real-time scenario in fast motion; figures below are reported
in simulated seconds.

    watch_many  client.messages.watch_many(ids) with the default "auto" budget (follows the
                server's X-RateLimit headers) and the default PollPolicy, scaled
    naive       one task per message polling every 2 s, the client's retries, no budget

Reported per watcher: 429s received, requests per message, delay from a message turning terminal
to its event being yielded (p50, p95), time until every message is resolved, terminal messages
that were not reported, and the target: resolved within 1.5 x (messages / rate) + the slowest
lifecycle.

The memory run (``--memory N``) watches N messages at once in a child process, each polled once
and waiting for its next poll, and reports RSS per message for watch_many and for a task per
message.

Usage: ``python benchmarks/bench_watch.py [--messages 1000] [--speed 30] [--memory 100000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sentdm_async import TERMINAL_STATUSES, AsyncSent, PollPolicy, SentError
from sentdm_async.simulator import Simulator

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

API_KEY: Final = "sk_bench_watch_0123456789"
RATE_PER_SIM_MINUTE: Final = 200  # the account's documented default
BURST: Final = 50
TIMEOUT_SIM: Final = 480.0  # watch timeout per message: past the slowest lifecycle (420 s)
NAIVE_INTERVAL_SIM: Final = 2.0


@dataclass
class Run:
    """What one watcher did."""

    name: str
    yielded_at: dict[str, float] = field(default_factory=dict)  # terminal event, monotonic
    resolved: int = 0
    requests: int = 0
    rate_limited: int = 0
    elapsed: float = 0.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def run_watch_many(sim: Simulator, ids: list[str], speed: float) -> Run:
    """Watch every id with watch_many and the auto budget."""
    run = Run("watch_many")
    poll = PollPolicy(
        min_interval=1.0 / speed, max_interval=30.0 / speed, not_found_grace=30.0 / speed
    )
    start = time.monotonic()
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url) as client:
        async for event in client.messages.watch_many(ids, poll=poll, timeout=TIMEOUT_SIM / speed):
            if event.done:
                run.resolved += 1
                if event.activity is not None:
                    run.yielded_at[event.message_id] = time.monotonic()
    run.elapsed = time.monotonic() - start
    return run


async def run_naive(sim: Simulator, ids: list[str], speed: float) -> Run:
    """One task per message, fixed 2 s polling, the client's retries and no budget."""
    run = Run("naive (task per message, 2 s)")
    deadline_after = TIMEOUT_SIM / speed

    async def watch_one(client: AsyncSent, message_id: str) -> None:
        started = time.monotonic()
        while time.monotonic() - started < deadline_after:
            try:
                log = await client.messages.retrieve_activities(message_id)
            except SentError:
                log = None  # a naive loop shrugs and polls again
            if (
                log is not None
                and log.latest is not None
                and log.latest.status in TERMINAL_STATUSES
            ):
                run.yielded_at[message_id] = time.monotonic()
                break
            await asyncio.sleep(NAIVE_INTERVAL_SIM / speed)
        run.resolved += 1

    start = time.monotonic()
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client:
        await asyncio.gather(*(watch_one(client, message_id) for message_id in ids))
    run.elapsed = time.monotonic() - start
    return run


async def scenario(
    messages: int,
    speed: float,
    seed: int,
    watcher: Callable[[Simulator, list[str], float], Awaitable[Run]],
) -> tuple[Run, dict[str, float | None], float]:
    """Run one watcher against a fresh simulator (same seed: same lifecycles)."""
    async with Simulator(
        api_key=API_KEY,
        seed=seed,
        speed=speed,
        rate_limit=int(RATE_PER_SIM_MINUTE * speed),
        burst=BURST,
    ) as sim:
        ids = sim.create_messages(messages)
        terminal = {message_id: first_terminal(sim, message_id) for message_id in ids}
        slowest = max(
            (t - created for t, created in terminal.values() if t is not None), default=0.0
        )
        run = await watcher(sim, ids, speed)
        run.requests = sim.stats.requests
        run.rate_limited = sim.stats.rate_limited
    reached = {m: t for m, (t, _) in terminal.items()}
    return run, reached, slowest * speed  # real seconds to simulated


def first_terminal(sim: Simulator, message_id: str) -> tuple[float | None, float]:
    """(monotonic time of the message's first terminal status or None, its creation time).

    ``terminal_at`` gives the last step (READ after DELIVERED); a watch for TERMINAL_STATUSES
    ends at the first, so that is when its event is due.
    """
    life = sim.lifecycle(message_id)  # (real seconds after creation, status)
    last = sim.terminal_at(message_id)
    if last is None:
        return None, 0.0
    created = last - life[-1][0]
    first = next(offset for offset, status in life if status in TERMINAL_STATUSES)
    return created + first, created


def report(
    run: Run, terminal: dict[str, float | None], slowest_sim: float, messages: int, speed: float
) -> dict[str, object]:
    """Compute the figures of one run, in simulated seconds."""
    # Each terminal status counts once: the first one reached, which is when a watch for
    # TERMINAL_STATUSES ends (READ after DELIVERED does not move it).
    delays = [
        (run.yielded_at[m] - t) * speed
        for m, t in terminal.items()
        if t is not None and m in run.yielded_at
    ]
    missed = sum(
        1
        for m, t in terminal.items()
        if t is not None and t < time.monotonic() and m not in run.yielded_at
    )
    floor = messages / RATE_PER_SIM_MINUTE * 60.0
    target = 1.5 * floor + slowest_sim
    return {
        "watcher": run.name,
        "429s": run.rate_limited,
        "requests/message": round(run.requests / messages, 2),
        "p50 delay s": round(percentile(delays, 50), 1),
        "p95 delay s": round(percentile(delays, 95), 1),
        "all resolved s": round(run.elapsed * speed, 1),
        "target s": round(target, 1),
        "terminal not reported": missed,
    }


def print_table(rows: list[dict[str, object]]) -> None:
    """Print rows as an aligned table."""
    headers = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in headers]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[h]).ljust(w) for h, w in zip(headers, widths, strict=True)))


def rss_bytes() -> int:
    """Current resident set size of this process (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


async def memory_child(mode: str, count: int, base_url: str) -> dict[str, float]:
    """Child process: watch ``count`` messages at once, each polled once; report RSS per message."""
    async with AsyncSent(
        api_key=API_KEY, base_url=base_url, rate_limit=None, max_connections=64
    ) as client:
        ids: list[str] = []
        for start in range(0, count, 1000):
            batch = [f"+1555{n:07d}" for n in range(start, min(count, start + 1000))]
            sent = await client.messages.send(to=batch, text="memory run")
            ids.extend(sent.message_ids)
        # Warm up the code paths (and their allocations) before the baseline.
        await client.messages.retrieve_activities(ids[0])
        gc.collect()
        before = rss_bytes()
        slow = PollPolicy(min_interval=3600.0, max_interval=3600.0, jitter=0.0)
        if mode == "watch_many":
            watcher = client.messages.watcher(poll=slow, concurrency=64)
            all_polled = asyncio.Event()

            async def drain() -> None:
                seen = 0
                async for _ in watcher:  # the reader: events are not buffered up unread
                    seen += 1  # one QUEUED event per message once it has been polled
                    if seen == count:
                        all_polled.set()

            async with watcher:
                reader = asyncio.create_task(drain())
                for message_id in ids:
                    watcher.add(message_id)
                await all_polled.wait()
                gc.collect()
                after = rss_bytes()
                reader.cancel()
        else:
            polled = 0
            gate = asyncio.Semaphore(64)
            all_done = asyncio.Event()

            async def one(message_id: str) -> None:
                nonlocal polled
                async with gate:
                    await client.messages.retrieve_activities(message_id)
                polled += 1
                if polled == count:
                    all_done.set()
                await asyncio.sleep(3600.0)

            tasks = [asyncio.create_task(one(m)) for m in ids]
            await all_done.wait()
            gc.collect()
            after = rss_bytes()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return {"bytes_per_message": (after - before) / count}


def memory_run(count: int) -> list[dict[str, object]]:
    """Start a simulator process and measure both modes, each in a fresh child."""
    port = 18000 + (int(time.time()) % 1000)
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "sentdm_async.simulator",
            "--port",
            str(port),
            "--api-key",
            API_KEY,
            "--rate-limit",
            "0",
            "--speed",
            "0.001",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows: list[dict[str, object]] = []
    try:
        time.sleep(1.5)
        for mode in ("watch_many", "task per message"):
            out = subprocess.run(  # noqa: S603 - our own interpreter and script
                [
                    sys.executable,
                    __file__,
                    "--memory-child",
                    mode,
                    "--memory",
                    str(count),
                    "--port",
                    str(port),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(
                {
                    "watcher": mode,
                    "messages": count,
                    "RSS bytes/message": round(result["bytes_per_message"]),
                }
            )
    finally:
        server.terminate()
        server.wait(10)
    return rows


def main() -> None:
    """Parse arguments and run the scenario and/or the memory run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--speed", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--memory", type=int, default=0, help="also run the memory test with N messages"
    )
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        result = asyncio.run(
            memory_child(args.memory_child, args.memory, f"http://127.0.0.1:{args.port}")
        )
        print(json.dumps(result))
        return
    print("$ python " + shlex.join(["benchmarks/bench_watch.py", *sys.argv[1:]]))
    print(
        f"{args.messages} messages, speed x{args.speed:g}, rate limit {RATE_PER_SIM_MINUTE}/min "
        f"burst {BURST} (simulated), timeout {TIMEOUT_SIM:g} s; times in simulated seconds"
    )
    rows = []
    watchers = [run_watch_many] if args.skip_naive else [run_watch_many, run_naive]
    for watcher in watchers:
        run, terminal, slowest = asyncio.run(
            scenario(args.messages, args.speed, args.seed, watcher)
        )
        rows.append(report(run, terminal, slowest, args.messages, args.speed))
    print_table(rows)
    if args.memory:
        print()
        print_table(memory_run(args.memory))


if __name__ == "__main__":
    main()
