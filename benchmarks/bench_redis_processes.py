"""Several real processes on one `RedisRateBudget` against the simulator's rate limit.

One run starts a real redis-server and, for each scenario, a fresh simulator in its own process
(its own API key, so its own Redis keys; its rate limit ``--limit`` per minute, bucket ``--burst``)
and ``P`` worker processes. Each worker builds ``RedisRateBudget(redis_url, api_key,
rate_per_minute=--limit)`` and fetches its share of ``--requests`` activity logs with
``client.messages.retrieve_activities_many(ids, concurrency=--concurrency)``; the workers start
together once all are ready. The table gives, per scenario: the requests the simulator served,
its 429s (and when they came, seconds after the first request), the wall time from the start
signal to the last worker's end, the floor (requests / limit), the ratio to the floor, the
share of the limit used, and the Redis round trips per request (the commands clients send, as
``MONITOR`` shows them, without those the budget's script runs inside Redis).

The floor counts every request the limit let through (429s aside) at the limit: the server's
bucket starts full, which lets a run beat the floor by up to ``burst / limit``. "limit used" is
the share of the limit used beyond that bucket: (requests - 429s - burst) / wall time / limit.
Run (about 3 minutes with the defaults: a 60 s floor per scenario)::

    python benchmarks/bench_redis_processes.py [--processes 1 4] [--limit 600] [--requests 600]

``--own`` adds 4 processes with their own budgets (``rate_limit="auto"``), for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal

import redis.asyncio as aioredis

from sentdm_async import AsyncSent, RateBudget
from sentdm_async.redis import RedisRateBudget
from sentdm_async.simulator import Simulator
from sentdm_async.simulator._http import TokenBucket

sys.path.insert(0, str(Path(__file__).parent))
from bench_redis_fallback import redis_binary, redis_server

if TYPE_CHECKING:
    from collections.abc import Iterator

_END: Final = "bench-end"  # echoed to stop counting Redis commands
IDS: Final = 200  # distinct messages; the fetches cycle through them
_run_ids = itertools.count()


# -- the simulator process --


class _TimedBucket(TokenBucket):
    """The simulator's limiter, noting when it refuses (seconds after the first request)."""

    __slots__ = ("first", "rejected_at")

    def __init__(self, limit: int, burst: int) -> None:
        super().__init__(limit, burst)
        self.first: float | None = None
        self.rejected_at: list[float] = []

    def take(self) -> float:
        now = time.monotonic()
        if self.first is None:
            self.first = now
        wait = super().take()
        if wait > 0:
            self.rejected_at.append(now - self.first)
        return wait


