"""Bulk jobs on real taskiq workers over a real redis-server: killed, SIGTERMed, Redis failing."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import anyio
import pytest
import redis.asyncio as aioredis
from taskiq.receiver import Receiver

from sentdm_async.errors import JobMismatchError, JobNotFoundError
from sentdm_async.simulator import Simulator
from sentdm_async.workers import (
    ChunkBroker,
    ChunkTask,
    enqueue,
    make_broker,
    progress,
    register,
    results,
    wait,
)

from .conftest import API_KEY
from .redis_server import RedisServer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path
    from types import ModuleType

TASKS = textwrap.dedent(
    """
    import os
    from sentdm_async.workers import make_broker, register

    broker = make_broker(
        os.environ["JOB_REDIS"],
        queue_name=os.environ["JOB_QUEUE"],
        idle_timeout_ms=int(os.environ["JOB_IDLE_MS"]),
    )
    fetch_chunk = register(
        broker,
        api_key=os.environ["JOB_KEY"],
        redis_url=os.environ["JOB_REDIS"],
        base_url=os.environ["JOB_BASE"],
        rate_per_minute=float(os.environ["JOB_RATE"]),
        burst=10,
    )
    """
)
IDLE_MS = 2000


def load_tasks(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("jobtasks", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start_worker(folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "taskiq",
            "worker",
            "jobtasks:broker",
            "--workers",
            "1",
            "--no-configure-logging",
            "--ack-type",
            "when_executed",  # what lost failed chunks before; the chunk task's label overrides it
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its child processes die with it
    )


class Job:
    """Worker processes on one queue, the tasks module loaded here too (the producer)."""

    def __init__(
        self, folder: Path, redis_url: str, base_url: str, rate: float, idle_ms: int = IDLE_MS
    ) -> None:
        self.folder = folder
        self.redis_url = redis_url
        self.env = {
            **os.environ,
            "JOB_REDIS": redis_url,
            "JOB_QUEUE": f"jobs-{folder.name}",
            "JOB_IDLE_MS": str(idle_ms),
            "JOB_KEY": API_KEY,
            "JOB_BASE": base_url,
            "JOB_RATE": str(rate),
            "PYTHONPATH": f"{folder}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        }
        self.workers: list[subprocess.Popen[bytes]] = []

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        worker = start_worker(self.folder, {**self.env, **env})
        self.workers.append(worker)
        return worker

    async def wait(self, job_id: str, seen: list[tuple[int, int]] | None = None) -> None:
        with anyio.fail_after(60):
            await wait(
                self.tasks.fetch_chunk,
                self.redis_url,
                API_KEY,
                job_id,
                interval=0.1,
                on_progress=None if seen is None else lambda done, of: seen.append((done, of)),
            )

    @contextlib.asynccontextmanager
    async def running(self, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Job]:
        for name, value in self.env.items():
            if name.startswith("JOB_"):
                monkeypatch.setenv(name, value)
        (self.folder / "jobtasks.py").write_text(TASKS)
        self.tasks = load_tasks(self.folder / "jobtasks.py")
        try:
            await self.tasks.broker.startup()
            yield self
        finally:
            for worker in self.workers:
                if worker.poll() is None:
                    os.killpg(worker.pid, signal.SIGKILL)
                await asyncio.to_thread(worker.wait)
            await self.tasks.broker.shutdown()


async def activities_when(sim: Simulator, at_least: int) -> None:
    """Return once the simulator has served ``at_least`` activity requests."""
    with anyio.fail_after(60):
        while sim.stats.by_route["activities"] < at_least:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("kill", [False, True], ids=["no-kill", "one-killed"])
async def test_two_workers_spend_at_most_1_1_requests_per_id(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill: bool
) -> None:
    """Two workers under taskiq's default --max-async-tasks fetch 300 ids in 30 chunks once.

    The chunks run together on one shared budget, far longer than the idle timeout: the lease
    keeps them from being handed out again. A worker SIGKILLed a third of the way in costs only
    the requests it had in flight. Every id answered, no 429, at most 1.1 requests per id.
    """
    async with Simulator(api_key=API_KEY, rate_limit=6000, burst=20, latency=0.02) as sim:
        ids = sim.create_messages(300)
        job_id = f"job-{kill}"  # the tests share one redis-server
        job = Job(tmp_path, redis_server.url, sim.base_url, rate=3000)
        async with job.running(monkeypatch):
            workers = [job.start(), job.start()]
            total = await enqueue(
                job.tasks.fetch_chunk, redis_server.url, API_KEY, job_id, ids, chunk_size=10
            )
            assert total == 30
            if kill:
                await activities_when(sim, 100)
                os.killpg(workers[0].pid, signal.SIGKILL)  # mid-job, with chunks in hand
            seen: list[tuple[int, int]] = []
            await job.wait(job_id, seen)
        answers = await results(redis_server.url, API_KEY, job_id)
        requests = sim.stats.by_route["activities"]
    assert set(answers) == set(ids)
    assert all(answer["ok"] for answer in answers.values())
    assert seen[-1] == (30, 30)
    assert sim.stats.rate_limited == 0  # the workers shared one budget
    assert requests <= 1.1 * len(ids), f"{requests} activity requests for {len(ids)} ids"
    if kill:
        assert workers[0].returncode == -signal.SIGKILL


async def test_a_sigtermed_worker_exits_at_once_and_its_chunks_are_redone(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM stops a worker busy with many chunks within seconds, not when they finish.

    Its chunks, running or only read, are handed back unacknowledged as it stops: a second
    worker finishes them from the answers already stored well before the 30 s idle timeout
    (after which it would take over a dead worker's chunks).
    """
    async with Simulator(api_key=API_KEY, rate_limit=6000, burst=20) as sim:
        ids = sim.create_messages(200)
        job = Job(tmp_path, redis_server.url, sim.base_url, rate=300, idle_ms=30_000)  # 40 s
        async with job.running(monkeypatch):
            slow = job.start()
            await enqueue(
                job.tasks.fetch_chunk, redis_server.url, API_KEY, "sigterm", ids, chunk_size=10
            )
            await activities_when(sim, 20)
            os.killpg(slow.pid, signal.SIGTERM)
            returncode = await asyncio.to_thread(slow.wait, 15)  # TimeoutExpired: a hang
            with anyio.fail_after(15):  # half the idle timeout, worker start-up included
                job.start(JOB_RATE="6000")
                await job.wait("sigterm")
        answers = await results(redis_server.url, API_KEY, "sigterm")
        requests = sim.stats.by_route["activities"]
    assert returncode == 0
    assert set(answers) == set(ids)
    assert requests <= 1.1 * len(ids)


