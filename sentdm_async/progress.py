"""Progress of a bulk job, kept so that a rerun skips what is done: one protocol, two backends.

A job's progress is two things: the answers (one JSON line per message id) and the chunks done
(numbered runs of ``chunk_size`` ids, cut by `chunked`). `ProgressStore` is what every resume
path uses:

- `sentdm_async.jobs.run_job`: a `FileProgress` on the job directory (``results.jsonl`` and
  ``manifest.jsonl``), or any store given as ``store=``;
- the command line's ``activities --resume FILE``: a `FileProgress` on FILE, answers only;
- `sentdm_async.workers`: a `RedisProgress` per job (a hash of answers, a set of chunks done).

The rule all of them follow: `ProgressStore.save` a chunk's answers, then
`ProgressStore.mark` the chunk. ``save`` returns once the answers are durable, so a chunk
marked done has every answer stored, and a rerun fetches only the chunks not marked (and,
within a chunk, only the ids not `ProgressStore.answered`).

`FileProgress` appends only, and never on the event loop: every read, write and fsync runs in a
worker thread (`anyio.to_thread.run_sync`), a batch of lines at a time. A last line torn by a
crash or a full disk is cut off when the store is opened (or, if it is a complete line whose
newline was lost, given its newline), so no line is ever glued to it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Protocol, Self, TypeAlias, runtime_checkable

import anyio
import msgspec

from sentdm_async.errors import JobMismatchError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from types import TracebackType

    from redis.asyncio import Redis

__all__ = ["FileProgress", "ProgressStore", "RedisProgress", "chunked", "repair_tail"]

#: One stored answer: the message id as its line names it, and the line (JSON, no newline).
Answer: TypeAlias = tuple[str, bytes]

_BLOCK: Final = 65536


def chunked(ids: Iterable[str], chunk_size: int) -> Iterator[tuple[int, list[str]]]:
    """Cut ``ids`` into numbered chunks of ``chunk_size`` (the last one may be shorter).

    Chunks are numbered by position, so the same ids in the same order give the same chunks on
    every run: the one chunker of `run_job` and `sentdm_async.workers.enqueue`.

    Raises:
        ValueError: ``chunk_size`` is not an int of 1 or more.
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    return _chunks(ids, chunk_size)  # checked now, not at the first chunk


def _chunks(ids: Iterable[str], chunk_size: int) -> Iterator[tuple[int, list[str]]]:
    chunk: list[str] = []
    number = 0
    for message_id in ids:
        chunk.append(message_id)
        if len(chunk) == chunk_size:
            yield number, chunk
            number, chunk = number + 1, []
    if chunk:
        yield number, chunk


@runtime_checkable
class ProgressStore(Protocol):
    """Where a job's answers and finished chunks are kept (`FileProgress`, `RedisProgress`).

    Open it (``async with store`` or `open`) before the other calls; one task uses it at a time.
    """

    async def open(self) -> None:
        """Get ready: repair what a crash left, open files, check the chunk size.

        Raises:
            JobMismatchError: The job was cut with another ``chunk_size`` than the store's.
        """

    async def aclose(self) -> None:
        """Release what `open` took."""

    async def done(self, chunks: Iterable[int] | None = None) -> set[int]:
        """The chunks of ``chunks`` (``None``: all) recorded done."""

    async def answered(self, ids: Iterable[str] | None = None) -> set[str]:
        """The ids of ``ids`` (``None``: all) with a stored answer (as their lines name them)."""

    async def save(self, answers: Sequence[Answer]) -> None:
        """Store ``answers``; they are durable when this returns."""

    async def mark(self, chunk: int, ids: int) -> None:
        """Record ``chunk`` (of ``ids`` ids) as done: call it after its answers are saved."""


