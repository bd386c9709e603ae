r"""Durable bulk jobs: activity logs for an id source, written to a sink, resumable after a crash.

    report = await run_job(client, ids, "job-dir", chunk_size=1000)

The ids are cut into numbered chunks of ``chunk_size`` (by position, so the source must give
the same ids in the same order each time: a file, a list, a database query with an ORDER BY).
Results go to the sink in input order; when the last result of a chunk is written, the sink is
flushed to disk and the chunk is appended to ``manifest.jsonl``. Run the same job again after a
crash (even ``kill -9``) and the chunks in the manifest are skipped: only the chunks that were
in flight are fetched again. The default sink appends JSON lines to ``results.jsonl``, one per
id, keyed by ``message_id`` (a redone chunk can repeat lines for its ids: the last line of an id
is its answer, see `read_results`); any callable taking an `ActivityResult` can be the sink
instead, and must be idempotent per message id the same way.

Both files are a `FileProgress` (`sentdm_async.progress`): a chunk's lines are written in one
batch, then fsynced, then the chunk is appended to the manifest and fsynced, every write and
fsync in a worker thread, so the event loop never waits for the disk. Another
`ProgressStore` (a `RedisProgress`, say) can keep the job instead: ``store=``.

Resuming is safe after a full disk too: a last line torn by the failed write (in the results
file or the manifest) is cut off before anything is appended, so no line is glued to it. The
manifest records ``chunk_size``: resuming with another one raises `JobMismatchError` (the
chunks done would not be the chunks skipped), so resume with the size the job started with, or
start a new directory. An id that is not valid Unicode text (a lone surrogate) is answered with
its `InvalidIdError` like any bad id; its line names it with backslash escapes (``"\\ud800"``),
since JSON text cannot hold it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
from collections import deque
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import anyio
import msgspec

from sentdm_async.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    JobMismatchError,
    SentError,
)
from sentdm_async.progress import FileProgress, ProgressStore, chunked, repair_tail

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Iterator

    from sentdm_async._client import AsyncSent
    from sentdm_async.types.messages import ActivityResult

__all__ = [
    "FileProgress",
    "JobMismatchError",
    "JobReport",
    "JsonlSink",
    "ProgressStore",
    "error_info",
    "line_id",
    "read_results",
    "result_line",
    "run_job",
]

MANIFEST: Final = "manifest.jsonl"
RESULTS: Final = "results.jsonl"
_ENCODER: Final = msgspec.json.Encoder(decimal_format="string")
#: Bytes of answers a chunk gathers before they are saved (its end saves the rest).
_SAVE_BYTES: Final = 1 << 20


class JobReport(msgspec.Struct, kw_only=True):
    """What one run of a job did."""

    chunks: int = 0  #: chunks finished in this run
    skipped_chunks: int = 0  #: chunks already in the manifest, not fetched again
    results: int = 0  #: ids answered in this run
    failed: int = 0  #: of which failed (their error is in the sink)


def error_info(exc: BaseException) -> dict[str, Any]:
    """Describe an error as the ``error`` object of a result line (never holds the API key)."""
    info: dict[str, Any] = {
        "type": type(exc).__name__,
        "code": None,
        "status": None,
        "request_id": None,
        "message": str(exc),
    }
    if isinstance(exc, APIError):
        info["code"] = exc.code
        info["request_id"] = exc.request_id
        info["message"] = exc.message
    if isinstance(exc, APIStatusError | APIResponseValidationError):
        info["status"] = exc.status_code
    elif isinstance(exc, APIConnectionError):
        info["message"] = exc.message
    return info


def line_id(message_id: str) -> str:
    """``message_id`` as JSON text can hold it: lone surrogates become backslash escapes."""
    try:
        message_id.encode()
    except UnicodeEncodeError:
        return message_id.encode("utf-8", "backslashreplace").decode()
    return message_id


def result_line(result: ActivityResult) -> dict[str, Any]:
    """The JSON line of one answered id (activities in API order, most recent first).

    The ``message_id`` is `line_id` of the id, so every line can be encoded.
    """
    log = result.log
    message_id = line_id(result.message_id)
    if result.error is not None or log is None:
        error = result.error if result.error is not None else SentError("no log")
        return {"message_id": message_id, "ok": False, "error": error_info(error)}
    latest = log.latest
    return {
        "message_id": message_id,
        "ok": True,
        "status": latest.status if latest is not None else None,
        "activities": log.activities or [],
    }


class JsonlSink:
    """Appends one JSON line per result to a file; `sync` makes what was written durable.

    Blocking (a write per result, an fsync per `sync`): `run_job` no longer uses it, and keeps
    its answers in a `FileProgress` written off the event loop instead.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        repair_tail(self.path)
        self._file: IO[bytes] = self.path.open("ab")

    def __call__(self, result: ActivityResult) -> None:
        """Write the line of ``result``."""
        self._file.write(_ENCODER.encode(result_line(result)) + b"\n")

    def sync(self) -> None:
        """Flush and fsync: every line written so far survives a crash."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Sync and close the file."""
        with contextlib.suppress(ValueError):  # already closed
            self.sync()
        self._file.close()


