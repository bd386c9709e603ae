"""Gap filling when pushes go missing: push+poll against polling only, in one run.

The scenario of issue 15: 300 messages whose SENT -> DELIVERED delay is lognormal (median 10 s,
p90 36 s), 200 requests per minute, a real aiohttp receiver taking the simulator's signed
webhooks into the watcher. Every duration is compressed by ``--speed``: the simulator's clock
and every duration of the watcher's policy (``overdue_after`` included). Runs, one after another
with the same seed, so the figures are side by side:

- polling only (``watch_many``-style, no receiver);
- push+poll, 5% of deliveries lost;
- push+poll, 50% of deliveries lost;
- push+poll, the endpoint dies 6 s in (every later delivery lost).

Each push run is made with the adaptive gap filling (the default) and, for comparison, with
``PollPolicy(gap_fill="fixed")`` (poll after ``overdue_after`` x status factor of silence, the
rule before this change) unless ``--adaptive-only``. Reported: activity requests per message,
429s, delay from a message turning terminal to its ``done`` event (p50/p95, simulated seconds),
terminal statuses not found (timed out), pushes handed over.

Usage: ``python benchmarks/bench_gapfill.py [--messages 300] [--speed 10] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import time

import sentdm_async
from sentdm_async.cli._push import watch_pass
from sentdm_async.simulator import OutcomeMix

#: Every message reaches a terminal status; SENT -> terminal lognormal, median 10 s, p90 36 s
#: (the simulator's FAILED delays are uniform, so failures come before SENT here: BLOCKED,
#: FILTERED).
MIX = OutcomeMix(
    delivered=0.96,
    read=0.0,
    failed=0.0,
    blocked=0.02,
    filtered=0.02,
    no_receipt=0.0,
    delivery_median=10.0,
    delivery_sigma=1.0,
)


async def main(messages: int, speed: float, seed: int, adaptive_only: bool) -> None:
    runs: list[tuple[str, dict[str, object]]] = [("polling only", {"push": False})]
    modes = ["adaptive"] if adaptive_only else ["adaptive", "fixed"]
    for mode in modes:
        runs += [
            (f"{mode}, 5% lost", {"push": True, "drop": 0.05, "gap_fill": mode}),
            (f"{mode}, 50% lost", {"push": True, "drop": 0.5, "gap_fill": mode}),
            (f"{mode}, dies at 6 s", {"push": True, "die_after": 6.0, "gap_fill": mode}),
        ]
    print(f"$ {' '.join(sys.argv)}")
    print(f"sentdm_async {sentdm_async.__version__}, Python {platform.python_version()}")
    print(f"{messages} messages, clock x{speed:g}, seed {seed}\n")
    print(
        f"{'run':24}{'requests/msg':>13}{'429s':>6}{'p50 delay s':>13}{'p95 delay s':>13}"
        f"{'not found':>11}{'pushes':>8}{'real s':>8}"
    )
    for label, options in runs:
        started = time.monotonic()
        result = await watch_pass(
            messages=messages,
            speed=speed,
            seed=seed,
            label=label,
            mix=MIX,
            expect_pushes=True,
            **options,  # type: ignore[arg-type]
        )
        print(
            f"{label:24}{result.per_message:>13.2f}{result.rate_limited:>6}"
            f"{result.percentile(0.5):>13.1f}{result.percentile(0.95):>13.1f}"
            f"{result.timed_out:>11}{result.pushes:>8}{time.monotonic() - started:>8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--adaptive-only", action="store_true")
    options = parser.parse_args()
    asyncio.run(main(options.messages, options.speed, options.seed, options.adaptive_only))
