"""Bulk activity-log fetching: sentdm_async against a raw aiohttp floor and the official SDK.

One run starts the simulator in its own process, creates the messages over HTTP, then runs each
client in a fresh subprocess (so CPU time and peak RSS are that client's alone), all at the same
concurrency against the same server:

    a  sentdm_async: retrieve_activities_many, default client (retries, error mapping and a
       TokenBucket budget all on; the bucket is sized so it never throttles)
    b  raw aiohttp + msgspec: one ClientSession, a pool of workers, a minimal Struct decoder;
       the floor for a Python asyncio client
    c  official SDK (``sentdm``): AsyncSent with its default httpx transport
    d  official SDK: AsyncSent with DefaultAioHttpClient
    e  client (a) with OpenTelemetry on (`sentdm_async.otel.instrument`): the SDK's tracer
       provider with a batch processor and an exporter that drops, and its meter provider with
       an in-memory reader (run it with ``--clients ae``; needs ``opentelemetry-sdk``)

Then a memory run: client (a) streaming ``--n`` ids and ``--memory-n`` ids (the created ids
cycled lazily, so every request is a real 200 through the same code path), reporting the
peak-RSS difference.

Usage: ``python benchmarks/bench_bulk.py [--n 20000] [--repeat 5] [--uvloop] ...`` (see ``--help``
and benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import itertools
import json
import math
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

API_KEY: Final = "sk_bench_0123456789abcdef"
CLIENTS: Final = {
    "a": "sentdm_async bulk",
    "b": "raw aiohttp+msgspec",
    "c": "sentdm SDK, httpx",
    "d": "sentdm SDK, aiohttp",
    "e": "sentdm_async + OTel",
}
FLOOR: Final = "b"
#: Targets reported (not asserted): CPU of (a) per fetch vs the floor, as the median of the
#: ratios of runs paired by round (each pair on the same machine state), and RSS growth with N.
CPU_TARGET: Final = 1.10
CPU_AIM: Final = 1.05
RSS_TARGET_MIB: Final = 16.0
SEND_BATCH: Final = 1000  # the API's (and simulator's) most recipients per send
MIB: Final = 1024 * 1024


# -- the clients (each runs in its own child process) --


class Runner(Protocol):
    """One client under test: fetch every id's activity log at a fixed concurrency."""

    async def fetch(self, ids: Iterable[str]) -> tuple[int, int]:
        """Fetch every id; return (ok, failed)."""
        ...

    async def aclose(self) -> None:
        """Release the client's connections."""
        ...


class OursRunner:
    """(a) `retrieve_activities_many` with retries, error mapping and a (never-full) budget."""

    def __init__(self, base_url: str, concurrency: int, *, otel: bool = False) -> None:
        from sentdm_async import AsyncSent, TokenBucket

        self.concurrency = concurrency
        # A real TokenBucket on every request, sized so it never makes anyone wait.
        budget = TokenBucket(10_000_000, burst=10_000)
        self.client = AsyncSent(api_key=API_KEY, base_url=base_url, rate_limit=budget)
        if otel:
            _instrument(self.client)

    async def fetch(self, ids: Iterable[str]) -> tuple[int, int]:
        """Stream every id through `retrieve_activities_many`."""
        ok = failed = 0
        stream = self.client.messages.retrieve_activities_many(ids, concurrency=self.concurrency)
        async for result in stream:
            if result.error is None:
                ok += 1
            else:
                failed += 1
        return ok, failed

    async def aclose(self) -> None:
        """Close the client."""
        await self.client.aclose()


