"""Message ids for the ``sentdm-async`` command: from arguments, a file or stdin, read lazily.

An ids file holds one id per line; surrounding whitespace is stripped, blank lines and lines
starting with ``#`` are skipped. Everything else is passed on as an id, so a malformed one (a
control character, ``..``, longer than 256 characters) gets its own error line from the client's
validation instead of stopping the job. Ids given as arguments are all passed on (stripped): an
empty argument is an empty id, with its error line. Lines are read in chunks and cut at
`MAX_LINE` bytes, so neither a huge file nor a huge line is ever held in memory.

Also here: the ``--resume`` file, whose JSON lines name the ids already answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
from collections.abc import AsyncGenerator, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Final

from sentdm_async.cli._args import UsageError
from sentdm_async.progress import FileProgress

if TYPE_CHECKING:
    from collections.abc import Callable, Set

__all__ = ["MAX_LINE", "IdSource", "LineSplitter", "ResumeFile", "open_ids"]

#: Bytes kept of one input line. A longer line is cut here; it is no valid id either way (ids
#: are at most 256 characters), and the cut keeps one absurd line from filling memory.
MAX_LINE: Final = 4096
_CHUNK: Final = 64 * 1024


class LineSplitter:
    """Splits a stream of byte chunks into lines (newline removed), each cut at `MAX_LINE`."""

    def __init__(self) -> None:
        self._partial = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """Return the lines completed by ``chunk``."""
        lines: list[bytes] = []
        partial = self._partial
        start = 0
        while True:
            newline = chunk.find(b"\n", start)
            end = len(chunk) if newline < 0 else newline
            room = MAX_LINE - len(partial)
            if room > 0:
                partial += chunk[start : min(end, start + room)]
            if newline < 0:
                return lines
            lines.append(bytes(partial))
            partial.clear()
            start = newline + 1

    def close(self) -> list[bytes]:
        """Return the last line when the stream did not end with a newline."""
        if not self._partial:
            return []
        line = bytes(self._partial)
        self._partial.clear()
        return [line]


def _clean(line: bytes | str) -> str | None:
    text = (line.decode("utf-8", "replace") if isinstance(line, bytes) else line).strip()
    if not text or text.startswith("#"):
        return None
    return text


def _file_ids(file: IO[bytes]) -> Iterator[str]:
    splitter = LineSplitter()
    while chunk := file.read(_CHUNK):
        for line in splitter.feed(chunk):
            if (message_id := _clean(line)) is not None:
                yield message_id
    for line in splitter.close():
        if (message_id := _clean(line)) is not None:
            yield message_id


def _text_ids(stream: Iterable[str]) -> Iterator[str]:
    # A stdin without a file descriptor (embedding, tests): lines are already text.
    for line in stream:
        if (message_id := _clean(line[:MAX_LINE])) is not None:
            yield message_id


async def _pipe_ids(fd: int) -> AsyncGenerator[str, None]:
    """Read ids from a pipe or terminal without blocking the event loop.

    A blocking ``readline`` on a slow producer (``tail -f ids | sentdm-async ...``) would freeze
    every request and the progress display; a thread per read cannot be cancelled on Ctrl-C.
    So the descriptor is registered with the event loop. It is a duplicate, so closing it leaves
    the caller's stdin open; the non-blocking flag is shared, so it is restored at the end (a
    terminal left non-blocking breaks the shell).
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    was_blocking = os.get_blocking(fd)
    pipe = os.fdopen(os.dup(fd), "rb", buffering=0)
    try:
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
    except BaseException:
        pipe.close()
        raise
    splitter = LineSplitter()
    try:
        while chunk := await reader.read(_CHUNK):
            for line in splitter.feed(chunk):
                if (message_id := _clean(line)) is not None:
                    yield message_id
        for line in splitter.close():
            if (message_id := _clean(line)) is not None:
                yield message_id
    finally:
        transport.close()
        with contextlib.suppress(OSError):
            os.set_blocking(fd, was_blocking)


