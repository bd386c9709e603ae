"""Durable bulk jobs: activity logs for an id source, written to a sink, resumable after a crash.

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
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections import deque
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import msgspec

from .errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    SentError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Iterator

    from ._client import AsyncSent
    from .models import ActivityResult

__all__ = ["JobReport", "JsonlSink", "error_info", "read_results", "result_line", "run_job"]

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


def result_line(result: ActivityResult) -> dict[str, Any]:
    """The JSON line of one answered id (activities in API order, most recent first)."""
    log = result.log
    if result.error is not None or log is None:
        error = result.error if result.error is not None else SentError("no log")
        return {"message_id": result.message_id, "ok": False, "error": error_info(error)}
    latest = log.latest
    return {
        "message_id": result.message_id,
        "ok": True,
        "status": latest.status if latest is not None else None,
        "activities": log.activities,
    }


class JsonlSink:
    """Appends one JSON line per result to a file; `sync` makes what was written durable."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
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


def _done_chunks(folder: Path) -> set[int]:
    """Create ``folder`` if needed; return the chunks its manifest records as done."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / MANIFEST
    done: set[int] = set()
    if not manifest.exists():
        return done
    with manifest.open("rb") as file:
        for line in file:
            try:
                entry = msgspec.json.decode(line)
            except msgspec.DecodeError:
                continue  # torn by a crash: that chunk is redone
            if isinstance(entry, dict) and isinstance(entry.get("chunk"), int):
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
        SentError: The client failed as a whole (e.g. it was closed).
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    folder = Path(directory)
    done = _done_chunks(folder)
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
                    _finish(current, counts, own_sink, manifest, report)
                current = chunk
                outcome = write(result)
                if inspect.isawaitable(outcome):
                    await outcome
                report.results += 1
                report.failed += not result.ok
        if current is not None:
            _finish(current, counts, own_sink, manifest, report)
    return report


def _finish(
    chunk: int,
    counts: dict[int, int],
    sink: JsonlSink | None,
    manifest: IO[bytes],
    report: JobReport,
) -> None:
    """A chunk's last result is written: make it durable, then record the chunk as done."""
    if sink is not None:
        sink.sync()
    manifest.write(_ENCODER.encode({"chunk": chunk, "ids": counts.pop(chunk, 0)}) + b"\n")
    manifest.flush()
    os.fsync(manifest.fileno())
    report.chunks += 1