def read_results(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a results file: the last line of each message id (a torn last line is ignored)."""
    answers: dict[str, dict[str, Any]] = {}
    with Path(path).open("rb") as file:
        for line in file:
            try:
                answer = msgspec.json.decode(line)
            except msgspec.DecodeError:
                continue  # the line a crash tore
            if isinstance(answer, dict) and isinstance(answer.get("message_id"), str):
                answers[answer["message_id"]] = answer
    return answers


async def run_job(
    client: AsyncSent,
    ids: Iterable[str],
    directory: str | Path | None,
    *,
    chunk_size: int = 1000,
    concurrency: int = 32,
    sink: Callable[[ActivityResult], Awaitable[None] | None] | None = None,
    store: ProgressStore | None = None,
) -> JobReport:
    """Fetch the activity log of every id into ``sink``, skipping chunks already done.

    Args:
        client: The client (its budget and retries apply).
        ids: The ids, in the same order on every run.
        directory: Where ``manifest.jsonl`` (and, with the default sink, ``results.jsonl``)
            live; created if missing. Unused (may be ``None``) when ``store`` is given.
        chunk_size: Ids per chunk: the most work a crash can make the next run redo is the
            chunks in flight (about ``4 x concurrency`` ids, rounded up to whole chunks).
        concurrency: Requests in flight.
        sink: Called with every `ActivityResult` in input order (sync or async); idempotent
            per message id. Default: the answers go to the store (``results.jsonl``), a chunk
            at a time.
        store: Where the chunks done (and, without a ``sink``, the answers) are kept.
            Default: a `FileProgress` on ``directory``.

    Raises:
        ValueError: ``chunk_size`` below 1, or neither ``directory`` nor ``store``.
        JobMismatchError: ``directory`` holds a job started with another ``chunk_size``.
        SentError: The client failed as a whole (e.g. it was closed).
        OSError: Writing the results or the manifest failed (e.g. a full disk); run the job
            again once there is room.
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    if store is None:
        store = await _file_store(directory, chunk_size, keep_answers=sink is None)
    job = _Job(store, sink, chunk_size)
    try:
        await store.open()
        done = await store.done()
        stream = client.messages.retrieve_activities_many(
            job.todo(ids, done), concurrency=concurrency, ordered=True
        )
        async with stream:
            async for result in stream:
                await job.take(result)
        await job.finish()
    finally:
        await store.aclose()
    return job.report


async def _file_store(
    directory: str | Path | None, chunk_size: int, *, keep_answers: bool
) -> FileProgress:
    """The default store: ``manifest.jsonl`` (and ``results.jsonl``) in ``directory``."""
    if directory is None:
        raise ValueError("run_job needs a directory or a store")
    folder = Path(directory)
    await anyio.to_thread.run_sync(functools.partial(folder.mkdir, parents=True, exist_ok=True))
    results = folder / RESULTS if keep_answers else None
    return FileProgress(results, folder / MANIFEST, chunk_size=chunk_size)


class _Job:
    """One run of a job: which chunk each result belongs to, and the answers not saved yet."""

    def __init__(
        self,
        store: ProgressStore,
        sink: Callable[[ActivityResult], Awaitable[None] | None] | None,
        chunk_size: int,
    ) -> None:
        self.report = JobReport()
        self._store = store
        self._sink = sink
        self._chunk_size = chunk_size
        self._chunks: deque[tuple[int, int]] = deque()  # (chunk, ids) in input order
        self._left = 0  # results of the current chunk still to come
        self._answers: list[tuple[str, bytes]] = []
        self._bytes = 0

    def todo(self, ids: Iterable[str], done: set[int]) -> Iterator[str]:
        """The ids of the chunks not done, in order (counting the chunks skipped)."""
        for chunk, chunk_ids in chunked(ids, self._chunk_size):
            if chunk in done:
                self.report.skipped_chunks += 1
                continue
            self._chunks.append((chunk, len(chunk_ids)))
            yield from chunk_ids

    async def take(self, result: ActivityResult) -> None:
        """Hand ``result`` on; once it is the last of its chunk, save and mark the chunk."""
        if self._left == 0:
            self._left = self._chunks[0][1]
        await self._write(result)
        self.report.results += 1
        self.report.failed += not result.ok
        self._left -= 1
        if self._left == 0:
            await self._finish_chunk()

    async def _write(self, result: ActivityResult) -> None:
        if self._sink is not None:
            outcome = self._sink(result)
            if inspect.isawaitable(outcome):
                await outcome
            return
        line = result_line(result)
        encoded = _ENCODER.encode(line)
        self._answers.append((line["message_id"], encoded))
        self._bytes += len(encoded)
        if self._bytes >= _SAVE_BYTES:  # a huge chunk: save part of it now, bounding memory
            await self._save()

    async def _save(self) -> None:
        answers, self._answers, self._bytes = self._answers, [], 0
        await self._store.save(answers)

    async def _finish_chunk(self) -> None:
        """The chunk's last result is handed on: make its answers durable, then mark it done."""
        chunk, count = self._chunks.popleft()
        await self._save()
        await self._store.mark(chunk, count)
        self.report.chunks += 1

    async def finish(self) -> None:
        """Nothing is left over: every chunk started was finished by `take`."""
        if self._left or self._answers:  # pragma: no cover - one result per id, always
            raise RuntimeError("the stream ended inside a chunk")