def _instrument(client: Any) -> None:
    """Turn OpenTelemetry on as an application would: SDK providers, spans batched and dropped."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from sentdm_async.otel import instrument

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Drop()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    instrument(client, tracer_provider=tracer_provider, meter_provider=meter_provider)


async def _pool(
    ids: Iterable[str], concurrency: int, fetch_one: Callable[[str], Any]
) -> tuple[int, int]:
    """Run ``fetch_one`` over ``ids`` with ``concurrency`` workers; count True/False answers."""
    source = iter(ids)
    counts = [0, 0]

    async def worker() -> None:
        for message_id in source:  # one shared iterator: each id goes to exactly one worker
            if await fetch_one(message_id):
                counts[0] += 1
            else:
                counts[1] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return counts[0], counts[1]


class RawActivity(msgspec.Struct):
    """The floor decodes only what a caller needs at minimum."""

    status: str


class RawLog(msgspec.Struct):
    """``data`` of an activities response, minimal."""

    message_id: str
    activities: list[RawActivity]


class RawEnvelope(msgspec.Struct):
    """The response envelope, minimal."""

    data: RawLog | None = None


class RawRunner:
    """(b) the floor: aiohttp + msgspec with nothing else (no retries, budget or mapping)."""

    def __init__(self, base_url: str, concurrency: int) -> None:
        import aiohttp

        self.concurrency = concurrency
        self.prefix = f"{base_url}/v3/messages/"
        self.decoder = msgspec.json.Decoder(RawEnvelope)
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency),
            headers={"x-api-key": API_KEY, "Accept": "application/json"},
        )

    async def _one(self, message_id: str) -> bool:
        async with self.session.get(f"{self.prefix}{message_id}/activities") as resp:
            body = await resp.read()
        if resp.status != 200:
            return False
        return self.decoder.decode(body).data is not None

    async def fetch(self, ids: Iterable[str]) -> tuple[int, int]:
        """Fetch every id with a pool of workers."""
        return await _pool(ids, self.concurrency, self._one)

    async def aclose(self) -> None:
        """Close the session."""
        await self.session.close()


class SdkRunner:
    """(c)/(d) the official SDK's AsyncSent, default options, httpx or aiohttp transport."""

    def __init__(self, base_url: str, concurrency: int, *, use_aiohttp: bool) -> None:
        import sent_dm

        self.concurrency = concurrency
        self.api_error = sent_dm.APIError
        http_client = sent_dm.DefaultAioHttpClient() if use_aiohttp else None
        self.client = sent_dm.AsyncSent(
            api_key=API_KEY,
            base_url=base_url,
            max_retries=sent_dm.DEFAULT_MAX_RETRIES,
            http_client=http_client,
        )

    async def _one(self, message_id: str) -> bool:
        try:
            await self.client.messages.retrieve_activities(message_id)
        except self.api_error:
            return False
        return True

    async def fetch(self, ids: Iterable[str]) -> tuple[int, int]:
        """Fetch every id with a pool of workers."""
        return await _pool(ids, self.concurrency, self._one)

    async def aclose(self) -> None:
        """Close the client."""
        await self.client.close()


def make_runner(kind: str, base_url: str, concurrency: int) -> Runner:
    """Build the client ``kind`` (a key of `CLIENTS`)."""
    if kind in ("a", "e"):
        return OursRunner(base_url, concurrency, otel=kind == "e")
    if kind == "b":
        return RawRunner(base_url, concurrency)
    return SdkRunner(base_url, concurrency, use_aiohttp=kind == "d")


