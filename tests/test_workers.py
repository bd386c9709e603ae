"""Bulk jobs on real taskiq workers (subprocesses) over a real redis-server, one killed."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import anyio
import pytest

from sentdm_async.simulator import Simulator
from sentdm_async.workers import enqueue, make_broker, progress, register, results, wait

from .conftest import API_KEY

if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType

    from .redis_server import RedisServer

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
            "when_executed",
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its child processes die with it
    )


async def test_chunks_survive_a_killed_worker(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers share one budget: every id answered, no 429, a killed worker's chunks redone."""
    async with Simulator(api_key=API_KEY, rate_limit=6000, burst=20, latency=0.02) as sim:
        ids = sim.create_messages(300)
        env = {
            **os.environ,
            "JOB_REDIS": redis_server.url,
            "JOB_QUEUE": f"jobs-{tmp_path.name}",
            "JOB_IDLE_MS": str(IDLE_MS),
            "JOB_KEY": API_KEY,
            "JOB_BASE": sim.base_url,
            "JOB_RATE": "3000",
            "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        }
        for name in ("JOB_REDIS", "JOB_QUEUE", "JOB_IDLE_MS", "JOB_KEY", "JOB_BASE", "JOB_RATE"):
            monkeypatch.setenv(name, env[name])
        (tmp_path / "jobtasks.py").write_text(TASKS)
        tasks = load_tasks(tmp_path / "jobtasks.py")
        workers = [start_worker(tmp_path, env) for _ in range(2)]
        try:
            await tasks.broker.startup()
            total = await enqueue(
                tasks.fetch_chunk, redis_server.url, API_KEY, "job", ids, chunk_size=10
            )
            assert total == 30
            with anyio.fail_after(60):
                while (await progress(redis_server.url, API_KEY, "job"))[0] < 3:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            os.killpg(workers[0].pid, signal.SIGKILL)  # mid-job, with chunks in hand
            seen: list[tuple[int, int]] = []
            with anyio.fail_after(90):
                await wait(
                    tasks.fetch_chunk,
                    redis_server.url,
                    API_KEY,
                    "job",
                    idle_timeout_ms=IDLE_MS,
                    interval=0.2,
                    on_progress=lambda done, of: seen.append((done, of)),
                )
        finally:
            for worker in workers:
                if worker.poll() is None:
                    os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
            await tasks.broker.shutdown()
        answers = await results(redis_server.url, API_KEY, "job")
        assert set(answers) == set(ids)
        assert all(answer["ok"] for answer in answers.values())
        assert seen[-1] == (30, 30)
        assert sim.stats.rate_limited == 0  # the workers shared one budget
        assert workers[0].returncode == -signal.SIGKILL


async def test_the_chunk_task_in_process(redis_server: RedisServer) -> None:
    """The chunk task itself, run in this process, stores answers and marks its chunk done.

    A nudge (chunk -1) does nothing; enqueueing a job whose chunks are done sends nothing; the
    broker's shutdown closes the client (no ResourceWarning).
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
