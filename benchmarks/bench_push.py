"""Watching 1,000 messages by polling only versus push+poll, with 0%, 5% and 50% of pushes lost.

The same scenario as ``bench_watch.py`` (default rate limit 200 requests per simulated minute,
burst 50; realistic lifecycles; the clock ``--speed`` times faster, every client duration scaled
the same way; timeout 480 simulated seconds so messages stuck at SENT end). The push runs
register an endpoint through ``client.webhooks``; the simulator delivers signed events for every
status change to the real aiohttp receiver, which pushes them into the watcher; a share of
deliveries is dropped (never sent). All runs use the same seed, one after another in this
process, so the figures are side by side.

Reported per run: activity requests per message, 429s, delay from a message turning terminal
to its ``done`` event (p50, p95, simulated seconds), watches that timed out, pushes handed over.

Usage: ``python benchmarks/bench_push.py [--messages 1000] [--speed 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import time

import sentdm_async
from sentdm_async.cli._push import watch_pass


async def main(messages: int, speed: float, seed: int) -> None:
    runs = [
        ("polling only", False, 0.0),
        ("push+poll, 0% lost", True, 0.0),
        ("push+poll, 5% lost", True, 0.05),
        ("push+poll, 50% lost", True, 0.5),
    ]
    print(f"$ {' '.join(sys.argv)}")
    print(f"sentdm_async {sentdm_async.__version__}, Python {platform.python_version()}")
    print(f"{messages} messages, clock x{speed:g}, seed {seed}\n")
    header = (
        f"{'run':22}{'requests/message':>18}{'429s':>6}{'p50 delay s':>13}{'p95 delay s':>13}"
        f"{'timed out':>11}{'pushes':>8}{'real s':>8}"
    )
    print(header)
    for label, push, drop in runs:
        started = time.monotonic()
        result = await watch_pass(
            messages=messages, speed=speed, seed=seed, push=push, drop=drop, label=label
        )
        print(
            f"{label:22}{result.per_message:>18.2f}{result.rate_limited:>6}"
            f"{result.percentile(0.5):>13.1f}{result.percentile(0.95):>13.1f}"
            f"{result.timed_out:>11}{result.pushes:>8}{time.monotonic() - started:>8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--speed", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    asyncio.run(main(options.messages, options.speed, options.seed))