async def serve(limit: int, burst: int | None, api_key: str) -> None:
    """Serve a rate-limited simulator; print its URL and ids, then stats on each stdin line."""
    sim = Simulator(api_key=api_key, seed=1, speed=1e9, rate_limit=limit, burst=burst, contacts=0)
    ids = sim.create_messages(IDS)
    bucket = _TimedBucket(limit, burst if burst is not None else min(50, limit))
    sim._bucket = bucket  # the bench times the limiter's refusals
    url = await sim.start("127.0.0.1", 0)
    print(json.dumps({"url": url, "ids": ids}), flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        stats = {"requests": sim.stats.requests, "rejected_at": bucket.rejected_at}
        print(json.dumps(stats), flush=True)
    await sim.close()


# -- a worker process --


async def work(args: argparse.Namespace) -> None:
    """Fetch ``--count`` logs through a shared (or own) budget once told to go; print a summary."""
    ids = list(itertools.islice(itertools.cycle(json.loads(args.ids)), args.count))
    budget: RateBudget | Literal["auto"] = (
        "auto" if args.own else RedisRateBudget(args.redis, args.key, rate_per_minute=args.limit)
    )
    loop = asyncio.get_running_loop()
    async with AsyncSent(api_key=args.key, base_url=args.url, rate_limit=budget) as client:
        print("ready", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)
        errors = 0
        async for result in client.messages.retrieve_activities_many(
            ids, concurrency=args.concurrency
        ):
            errors += result.error is not None
        print(json.dumps({"errors": errors, "ended": time.time()}), flush=True)
    if isinstance(budget, RedisRateBudget):
        await budget.aclose()


# -- the parent --


def _spawn(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - this script, fixed arguments
        [sys.executable, __file__, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _line(process: subprocess.Popen[str]) -> str:
    stdout: IO[str] | None = process.stdout
    assert stdout is not None  # noqa: S101
    line = stdout.readline()
    if not line:
        raise RuntimeError(f"a child process ended early with {process.wait()}")
    return line


def _say(process: subprocess.Popen[str], text: str) -> None:
    stdin = process.stdin
    assert stdin is not None  # noqa: S101
    stdin.write(text + "\n")
    stdin.flush()


@contextlib.contextmanager
def _children() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    try:
        yield processes
    finally:
        for process in processes:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _round_trips(redis_url: str, counted: list[int], ready: asyncio.Event) -> None:
    """Count the commands clients send (not those a script runs) until `_END` is echoed."""
    client = aioredis.from_url(redis_url, socket_timeout=None)  # quiet while budgets are own
    try:
        async with client.monitor() as monitor:
            ready.set()
            while True:
                command = await monitor.next_command()
                if command["command"] == f"ECHO {_END}":
                    return
                if command["client_type"] != "lua":
                    counted[0] += 1
    finally:
        await client.aclose()


async def _end_count(redis_url: str, counter: asyncio.Task[None]) -> None:
    client = aioredis.from_url(redis_url)
    try:
        await client.echo(_END)
    finally:
        await client.aclose()
    await counter


def _workers(
    args: argparse.Namespace, started: dict[str, Any], key: str, redis_url: str, own: bool, n: int
) -> list[subprocess.Popen[str]]:
    """Start ``n`` workers sharing ``--requests`` between them."""
    common = ["--url", started["url"], "--key", key, "--redis", redis_url]
    common += ["--limit", str(args.limit), "--concurrency", str(args.concurrency)]
    common += ["--ids", json.dumps(started["ids"]), *(["--own"] if own else [])]
    shares = [args.requests // n + (i < args.requests % n) for i in range(n)]
    return [_spawn("--role", "worker", *common, "--count", str(share)) for share in shares]


async def scenario(
    args: argparse.Namespace, redis_url: str, processes: int, own: bool
) -> dict[str, Any]:
    """Run one scenario: a fresh simulator and ``processes`` workers; return its figures."""
    key = f"sk_bench_processes_{os.getpid()}_{next(_run_ids)}"
    burst = [] if args.burst is None else ["--burst", str(args.burst)]
    with _children() as children:
        server = _spawn("--role", "server", "--key", key, "--limit", str(args.limit), *burst)
        children.append(server)
        workers = _workers(args, json.loads(_line(server)), key, redis_url, own, processes)
        children.extend(workers)
        for worker in workers:
            await asyncio.to_thread(_line, worker)  # "ready"
        counted, ready = [0], asyncio.Event()
        counter = asyncio.create_task(_round_trips(redis_url, counted, ready))
        await ready.wait()
        go = time.time()
        for worker in workers:
            _say(worker, "go")
        ends = [json.loads(await asyncio.to_thread(_line, worker)) for worker in workers]
        _say(server, "stats")
        stats = json.loads(_line(server))
        await _end_count(redis_url, counter)
    wall = max(end["ended"] for end in ends) - go
    served = stats["requests"] - len(stats["rejected_at"])  # what the limit let through
    bucket = args.burst if args.burst is not None else min(50, args.limit)
    return {
        "processes": processes,
        "budget": "own (auto)" if own else "one Redis",
        "requests": stats["requests"],
        "429s": len(stats["rejected_at"]),
        "rejected_at": stats["rejected_at"],
        "errors": sum(end["errors"] for end in ends),
        "wall": wall,
        "floor": served / args.limit * 60,
        # The share of the limit used after the server's full bucket at the start.
        "sustained": max(0, served - bucket) / wall / (args.limit / 60),
        "redis": counted[0] / max(1, stats["requests"]),
    }


def _report(rows: list[dict[str, Any]]) -> None:
    head = f"{'processes':>9}  {'budget':<11}{'requests':>9}{'429s':>6}{'errors':>7}{'wall s':>8}"
    print(f"{head}{'floor s':>8}{'x floor':>8}{'limit used':>11}{'redis/req':>10}")
    for r in rows:
        line = f"{r['processes']:>9}  {r['budget']:<11}{r['requests']:>9}{r['429s']:>6}"
        line += f"{r['errors']:>7}{r['wall']:>8.1f}{r['floor']:>8.1f}{r['wall'] / r['floor']:>8.3f}"
        print(f"{line}{r['sustained']:>11.1%}{r['redis']:>10.2f}")
    for r in rows:
        if r["rejected_at"]:
            times = ", ".join(f"{t:.1f}" for t in r["rejected_at"][:12])
            more = " ..." if len(r["rejected_at"]) > 12 else ""
            print(f"429s of {r['processes']} x {r['budget']} at s: {times}{more}")


async def main(args: argparse.Namespace) -> None:
    """Run every scenario against one redis-server and print the table."""
    print("$", shlex.join(["python", *sys.argv]))
    print(f"redis-py {metadata.version('redis')}, {redis_binary()}, {os.cpu_count()} CPUs")
    burst = args.burst if args.burst is not None else min(50, args.limit)
    print(
        f"simulator limit {args.limit}/min burst {burst}; {args.requests} requests per scenario, "
        f"concurrency {args.concurrency} per process"
    )
    plan = [(p, False) for p in args.processes] + ([(4, True)] if args.own else [])
    with redis_server() as (redis_url, _):
        rows = [await scenario(args, redis_url, p, own) for p, own in plan]
    _report(rows)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--limit", type=int, default=600, help="simulator limit per minute (600)")
    parser.add_argument("--burst", type=int, default=None, help="simulator bucket (min(50, limit))")
    parser.add_argument("--requests", type=int, default=600, help="fetches per scenario (600)")
    parser.add_argument("--concurrency", type=int, default=16, help="per process (16)")
    parser.add_argument("--own", action="store_true", help="add 4 processes with own budgets")
    parser.add_argument("--role", choices=["main", "server", "worker"], default="main")
    for name in ("--url", "--key", "--redis", "--ids"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    options = _parser().parse_args()
    if options.role == "server":
        asyncio.run(serve(options.limit, options.burst, options.key))
    elif options.role == "worker":
        asyncio.run(work(options))
    else:
        asyncio.run(main(options))