def peak_rss_bytes() -> int:
    """This process's peak resident set size (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


async def child(args: argparse.Namespace, ids: list[str]) -> dict[str, Any]:
    """Warm up, then time ``args.n`` fetches of one client; return the measurements."""
    runner = make_runner(args.child, args.base_url, args.concurrency)
    try:
        # Warm-up: connections opened, lazy imports and schema building done, caches filled.
        await runner.fetch(ids[: args.warmup])
        stream: Iterator[str] = itertools.islice(itertools.cycle(ids), args.n)
        usage0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        ok, failed = await runner.fetch(stream)
        usage, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall0
        user, system = usage.ru_utime - usage0.ru_utime, usage.ru_stime - usage0.ru_stime
    finally:
        await runner.aclose()
    return {
        "client": args.child,
        "n": args.n,
        "ok": ok,
        "failed": failed,
        "wall": wall,
        "cpu": user + system,
        "user": user,
        "sys": system,
        "rss": peak_rss_bytes(),
    }


def run_child(args: argparse.Namespace) -> None:
    """Entry point of a child process: print one JSON line of measurements."""
    if args.uvloop:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    else:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        print(json.dumps(runner.run(child(args, Path(args.ids_file).read_text().split()))))


# -- the harness (parent process) --


class SimulatorProcess:
    """``python -m sentdm_async.simulator`` in a subprocess, with no rate limit."""

    def __init__(self, *, speed: float) -> None:
        command = [
            sys.executable,
            "-m",
            "sentdm_async.simulator",
            "--port",
            "0",
            "--rate-limit",
            "0",
            "--api-key",
            API_KEY,
            "--speed",
            f"{speed:g}",
        ]
        self.command = shlex.join(command)
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
        assert self.proc.stdout is not None  # noqa: S101 - stdout=PIPE above
        line = self.proc.stdout.readline()  # printed once the socket listens
        match = re.search(r"listening on (http://\S+)", line)
        if match is None:
            self.stop()
            raise RuntimeError(f"simulator did not start: {line!r}")
        self.base_url = match.group(1)

    def stop(self) -> None:
        """Stop the simulator (SIGTERM: it holds nothing to clean up; Ctrl-C may be ignored)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


async def create_messages(base_url: str, count: int) -> list[str]:
    """Create ``count`` messages with ``POST /v3/messages`` (1000 recipients a call)."""
    from sentdm_async import AsyncSent

    ids: list[str] = []
    async with AsyncSent(api_key=API_KEY, base_url=base_url, rate_limit=None) as client:
        for start in range(0, count, SEND_BATCH):
            size = min(SEND_BATCH, count - start)
            to = [f"+1555{start + i:07d}" for i in range(size)]
            sent = await client.messages.send(to=to, text="benchmark", channel="sms")
            ids.extend(sent.message_ids)
    return ids


def spawn(args: argparse.Namespace, base_url: str, ids_file: str, kind: str, n: int) -> Any:
    """Run one client in a fresh interpreter and return its measurements."""
    return finish(start(args, base_url, ids_file, kind, n), kind, n)


def spawn_together(
    args: argparse.Namespace, base_url: str, ids_file: str, kinds: list[str]
) -> list[Any]:
    """Run the clients ``kinds`` at the same time, each in its own interpreter (``--together``)."""
    procs = [start(args, base_url, ids_file, kind, args.n) for kind in kinds]
    return [finish(proc, kind, args.n) for proc, kind in zip(procs, kinds, strict=True)]


def start(
    args: argparse.Namespace, base_url: str, ids_file: str, kind: str, n: int
) -> subprocess.Popen[str]:
    """Start one client's interpreter."""
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--base-url",
        base_url,
        "--ids-file",
        ids_file,
        "--n",
        str(n),
        "--warmup",
        str(args.warmup),
        "--concurrency",
        str(args.concurrency),
    ]
    if args.uvloop:
        command.append("--uvloop")
    return subprocess.Popen(  # noqa: S603 - our own interpreter and script
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str], kind: str, n: int) -> Any:
    """Wait for one client's interpreter and return its measurements."""
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        sys.stderr.write(stderr)
        raise RuntimeError(f"client {kind} failed with exit status {proc.returncode}")
    result = json.loads(stdout.strip().splitlines()[-1])
    if result["ok"] != n or result["failed"]:
        raise RuntimeError(
            f"client {kind}: {result['ok']} of {n} fetched, {result['failed']} failed"
        )
    return result


