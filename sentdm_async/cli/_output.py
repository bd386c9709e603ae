"""Output of the ``sentdm-async`` command: JSON lines for machines, progress for humans.

Machine output is one JSON document per line on stdout (or in a ``--resume`` file), encoded by
msgspec: datetimes as ISO 8601, decimals as strings so prices keep their exact value. Human
output (progress, live tables, summaries) goes to stderr, through rich when it is installed and
stderr is a terminal, else as plain lines printed every few seconds, so logs of a cron job or CI
run stay readable.

rich is an optional dependency (the ``cli`` extra): it is imported only when a terminal wants it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import IO, TYPE_CHECKING, Final, TypeVar

import anyio
import msgspec

from sentdm_async.errors import APIError
from sentdm_async.jobs import error_info

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
    from types import TracebackType

    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = [
    "BATCH_IDLE",
    "BATCH_LINES",
    "PLAIN_INTERVAL",
    "BulkProgress",
    "JsonLines",
    "StdoutLines",
    "Ticker",
    "Ui",
    "batches",
    "error_info",
    "error_key",
    "format_duration",
    "summary_line",
]

#: Seconds between two plain progress lines when stderr is not a terminal.
PLAIN_INTERVAL: Final = 2.0
#: Most results written in one batch.
BATCH_LINES: Final = 256
#: Seconds without a new result after which the results waiting are written.
BATCH_IDLE: Final = 0.05

_ENCODER: Final = msgspec.json.Encoder(decimal_format="string")
T = TypeVar("T")


class JsonLines:
    """Writes one JSON document per line to stdout, flushed per line (single answers, live events).

    stdout is looked up at every write (not kept), so that rich can redirect it above a live
    display when stdout and stderr share a terminal. Bulk output goes through `StdoutLines`.
    """

    def write(self, document: object) -> None:
        """Encode ``document`` and write it as one line."""
        out = sys.stdout
        out.write((_ENCODER.encode(document) + b"\n").decode())
        out.flush()


class StdoutLines:
    """Writes batches of JSON lines to stdout from a worker thread, flushed once per batch.

    The bulk commands' stdout (``--resume`` writes to its `FileProgress` the same way): a slow
    pipe (``| gzip`` on a busy machine, a paused terminal) blocks that thread, never the event
    loop that runs the requests and the progress display.
    """

    async def save(self, answers: Sequence[tuple[str, bytes]]) -> None:
        """Write the lines of ``answers`` (message id, JSON document) in one write."""
        if answers:
            text = b"".join(line + b"\n" for _, line in answers).decode()
            await anyio.to_thread.run_sync(_write_stdout, text)


def _write_stdout(text: str) -> None:
    out = sys.stdout  # looked up now: rich may have redirected it above a live display
    out.write(text)
    out.flush()


async def batches(
    items: AsyncIterator[T], *, size: int = BATCH_LINES, idle: float = BATCH_IDLE
) -> AsyncGenerator[list[T], None]:
    """Group ``items`` into lists: at most ``size``, and none waits longer than ``idle`` seconds.

    A batch is handed on when it is full, when no new item came for ``idle`` seconds, or at the
    end: many lines per write under load, and no line held back while the stream is quiet.
    The read timed out is cancelled, so ``items`` must lose nothing then (the bulk streams'
    reading contract: a cancelled read loses nothing and stops nothing).
    """
    batch: list[T] = []
    while True:
        with anyio.move_on_after(idle if batch else None) as scope:
            try:
                item = await anext(items)
            except StopAsyncIteration:
                break
        if scope.cancelled_caught:
            yield batch
            batch = []
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def error_key(exc: BaseException) -> str:
    """Return how an error is counted in summaries: its API code, else its type name."""
    code = exc.code if isinstance(exc, APIError) else None
    return code or type(exc).__name__


def format_duration(seconds: float) -> str:
    """Format seconds for humans: ``0.4s``, ``12s``, ``4m05s``, ``2h03m``."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def summary_line(ok: int, failures: Counter[str], elapsed: float, *, extra: str = "") -> str:
    """Return the end-of-run summary: ok count, failures by error code, elapsed time."""
    failed = sum(failures.values())
    text = f"{ok} ok, {failed} failed"
    if failed:
        by_code = ", ".join(f"{key} x{count}" for key, count in failures.most_common())
        text += f" ({by_code})"
    text += f" in {format_duration(elapsed)}"
    return f"{text}; {extra}" if extra else text