def repair_tail(path: str | Path, *, fsync: Callable[[int], None] | None = os.fsync) -> None:
    """Make the last line of ``path`` whole: cut it off if torn, end it if only its newline is lost.

    A write cut short by a crash or a full disk leaves a partial line; appending after it would
    glue the next line to it, and both would be lost. A last line that is a complete JSON
    document (only the newline missing) is kept. Blocking: call it from a worker thread.
    """
    try:
        file = Path(path).open("r+b")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        return
    with file:
        size = file.seek(0, os.SEEK_END)
        start = _last_line_start(file, size)
        if start == size:
            return
        file.seek(start)
        try:
            msgspec.json.decode(file.read(size - start))
        except msgspec.DecodeError:
            file.truncate(start)
        else:
            file.write(b"\n")
        file.flush()
        if fsync is not None:
            fsync(file.fileno())


def _last_line_start(file: IO[bytes], size: int) -> int:
    """The offset just after the last newline of ``file`` (0 if it has none)."""
    end = size
    while end > 0:
        start = max(0, end - _BLOCK)
        file.seek(start)
        newline = file.read(end - start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


class _Answered(msgspec.Struct):
    """What an answer line is read for: its id and whether it succeeded; the rest is skipped."""

    message_id: str
    ok: bool = False


class _Entry(msgspec.Struct):
    """A manifest line: a chunk done (``chunk_size`` is absent in manifests of old versions)."""

    chunk: int
    ids: int = 0
    chunk_size: int | None = None


_ANSWERED: Final = msgspec.json.Decoder(_Answered)
_ENTRY: Final = msgspec.json.Decoder(_Entry)
_ENCODER: Final = msgspec.json.Encoder()


class _Appender:
    """One append-only JSON-lines file, written a batch at a time (called in a worker thread)."""

    def __init__(self, path: Path, fsync: Callable[[int], None] | None) -> None:
        self.path = path
        self._fsync = fsync
        self._file: IO[bytes] | None = None

    def open(self) -> None:
        repair_tail(self.path, fsync=self._fsync)
        self._file = self.path.open("ab")

    def append(self, lines: Iterable[bytes]) -> None:
        """Write ``lines`` (each without its newline), flush, and fsync if the policy says so."""
        file = self._file
        if file is None:
            raise ValueError(f"{self.path} is not open")
        file.write(b"".join(line + b"\n" for line in lines))
        file.flush()
        if self._fsync is not None:
            self._fsync(file.fileno())

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()  # every append was flushed: closing writes nothing


class _OpenedStore:
    """``async with store``: `open` on entry, `aclose` on exit (both backends)."""

    async def open(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class FileProgress(_OpenedStore):
    """A `ProgressStore` in JSON-lines files: answers in ``results``, chunks in ``manifest``.

    Both files are append-only; either may be ``None`` (the CLI keeps answers only, a job with
    its own sink keeps chunks only). Every file access runs in a worker thread.

    Args:
        results: The answers file (one `sentdm_async.jobs.result_line` per line), or ``None``.
        manifest: The chunks-done file, or ``None``.
        chunk_size: The job's chunk size, recorded with every chunk; opening a manifest
            written with another one raises `JobMismatchError` (from `done`).
        ok_only: Only ``"ok": true`` answers count as `answered` (failed ids are fetched again).
        fsync: Makes a file descriptor's writes durable, called after every batch (default
            `os.fsync`); ``None`` only flushes (a crash of the machine may then lose the last
            batches, a crash of the process loses nothing written).
    """

    def __init__(
        self,
        results: str | Path | None,
        manifest: str | Path | None = None,
        *,
        chunk_size: int | None = None,
        ok_only: bool = False,
        fsync: Callable[[int], None] | None = os.fsync,
    ) -> None:
        self.results = None if results is None else _Appender(Path(results), fsync)
        self.manifest = None if manifest is None else _Appender(Path(manifest), fsync)
        self.chunk_size = chunk_size
        self.ok_only = ok_only
        self._done: set[int] | None = None
        self._answered: set[str] | None = None

    async def open(self) -> None:
        """Cut torn last lines, open the files for appending (creating them), read the manifest.

        Raises:
            OSError: A file cannot be read or written.
            JobMismatchError: The manifest's chunks were cut with another ``chunk_size``.
        """
        await anyio.to_thread.run_sync(self._open)

    def _open(self) -> None:
        try:
            for appender in (self.results, self.manifest):
                if appender is not None:
                    appender.open()
            self._done = self._read_manifest()
        except BaseException:
            self._close()
            raise

    async def aclose(self) -> None:
        """Close the files (every batch was flushed already, so this never blocks)."""
        self._close()

    def _close(self) -> None:
        for appender in (self.results, self.manifest):
            if appender is not None:
                appender.close()

    async def done(self, chunks: Iterable[int] | None = None) -> set[int]:
        """The chunks of ``chunks`` (``None``: all) in the manifest (read once, by `open`)."""
        if self._done is None:
            self._done = await anyio.to_thread.run_sync(self._read_manifest)
        return set(self._done) if chunks is None else self._done.intersection(chunks)

    def _read_manifest(self) -> set[int]:
        done: set[int] = set()
        if self.manifest is None:
            return done
        for line in _lines(self.manifest.path):
            try:
                entry = _ENTRY.decode(line)
            except msgspec.DecodeError:
                continue  # not a chunk line: that chunk is redone
            recorded = entry.chunk_size
            if recorded is not None and self.chunk_size is not None and recorded != self.chunk_size:
                raise JobMismatchError(
                    f"{self.manifest.path.parent} holds a job cut into chunks of {recorded} ids, "
                    f"not {self.chunk_size}: resume it with chunk_size={recorded}, or use a new "
                    f"directory"
                )
            done.add(entry.chunk)
        return done

    async def answered(self, ids: Iterable[str] | None = None) -> set[str]:
        """The ids of ``ids`` (``None``: all) with an answer line (read once, then kept)."""
        if self._answered is None:
            self._answered = await anyio.to_thread.run_sync(self._read_answers)
        return set(self._answered) if ids is None else self._answered.intersection(ids)

    def _read_answers(self) -> set[str]:
        answered: set[str] = set()
        if self.results is not None:
            for line in _lines(self.results.path):
                self._note(answered, line)
        return answered

    def _note(self, answered: set[str], line: bytes) -> None:
        try:
            answer = _ANSWERED.decode(line)
        except msgspec.DecodeError:
            return  # a torn line (read before `open` repaired it) or no answer at all
        if answer.ok or not self.ok_only:
            answered.add(answer.message_id)

    async def save(self, answers: Sequence[Answer]) -> None:
        """Append the lines of ``answers`` in one write, flushed and fsynced, off the event loop.

        Raises:
            ValueError: The store has no results file, or is not open.
            OSError: The write failed (e.g. a full disk: the next `open` cuts the torn line).
        """
        if not answers:
            return
        results = self.results
        if results is None:
            raise ValueError("this FileProgress keeps no answers (results=None)")
        await anyio.to_thread.run_sync(results.append, [line for _, line in answers])
        if self._answered is not None:
            for _, line in answers:
                self._note(self._answered, line)

    async def mark(self, chunk: int, ids: int) -> None:
        """Append ``chunk`` to the manifest, fsynced, off the event loop.

        Raises:
            ValueError: The store has no manifest, or is not open.
            OSError: The write failed.
        """
        manifest = self.manifest
        if manifest is None:
            raise ValueError("this FileProgress keeps no chunks (manifest=None)")
        entry = _ENCODER.encode({"chunk": chunk, "ids": ids, "chunk_size": self.chunk_size})
        await anyio.to_thread.run_sync(manifest.append, [entry])
        if self._done is not None:
            self._done.add(chunk)


def _lines(path: Path) -> Iterator[bytes]:
    """The lines of ``path`` (none if it does not exist)."""
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return
    with file:
        yield from file


class RedisProgress(_OpenedStore):
    """A `ProgressStore` in Redis: answers in a hash, chunks done in a set, the plan in a hash.

    The keys are ``{prefix}:results`` (message id -> line), ``{prefix}:done`` (chunk numbers)
    and ``{prefix}:meta`` (``chunks``: how many the job has; ``chunk_size``, recorded by the
    first `open` with one). Every write is one command, durable as far as the Redis server's
    persistence goes. The connection is the caller's: `aclose` leaves it open.

    Args:
        redis: A ``redis.asyncio.Redis`` connection.
        prefix: The job's key prefix.
        chunk_size: The job's chunk size: `open` records it, or refuses a job cut with another.
    """

    def __init__(self, redis: Redis, prefix: str, *, chunk_size: int | None = None) -> None:
        self.redis = redis
        self.results_key = f"{prefix}:results"
        self.done_key = f"{prefix}:done"
        self.meta_key = f"{prefix}:meta"
        self.chunk_size = chunk_size

    async def open(self) -> None:
        """Record the store's ``chunk_size`` for the job, or check it against the one recorded.

        Raises:
            JobMismatchError: The job was cut with another ``chunk_size``.
        """
        if self.chunk_size is None:
            return
        await self.redis.hsetnx(self.meta_key, "chunk_size", self.chunk_size)
        recorded = int(await self.redis.hget(self.meta_key, "chunk_size") or 0)
        if recorded != self.chunk_size:
            job = self.meta_key.removesuffix(":meta")
            raise JobMismatchError(
                f"{job} holds a job cut into chunks of {recorded} ids, not {self.chunk_size}: "
                f"resume it with chunk_size={recorded}, or use a new job id"
            )

    async def aclose(self) -> None:
        """Nothing to close: the connection is the caller's."""

    async def done(self, chunks: Iterable[int] | None = None) -> set[int]:
        """The chunks of ``chunks`` (``None``: all) in the done set."""
        if chunks is None:
            return {int(member) for member in await self.redis.smembers(self.done_key)}
        wanted = list(chunks)
        if not wanted:
            return set()
        flags = await self.redis.smismember(self.done_key, [str(c) for c in wanted])
        return {chunk for chunk, flag in zip(wanted, flags, strict=True) if flag}

    async def answered(self, ids: Iterable[str] | None = None) -> set[str]:
        """The ids of ``ids`` (``None``: all) with an answer in the hash."""
        if ids is None:
            return {_text(key) for key in await self.redis.hkeys(self.results_key)}
        wanted = list(ids)
        if not wanted:
            return set()
        stored = await self.redis.hmget(self.results_key, wanted)
        return {i for i, answer in zip(wanted, stored, strict=True) if answer is not None}

    async def save(self, answers: Sequence[Answer]) -> None:
        """Write ``answers`` into the hash (one HSET; a redone id's answer is overwritten)."""
        if answers:
            mapping: Any = dict(answers)
            await self.redis.hset(self.results_key, mapping=mapping)

    async def mark(self, chunk: int, ids: int) -> None:
        """Add ``chunk`` to the done set."""
        del ids  # the set holds chunk numbers only
        await self.redis.sadd(self.done_key, str(chunk))

    async def plan(self, chunks: int) -> None:
        """Record how many chunks the job has (`tally` reports it)."""
        await self.redis.hset(self.meta_key, "chunks", chunks)

    async def tally(self) -> tuple[int, int | None]:
        """``(chunks done, chunks planned)``; planned is ``None`` before `plan`."""
        done = await self.redis.scard(self.done_key)
        total = await self.redis.hget(self.meta_key, "chunks")
        return int(done), None if total is None else int(total)

    async def answers(self) -> dict[str, dict[str, Any]]:
        """Every answer stored, by message id."""
        stored = await self.redis.hgetall(self.results_key)
        return {_text(key): msgspec.json.decode(value) for key, value in stored.items()}


def _text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)