class IdSource:
    """The ids of one command: lazy, with an optional skip set (``--resume``).

    Attributes:
        total: How many ids will come, when it could be known cheaply (arguments, a regular
            file); ``None`` for stdin and pipes.
        skipped: Ids dropped because they were in the skip set (known once iterated).
    """

    def __init__(
        self,
        ids: Iterable[str] | AsyncGenerator[str, None],
        *,
        total: int | None,
        skip: Set[str],
        closer: Callable[[], None] | None = None,
    ) -> None:
        self.total = total
        self.skipped = 0
        self._skip = skip
        self._closer = closer
        self.ids: Iterable[str] | AsyncGenerator[str, None]
        if isinstance(ids, AsyncGenerator):
            self.ids = self._skip_async(ids)
        else:
            self.ids = self._skip_sync(ids)

    def _skip_sync(self, ids: Iterable[str]) -> Iterator[str]:
        skip = self._skip
        for message_id in ids:
            if message_id in skip:
                self.skipped += 1
            else:
                yield message_id

    async def _skip_async(self, ids: AsyncGenerator[str, None]) -> AsyncGenerator[str, None]:
        skip = self._skip
        async with contextlib.aclosing(ids):
            async for message_id in ids:
                if message_id in skip:
                    self.skipped += 1
                else:
                    yield message_id

    async def aiter(self) -> AsyncGenerator[str, None]:
        """Iterate the ids asynchronously, whatever the source."""
        ids = self.ids
        if isinstance(ids, AsyncGenerator):
            async with contextlib.aclosing(ids):
                async for message_id in ids:
                    yield message_id
        else:
            for count, message_id in enumerate(ids, 1):
                yield message_id
                if count % 1024 == 0:
                    await asyncio.sleep(0)  # a long file must not starve the event loop

    def close(self) -> None:
        """Close the file the ids come from, if any."""
        closer, self._closer = self._closer, None
        if closer is not None:
            closer()


def open_ids(ids: list[str], path: str | None, *, skip: Set[str] = frozenset()) -> IdSource:
    """Return the ids given as arguments, or in the file at ``path`` (``-`` = stdin).

    Raises:
        UsageError: No ids at all, both sources at once, or the file cannot be opened.
    """
    if ids and path is not None:
        raise UsageError("give ids as arguments or with --ids-file, not both")
    if path is None:
        if not ids:
            raise UsageError("no message ids: give them as arguments or with --ids-file FILE")
        # Arguments are ids as typed: an empty one (``""``, an unset shell variable) gets its
        # error line like any other malformed id, never dropped silently as a blank file line.
        given = [i.strip() for i in ids]
        return IdSource(given, total=sum(m not in skip for m in given), skip=skip)
    if path == "-":
        return _stdin_ids(skip)
    return _path_ids(path, skip)


def _path_ids(path: str, skip: Set[str]) -> IdSource:
    """The ids in the file at ``path``: a regular file counted first, a pipe read as it comes."""
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed by IdSource.close
    except OSError as exc:
        raise UsageError(f"cannot read ids file {path!r}: {exc.strerror or exc}") from None
    try:
        regular = stat.S_ISREG(os.fstat(file.fileno()).st_mode)
        if not regular:  # a named pipe or a device: read as it comes, no total
            return IdSource(_pipe_ids(file.fileno()), total=None, skip=skip, closer=file.close)
        # Counting costs one extra read of the file; it buys a progress bar with an ETA.
        total = sum(m not in skip for m in _file_ids(file))
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return IdSource(_file_ids(file), total=total, skip=skip, closer=file.close)


def _stdin_ids(skip: Set[str]) -> IdSource:
    stdin = sys.stdin
    try:
        fd = stdin.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation: no descriptor (tests, embedding)
        return IdSource(_text_ids(stdin), total=None, skip=skip)
    if stat.S_ISREG(os.fstat(fd).st_mode):  # `< ids.txt`: plain blocking reads are fine
        return IdSource(_file_ids(stdin.buffer), total=None, skip=skip)
    return IdSource(_pipe_ids(fd), total=None, skip=skip)


# --- the --resume file --------------------------------------------------------------------------


class ResumeFile:
    """The ``--resume`` file: JSON lines of earlier runs, appended to by this one.

    A `FileProgress` on the file, answers only: a torn last line is repaired when it is opened,
    and batches of lines are written (and flushed, not fsynced) in a worker thread.

    Args:
        path: The file; it need not exist yet.
        retry_failed: Treat only ``"ok": true`` lines as done, so failed ids are fetched again.
    """

    def __init__(self, path: str, *, retry_failed: bool = False) -> None:
        if path == "-":
            raise UsageError("--resume needs a file path, not '-'")
        self.path = path
        self.store = FileProgress(path, ok_only=retry_failed, fsync=None)

    async def open(self) -> set[str]:
        """Repair a torn last line, open the file for appending; return the ids answered.

        Raises:
            UsageError: The file cannot be read or written.
        """
        try:
            await self.store.open()
            return await self.store.answered()
        except OSError as exc:
            await self.store.aclose()
            raise UsageError(
                f"cannot use resume file {self.path!r}: {exc.strerror or exc}"
            ) from None

    async def aclose(self) -> None:
        """Close the file."""
        await self.store.aclose()