def header(args: argparse.Namespace, sim: SimulatorProcess, kinds: list[str]) -> None:
    """Print what was run, on what, so a table can be reproduced."""
    names = ("sentdm-async", "aiohttp", "msgspec", "sentdm", "httpx", "pydantic")
    versions = ", ".join(f"{name} {_version(name)}" for name in names)
    loop = f"uvloop {_version('uvloop')}" if args.uvloop else "asyncio"
    print(f"# command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"# simulator: {sim.command}")
    print(f"# python {platform.python_version()} on {platform.platform()}, {_cpus()}, loop: {loop}")
    print(f"# {versions}")
    sdk = f", SDK clients {args.sdk_n}" if {"c", "d"} & set(kinds) else ""
    print(
        f"# timed fetches per run: {args.n}{sdk} (after {args.warmup} untimed); concurrency "
        f"{args.concurrency}; median of {args.repeat} runs; each run a fresh process"
    )
    print()


def _cpus() -> str:
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{count} CPUs"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def per_1k_ms(sample: dict[str, Any]) -> float:
    """CPU milliseconds per 1,000 fetches of one run."""
    return float(sample["cpu"]) / int(sample["n"]) * 1e6


def _split(sample: dict[str, Any]) -> str:
    scale = 1e6 / int(sample["n"])
    return f"{per_1k_ms(sample):.0f}({sample['user'] * scale:.0f}+{sample['sys'] * scale:.0f})"


def throughput_table(runs: dict[str, list[dict[str, Any]]]) -> float:
    """Print the per-client medians; return (a)'s CPU-per-fetch ratio to the floor (b)."""
    rows: dict[str, tuple[int, float, float, float]] = {}
    for kind, samples in runs.items():
        rows[kind] = (
            samples[0]["n"],
            statistics.median(s["n"] / s["wall"] for s in samples),
            statistics.median(per_1k_ms(s) for s in samples),
            statistics.median(s["rss"] for s in samples) / MIB,
        )
    _, floor_rate, floor_cpu, floor_rss = rows[FLOOR]
    columns = (
        f"{'client':<24}{'fetches':>8}{'req/s':>8}{'x b':>7}{'CPU ms/1k':>11}{'x b':>7}"
        f"{'peak RSS MiB':>14}{'x b':>7}"
    )
    print(columns)
    print("-" * len(columns))
    for kind, (n, rate, cpu, rss) in rows.items():
        print(
            f"{kind + ') ' + CLIENTS[kind]:<24}{n:>8}{rate:>8.0f}{rate / floor_rate:>7.2f}"
            f"{cpu:>11.0f}{cpu / floor_cpu:>7.2f}{rss:>14.1f}{rss / floor_rss:>7.2f}"
        )
    print("\nCPU ms/1k of each run, in run order (user + system):")
    for kind, samples in runs.items():
        print(f"  {kind}: {' '.join(_split(s) for s in samples)}")
    return paired_ratio(runs)


def paired_ratio(runs: dict[str, list[dict[str, Any]]]) -> float:
    """Print the CPU ratio a / b of each round (a and b ran back to back); return the median.

    A shared machine's load drifts over minutes; within one round a and b run one after the
    other, so each round's ratio compares them on about the same machine state.
    """
    if "a" not in runs:
        return math.nan
    medians = {}
    for kind in [k for k in ("a", "e") if k in runs]:  # e: client a with OpenTelemetry on
        ratios = [per_1k_ms(x) / per_1k_ms(b) for x, b in zip(runs[kind], runs[FLOOR], strict=True)]
        print(f"\nCPU {kind} / b, pair by pair: {' '.join(f'{r:.3f}' for r in ratios)}")
        medians[kind] = statistics.median(ratios)
        print(f"  median {medians[kind]:.3f}")
    return medians["a"]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with the internal ``--child``, one client)."""
    parser = argparse.ArgumentParser(
        description="Bulk activity-log fetching: sentdm_async vs raw aiohttp vs the official SDK."
    )
    parser.add_argument(
        "--n", type=int, default=20_000, help="timed fetches per run of a and b (20000)"
    )
    parser.add_argument(
        "--sdk-n",
        type=int,
        default=2_000,
        help="timed fetches per run of the SDK clients c and d, which are much slower (2000)",
    )
    parser.add_argument(
        "--warmup", type=int, default=500, help="untimed fetches first, every run (500)"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight (64)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per client; medians are shown (5)"
    )
    parser.add_argument("--clients", default="abcd", help="clients to run, e.g. 'ab' (abcd)")
    parser.add_argument(
        "--memory-n",
        type=int,
        default=200_000,
        help="ids streamed by the memory run's big job (vs --n); 0 skips the memory run (200000)",
    )
    parser.add_argument("--uvloop", action="store_true", help="run the clients on uvloop")
    parser.add_argument(
        "--together",
        action="store_true",
        help="run a and b of each round at the same time (only with --clients ab): both see "
        "the same machine state, for the paired CPU ratio on a shared, noisy machine",
    )
    # Internal: run one client in this (child) process.
    parser.add_argument("--child", choices=sorted(CLIENTS), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--ids-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args)
        return 0

    kinds = [kind for kind in CLIENTS if kind in args.clients or kind == FLOOR]  # ratios need b
    if args.together and kinds != ["a", FLOOR]:
        parser.error("--together runs clients a and b only: pass --clients ab")
    if {"c", "d"} & set(kinds) and importlib.util.find_spec("sent_dm") is None:
        sys.stderr.write("sentdm (the official SDK) is not installed: skipping c and d\n")
        sys.stderr.write("  install it with: pip install -e '.[dev,cli,bench]'\n")
        kinds = [kind for kind in kinds if kind not in ("c", "d")]
    # A huge speed ends every message's lifecycle at once, so each client fetches logs of the
    # same length however late in the run it goes.
    sim = SimulatorProcess(speed=1e9)
    try:
        header(args, sim, kinds)
        ids = asyncio.run(create_messages(sim.base_url, max(args.n, args.sdk_n, args.warmup)))
        with tempfile.TemporaryDirectory() as tmp:
            ids_file = str(Path(tmp) / "ids.txt")
            Path(ids_file).write_text("\n".join(ids))
            runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
            for rep in range(args.repeat):
                if args.together:  # a and b at once: one machine state for the pair, exactly
                    for kind, sample in zip(
                        kinds, spawn_together(args, sim.base_url, ids_file, kinds), strict=True
                    ):
                        runs[kind].append(sample)
                    sys.stderr.write(f"  round {rep + 1}/{args.repeat} done\n")
                    continue
                # Rotate the order every round, so drift on a shared machine hits every client.
                for kind in kinds[rep % len(kinds) :] + kinds[: rep % len(kinds)]:
                    n = args.sdk_n if kind in ("c", "d") else args.n
                    runs[kind].append(spawn(args, sim.base_url, ids_file, kind, n))
                    sys.stderr.write(f"  run {rep + 1}/{args.repeat} of {kind} done\n")
            ratio = throughput_table(runs)
            rss_delta = math.nan
            if args.memory_n:
                small_n, big_n = args.n, args.memory_n
                print(
                    f"\nMemory: peak RSS of client a streaming {small_n} vs {big_n} ids "
                    f"(the {len(ids)} created ids cycled lazily, so every fetch is a real 200)"
                )
                small = spawn(args, sim.base_url, ids_file, "a", small_n)
                big = spawn(args, sim.base_url, ids_file, "a", big_n)
                rss_delta = (big["rss"] - small["rss"]) / MIB
                print(f"  {small_n:>8} ids: {small['rss'] / MIB:7.1f} MiB")
                print(f"  {big_n:>8} ids: {big['rss'] / MIB:7.1f} MiB")
                print(f"  difference: {rss_delta:+.1f} MiB")
    finally:
        sim.stop()

    print("\nTargets (reported, not asserted):")
    if "a" in kinds:
        verdict = "met" if ratio <= CPU_TARGET else "MISSED"
        print(
            f"  CPU per 1,000 fetches, a / b, median of the paired ratios = {ratio:.3f} "
            f"(target <= {CPU_TARGET}, aim {CPU_AIM}): {verdict}"
        )
    if args.memory_n:
        verdict = "met" if rss_delta < RSS_TARGET_MIB else "MISSED"
        print(
            f"  peak RSS, {args.memory_n} ids - {args.n} ids = {rss_delta:+.1f} MiB "
            f"(target < {RSS_TARGET_MIB:g} MiB): {verdict}"
        )
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
