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
import inspect
import os
from collections import deque
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import msgspec

from sentdm_async.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    JobMismatchError,
    SentError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Iterator

    from sentdm_async._client import AsyncSent
    from sentdm_async.types.messages import ActivityResult

__all__ = [
    "JobMismatchError",
    "JobReport",
    "JsonlSink",
    "error_info",
    "line_id",
    "read_results",
    "result_line",
    "run_job",
]

MANIFEST: Final = "manifest.jsonl"
RESULTS: Final = "results.jsonl"
_ENCODER: Final = msgspec.json.Encoder(decimal_format="string")


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
    """Appends one JSON line per result to a file; `sync` makes what was written durable."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _cut_torn_tail(self.path)
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


def _cut_torn_tail(path: Path) -> None:
    """Cut ``path`` back to its last complete line (a write a crash or full disk tore).

    Appending after a torn line would glue the next line to it, and both would be lost.
    """
    try:
        file = path.open("r+b")
    except FileNotFoundError:
        return
    with file:
        size = file.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            start = max(0, end - 65536)
            file.seek(start)
            block = file.read(end - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                end = start + newline + 1
                break
            end = start
        if end < size:
            file.truncate(end)
            file.flush()
            os.fsync(file.fileno())


def _done_chunks(folder: Path, chunk_size: int) -> set[int]:
    """Create ``folder`` if needed; return the chunks its manifest records as done.

    Raises:
        JobMismatchError: The manifest's chunks were cut with another ``chunk_size``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / MANIFEST
    done: set[int] = set()
    _cut_torn_tail(manifest)
    if not manifest.exists():
        return done
    with manifest.open("rb") as file:
        for line in file:
            try:
                entry = msgspec.json.decode(line)
            except msgspec.DecodeError:
                continue  # torn by a crash: that chunk is redone
            if not isinstance(entry, dict) or not isinstance(entry.get("chunk"), int):
                continue
            recorded = entry.get("chunk_size", chunk_size)  # absent in older manifests
            if recorded != chunk_size:
                raise JobMismatchError(
                    f"{folder} holds a job cut into chunks of {recorded} ids, not {chunk_size}: "
                    f"resume it with chunk_size={recorded}, or use a new directory"
                )
            done.add(entry["chunk"])
    return done


async def run_job(
    client: AsyncSent,
    ids: Iterable[str],
    directory: str | Path,
    *,
    chunk_size: int = 1000,
    concurrency: int = 32,
    sink: Callable[[ActivityResult], Awaitable[None] | None] | None = None,
) -> JobReport:
    """Fetch the activity log of every id into ``sink``, skipping chunks already done.

    Args:
        client: The client (its budget and retries apply).
        ids: The ids, in the same order on every run.
        directory: Where ``manifest.jsonl`` (and, with the default sink, ``results.jsonl``)
            live; created if missing.
        chunk_size: Ids per chunk: the most work a crash can make the next run redo is the
            chunks in flight (about ``4 x concurrency`` ids, rounded up to whole chunks).
        concurrency: Requests in flight.
        sink: Called with every `ActivityResult` in input order (sync or async); idempotent
            per message id. Default: a `JsonlSink` on ``directory/results.jsonl``.

    Raises:
        ValueError: ``chunk_size`` below 1.
        JobMismatchError: ``directory`` holds a job started with another ``chunk_size``.
        SentError: The client failed as a whole (e.g. it was closed).
        OSError: Writing the results or the manifest failed (e.g. a full disk); run the job
            again once there is room.
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    folder = Path(directory)
    done = _done_chunks(folder, chunk_size)
    report = JobReport()
    chunks: deque[int] = deque()  # the chunk of every id handed to the stream, in order
    counts: dict[int, int] = {}

    def todo() -> Iterator[str]:
        skipped: set[int] = set()
        for position, message_id in enumerate(ids):
            chunk = position // chunk_size
            if chunk in done:
                skipped.add(chunk)
                continue
            chunks.append(chunk)
            counts[chunk] = counts.get(chunk, 0) + 1
            yield message_id
        report.skipped_chunks = len(skipped)

    own_sink = JsonlSink(folder / RESULTS) if sink is None else None
    write = own_sink if own_sink is not None else sink
    assert write is not None  # noqa: S101 - one of the two is set
    current: int | None = None
    with contextlib.ExitStack() as stack:
        manifest = stack.enter_context((folder / MANIFEST).open("ab"))
        if own_sink is not None:
            stack.callback(own_sink.close)
        stream = client.messages.retrieve_activities_many(
            todo(), concurrency=concurrency, ordered=True
        )
        async with stream:
            async for result in stream:
                chunk = chunks.popleft()
                if current is not None and chunk != current:
                    _finish(current, chunk_size, counts, own_sink, manifest, report)
                current = chunk
                outcome = write(result)
                if inspect.isawaitable(outcome):
                    await outcome
                report.results += 1
                report.failed += not result.ok
        if current is not None:
            _finish(current, chunk_size, counts, own_sink, manifest, report)
    return report


def _finish(
    chunk: int,
    chunk_size: int,
    counts: dict[int, int],
    sink: JsonlSink | None,
    manifest: IO[bytes],
    report: JobReport,
) -> None:
    """A chunk's last result is written: make it durable, then record the chunk as done."""
    if sink is not None:
        sink.sync()
    entry = {"chunk": chunk, "ids": counts.pop(chunk, 0), "chunk_size": chunk_size}
    manifest.write(_ENCODER.encode(entry) + b"\n")
    manifest.flush()
    os.fsync(manifest.fileno())
    report.chunks += 1
