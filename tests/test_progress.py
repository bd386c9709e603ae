"""The one progress store: its file and Redis backends, and writes kept off the event loop."""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections import Counter
from typing import TYPE_CHECKING

import anyio
import anyio.from_thread
import pytest
import redis.asyncio as aioredis

from sentdm_async.errors import JobMismatchError
from sentdm_async.jobs import MANIFEST, RESULTS, read_results, run_job
from sentdm_async.progress import (
    FileProgress,
    ProgressStore,
    RedisProgress,
    chunked,
    repair_tail,
)
from sentdm_async.redis import account_tag

from .conftest import API_KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Sequence
    from pathlib import Path

    from sentdm_async import AsyncSent
    from sentdm_async.progress import Answer
    from sentdm_async.simulator import Simulator

    from .redis_server import RedisServer

_prefixes = itertools.count()


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(b'{"a": 1}\n{"a": 2}\n', b'{"a": 1}\n{"a": 2}\n', id="whole"),
        pytest.param(b'{"a": 1}\n{"a": 2', b'{"a": 1}\n', id="torn"),
        pytest.param(b'{"a": 1}\n{"a": 2}', b'{"a": 1}\n{"a": 2}\n', id="newline-lost"),
        pytest.param(b'{"a": ', b"", id="only-a-torn-line"),
        pytest.param(b"", b"", id="empty"),
    ],
)
def test_repair_tail_cuts_a_torn_line_and_ends_a_whole_one(
    tmp_path: Path, before: bytes, after: bytes
) -> None:
    """A torn last line is cut off; a whole one that lost its newline gets it back."""
    path = tmp_path / "lines.jsonl"
    path.write_bytes(before)
    repair_tail(path)
    assert path.read_bytes() == after
    repair_tail(tmp_path / "missing.jsonl")  # nothing to repair
    assert not (tmp_path / "missing.jsonl").exists()


def test_chunked_numbers_chunks_by_position() -> None:
    """Chunks are numbered by position, the last one short; a bad size is refused at once."""
    assert list(chunked("abcde", 2)) == [(0, ["a", "b"]), (1, ["c", "d"]), (2, ["e"])]
    assert list(chunked([], 3)) == []
    with pytest.raises(ValueError, match="chunk_size"):
        chunked("abc", 0)


async def test_file_progress_answers_chunks_and_misuse(tmp_path: Path) -> None:
    """Saved answers and marked chunks are read back by the next store; misuse is named.

    With ``ok_only`` a failed answer does not count as answered; a store without a results
    file or a manifest refuses to save or mark.
    """
    results, manifest = tmp_path / "r.jsonl", tmp_path / "m.jsonl"
    async with FileProgress(results, manifest, chunk_size=2) as store:
        assert isinstance(store, ProgressStore)
        assert await store.answered() == set()
        await store.save([("a", b'{"message_id": "a", "ok": true}')])
        await store.save([("b", b'{"message_id": "b", "ok": false}')])
        await store.mark(0, 2)
        assert await store.answered(["a", "z"]) == {"a"}
    async with FileProgress(results, manifest, chunk_size=2, ok_only=True) as again:
        assert await again.done() == {0}
        assert await again.done([0, 1]) == {0}
        assert await again.answered() == {"a"}
        await again.save([("b", b'{"message_id": "b", "ok": true}')])
        assert await again.answered() == {"a", "b"}
    with pytest.raises(JobMismatchError, match="chunks of 2 ids, not 3"):
        await FileProgress(results, manifest, chunk_size=3).open()
    async with FileProgress(None, manifest) as chunks_only:
        with pytest.raises(ValueError, match="keeps no answers"):
            await chunks_only.save([("a", b"{}")])
    async with FileProgress(results) as answers_only:
        with pytest.raises(ValueError, match="keeps no chunks"):
            await answers_only.mark(1, 2)


async def test_writes_and_fsyncs_run_off_the_event_loop(
    client: AsyncSent, sim: Simulator, tmp_path: Path
) -> None:
    """While run_job's first fsync is held, the event loop runs on; no write is on its thread.

    The fsync hook signals the loop through anyio's thread portal, which only works from a
    worker thread, and waits until a task on the loop has run: on the loop thread it would
    fail at once.
    """
    loop_thread = threading.get_ident()
    held = anyio.Event()
    release = threading.Event()
    order: list[str] = []
    threads: set[int] = set()

    def slow_fsync(fd: int) -> None:
        threads.add(threading.get_ident())
        if not held.is_set():
            order.append("fsync held")
            anyio.from_thread.run_sync(held.set)
            release.wait(10)
            order.append("fsync released")
        os.fsync(fd)

    async def on_the_loop() -> None:
        await held.wait()
        order.append("the loop ran")
        release.set()

    ids = sim.create_messages(12)
    store = FileProgress(tmp_path / RESULTS, tmp_path / MANIFEST, chunk_size=5, fsync=slow_fsync)
    async with anyio.create_task_group() as tg:
        tg.start_soon(on_the_loop)
        report = await run_job(client, ids, None, chunk_size=5, store=store)
    assert order == ["fsync held", "the loop ran", "fsync released"]
    assert threads
    assert loop_thread not in threads
    assert report.chunks == 3
    assert set(read_results(tmp_path / RESULTS)) == set(ids)