def _rich_console(stream: IO[str]) -> Console | None:
    if not stream.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=stream, highlight=False)


class Ui:
    """Where human output goes: a rich console when stderr is a terminal, else plain lines.

    Args:
        prog: Prefix of plain lines, e.g. ``sentdm-async``.
    """

    def __init__(self, prog: str = "sentdm-async") -> None:
        self.prog = prog
        self.stream: IO[str] = sys.stderr
        self.console = _rich_console(self.stream)

    @property
    def fancy(self) -> bool:
        """Whether rich renders progress and tables (stderr is a terminal, rich is installed)."""
        return self.console is not None

    def line(self, text: str) -> None:
        """Print one line of human text on stderr."""
        if self.console is not None:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def error(self, text: str) -> None:
        """Print an error message on stderr, prefixed with the program name."""
        self.line(f"{self.prog}: error: {text}")


class Ticker:
    """Calls ``emit`` every ``interval`` seconds while active.

    Args:
        emit: The callback.
        interval: Seconds between calls; ``None`` means `PLAIN_INTERVAL`.
    """

    def __init__(self, emit: Callable[[], None], interval: float | None = None) -> None:
        self._emit = emit
        self._interval = PLAIN_INTERVAL if interval is None else interval
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self._emit()

    def start(self) -> None:
        """Start ticking."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop ticking and wait for the task to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])  # waits without re-raising the task's CancelledError


def _rich_progress(console: Console) -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Ids per second."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f}/s" if speed else "-/s", style="progress.data.speed")

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[errors]} errors"),
        RateColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=console,
        # rich moves stdout writes above the bar only when stdout is that same terminal;
        # otherwise it would send our JSON lines to stderr.
        redirect_stdout=sys.stdout.isatty(),
        redirect_stderr=False,
    )


class BulkProgress:
    """Progress of a bulk job on stderr: a rich bar on a terminal, else a line every ~2 s.

    Use as ``async with``; call `advance` once per answered id.

    Args:
        ui: Where to print.
        label: What is being fetched, e.g. ``activities``.
        total: How many ids are expected; ``None`` when unknown (stdin): no ETA then.
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        ui: Ui,
        label: str,
        total: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ui = ui
        self.label = label
        self.total = total
        self.done = 0
        self.errors = 0
        self._clock = clock
        self.started = clock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._ticker = Ticker(self._print_line)

    @property
    def elapsed(self) -> float:
        """Seconds since the progress started."""
        return self._clock() - self.started

    def advance(self, *, ok: bool) -> None:
        """Count one answered id."""
        self.done += 1
        if not ok:
            self.errors += 1
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self.done, errors=self.errors)

    def plain_line(self) -> str:
        """Return the plain progress line: done, errors, rate and ETA when the total is known."""
        elapsed = self.elapsed
        rate = self.done / elapsed if elapsed > 0 else 0.0
        of = f"/{self.total}" if self.total is not None else ""
        text = f"{self.label}: {self.done}{of} done, {self.errors} errors, {rate:.1f}/s"
        if self.total is not None and rate > 0 and self.done < self.total:
            text += f", ETA {format_duration((self.total - self.done) / rate)}"
        return text

    def _print_line(self) -> None:
        self.ui.line(self.plain_line())

    async def __aenter__(self) -> BulkProgress:
        self.started = self._clock()
        if self.ui.console is not None:
            self._progress = _rich_progress(self.ui.console)
            self._task = self._progress.add_task(self.label, total=self.total, errors=0)
            self._progress.start()
        else:
            self._ticker.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        else:
            await self._ticker.stop()
            self._print_line()