class SwallowingConnection(aioredis.Connection):
    """A Redis connection that, once armed, swallows a cancellation during a command.

    What redis-py 8 did with the one cancellation taskiq sends to stop a worker's read.
    """

    armed = False

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        if self.armed:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.2)  # a command in flight when the cancellation lands
        return await super().read_response(*args, **kwargs)


async def test_a_cancellation_lost_inside_redis_still_stops_the_listener(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one cancellation taskiq sends to stop reading ends `listen` even if it is swallowed.

    redis-py 8 can swallow it inside a command; the loop then polled forever and a SIGTERMed
    worker never exited. Here the Redis connection swallows it the same way.
    """
    broker = ChunkBroker(  # redis-py's own hook: the connection class of the broker's pool
        redis_server.url, queue_name="lost-cancel", connection_class=SwallowingConnection
    )
    await broker.startup()
    monkeypatch.setattr(SwallowingConnection, "armed", True)  # unarmed again after the test
    messages = broker.listen()
    try:
        reading = asyncio.ensure_future(anext(messages))
        await asyncio.sleep(0.05)
        reading.cancel()
        await asyncio.wait({reading}, timeout=5)
        assert reading.cancelled()
        assert broker.stopping  # the finally ran: running chunks cancelled
    finally:
        await messages.aclose()
        await broker.shutdown()


@contextlib.asynccontextmanager
async def in_process_worker(
    redis_url: str, base_url: str, queue: str, **options: int
) -> AsyncIterator[tuple[ChunkBroker, ChunkTask]]:
    """A real taskiq Receiver listening in this process (fast), with its own broker."""
    broker = make_broker(redis_url, queue_name=queue, idle_timeout_ms=IDLE_MS)
    broker.is_worker_process = True
    register(broker, api_key=API_KEY, redis_url=redis_url, base_url=base_url, **options)
    producer = make_broker(redis_url, queue_name=queue, idle_timeout_ms=IDLE_MS)
    task = register(producer, api_key=API_KEY, redis_url=redis_url, base_url=base_url)
    await producer.startup()
    receiver = Receiver(broker, max_async_tasks=100)
    finish = asyncio.Event()
    listening = asyncio.create_task(receiver.listen(finish))
    try:
        yield broker, task
    finally:
        finish.set()
        await listening
        await broker.shutdown()
        await producer.shutdown()


@contextlib.contextmanager
def fresh_redis(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("attempts", [5, 1], ids=["retried-in-place", "handed-back"])
async def test_no_chunk_is_lost_while_redis_answers_oom(tmp_path: Path, attempts: int) -> None:
    """Redis refusing writes (OOM) for 3 s mid-job: the failing chunks raise, none is lost.

    With retries the chunk writes again after a backoff; with one attempt it is handed back
    unacknowledged and a worker claims it again. `wait` returns, every id is answered, nothing
    stays pending, and no id is fetched again: the answers Redis refused stay in the worker's
    memory and are written first when it tries the chunk again (before, 3 s of OOM cost 250
    requests for 200 ids).

    The budget (3000/min, burst 10) makes the job take seconds, not the 45 s of the default
    200/min.
    """
    options = {"attempts": attempts, "rate_per_minute": 3000, "burst": 10}
    with fresh_redis(tmp_path) as server:
        async with Simulator(api_key=API_KEY, rate_limit=6000, burst=20, latency=0.01) as sim:
            ids = sim.create_messages(200)
            async with in_process_worker(server.url, sim.base_url, "oom", **options) as (
                _,
                task,
            ):
                await enqueue(task, server.url, API_KEY, "job", ids, chunk_size=10)
                await activities_when(sim, 40)
                admin = aioredis.from_url(server.url)
                try:
                    await admin.config_set("maxmemory-policy", "noeviction")
                    await admin.config_set("maxmemory", 1)
                    await asyncio.sleep(3)
                    await admin.config_set("maxmemory", 0)
                    with anyio.fail_after(60):
                        await wait(task, server.url, API_KEY, "job", interval=0.1)
                    pending = await admin.xpending("oom", "taskiq")
                finally:
                    await admin.aclose()
            answers = await results(server.url, API_KEY, "job")
            requests = sim.stats.by_route["activities"]
    assert set(answers) == set(ids)
    assert pending["pending"] == 0
    assert requests <= 1.1 * len(ids)


async def test_empty_and_unknown_jobs_and_a_lone_surrogate_id(
    redis_server: RedisServer,
) -> None:
    """`wait` returns at once on a job of no ids, refuses a job never enqueued by name.

    A lone-surrogate id goes through a real receiver and is stored with its InvalidIdError.
    """
    async with Simulator(api_key=API_KEY) as sim:
        ids = [*sim.create_messages(3), "bad\ud800id"]
        async with in_process_worker(redis_server.url, sim.base_url, "small") as (_, task):
            assert await enqueue(task, redis_server.url, API_KEY, "empty", []) == 0
            seen: list[tuple[int, int]] = []
            with anyio.fail_after(5):
                await wait(
                    task, redis_server.url, API_KEY, "empty", on_progress=lambda *p: seen.append(p)
                )
            assert seen == [(0, 0)]
            with pytest.raises(JobNotFoundError, match="'never' was never enqueued"):
                await wait(task, redis_server.url, API_KEY, "never")
            await enqueue(task, redis_server.url, API_KEY, "odd", ids, chunk_size=2)
            with anyio.fail_after(30):
                await wait(task, redis_server.url, API_KEY, "odd", interval=0.05)
        answers = await results(redis_server.url, API_KEY, "odd")
    assert answers["bad\\ud800id"]["error"]["type"] == "InvalidIdError"
    assert all(answers[i]["ok"] for i in ids[:3])


async def test_the_chunk_task_in_process(redis_server: RedisServer) -> None:
    """The chunk task itself, run in this process, stores answers and marks its chunk done.

    A nudge (chunk -1) does nothing; enqueueing a job whose chunks are done sends nothing, and
    enqueueing it with another chunk size is refused by name; the broker's shutdown closes the
    client (no ResourceWarning).
    """
    async with Simulator(api_key=API_KEY) as sim:
        ids = [*sim.create_messages(5), "missing"]
        broker = make_broker(redis_server.url, queue_name="in-process")
        task = register(broker, api_key=API_KEY, redis_url=redis_server.url, base_url=sim.base_url)
        await broker.startup()
        try:
            assert await task("job-inline", -1, []) == 0  # a nudge
            assert await progress(redis_server.url, API_KEY, "job-inline") == (0, 0)
            assert await task("job-inline", 0, ids) == 6
            assert (
                await enqueue(task, redis_server.url, API_KEY, "job-inline", ids, chunk_size=6) == 1
            )
        finally:
            await broker.shutdown()
        answers = await results(redis_server.url, API_KEY, "job-inline")
    assert set(answers) == set(ids)
    assert answers["missing"]["error"]["type"] == "NotFoundError"
    assert await progress(redis_server.url, API_KEY, "job-inline") == (1, 1)
    with pytest.raises(ValueError, match="chunk_size"):
        await enqueue(task, redis_server.url, API_KEY, "job-inline", ids, chunk_size=0)
    with pytest.raises(JobMismatchError, match=r"chunks of 6 ids, not 3.*chunk_size=6"):
        await enqueue(task, redis_server.url, API_KEY, "job-inline", ids, chunk_size=3)