class Recording:
    """A store that logs what it is asked, in order, and passes it on."""

    def __init__(self, store: FileProgress) -> None:
        self.store = store
        self.log: list[tuple[str, object]] = []

    async def open(self) -> None:
        await self.store.open()

    async def aclose(self) -> None:
        await self.store.aclose()

    async def done(self, chunks: Iterable[int] | None = None) -> set[int]:
        return await self.store.done(chunks)

    async def answered(self, ids: Iterable[str] | None = None) -> set[str]:
        return await self.store.answered(ids)  # pragma: no cover - run_job does not ask

    async def save(self, answers: Sequence[Answer]) -> None:
        await self.store.save(answers)
        self.log.extend(("saved", message_id) for message_id, _ in answers)

    async def mark(self, chunk: int, ids: int) -> None:
        self.log.append(("mark", chunk))
        await self.store.mark(chunk, ids)


async def test_a_chunk_is_marked_only_after_its_answers_are_saved(
    client: AsyncSent, sim: Simulator, tmp_path: Path
) -> None:
    """Every chunk's answers are saved (durable) before the chunk is marked done."""
    ids = sim.create_messages(23)
    store = Recording(FileProgress(tmp_path / RESULTS, tmp_path / MANIFEST, chunk_size=10))
    report = await run_job(client, ids, None, chunk_size=10, concurrency=8, store=store)
    assert report.chunks == 3
    marks = [index for index, (what, _) in enumerate(store.log) if what == "mark"]
    assert [store.log[i][1] for i in marks] == [0, 1, 2]
    for chunk, at in enumerate(marks):
        saved = {message_id for what, message_id in store.log[:at] if what == "saved"}
        assert set(ids[chunk * 10 : chunk * 10 + 10]) <= saved


class FailingRedis(RedisProgress):
    """A RedisProgress whose first save of ``fail_on``'s chunk fails (Redis went away)."""

    fail_on: str | None = None

    async def save(self, answers: Sequence[Answer]) -> None:
        if self.fail_on in {message_id for message_id, _ in answers}:
            self.fail_on = None
            raise RuntimeError("Redis went away")
        await super().save(answers)


@contextlib.asynccontextmanager
async def redis_store(
    redis_server: RedisServer, chunk_size: int, prefix: str
) -> AsyncIterator[FailingRedis]:
    connection = aioredis.from_url(redis_server.url)
    try:
        yield FailingRedis(connection, prefix, chunk_size=chunk_size)
    finally:
        await connection.aclose()


async def test_run_job_resumes_from_a_redis_store(
    client: AsyncSent, sim: Simulator, redis_server: RedisServer
) -> None:
    """run_job on a RedisProgress: a failed run resumes; finished chunks are never fetched again.

    Chunks 0 and 1 were done when saving chunk 2 failed: the rerun fetches chunk 2 and the
    rest (the ids fetched ahead in the first run are fetched again), each id of the finished
    chunks exactly once in all. Another chunk size is refused by name before any request.
    """
    ids = sim.create_messages(45)
    prefix = f"{account_tag(API_KEY)}:job:progress-{next(_prefixes)}"  # as workers name jobs
    async with redis_store(redis_server, 10, prefix) as store:
        store.fail_on = ids[25]
        with pytest.raises(RuntimeError, match="Redis went away"):
            await run_job(client, ids, None, chunk_size=10, concurrency=2, store=store)
        assert await store.done() == {0, 1}
        report = await run_job(client, ids, None, chunk_size=10, store=store)
        assert (report.skipped_chunks, report.chunks, report.results) == (2, 3, 25)
        answers = await store.answers()
        assert await store.answered(["nope", ids[0]]) == {ids[0]}
        assert await store.answered() == set(ids)
        assert await store.answered([]) == set()
        assert await store.done([]) == set()
        assert await store.tally() == (5, None)  # run_job plans nothing: chunks only
    assert set(answers) == set(ids)
    fetched = Counter({i: sim.stats.by_message[i] for i in ids})
    assert all(fetched[i] == 1 for i in ids[:20])
    assert all(fetched[i] == 2 for i in ids[20:30])  # chunk 2 was fetched, not saved
    assert all(1 <= fetched[i] <= 2 for i in ids[30:])  # fetched ahead, or not yet
    requests = sim.stats.requests
    async with redis_store(redis_server, 20, prefix) as other:
        with pytest.raises(JobMismatchError, match="chunks of 10 ids, not 20"):
            await run_job(client, ids, None, chunk_size=20, store=other)
    async with redis_store(redis_server, 10, prefix) as same, same:
        assert await same.done() == {0, 1, 2, 3, 4}
    assert sim.stats.requests == requests
    with pytest.raises(ValueError, match="a directory or a store"):
        await run_job(client, ids, None)
