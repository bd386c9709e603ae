"""``sentdm-async watch``: follow messages until they finish, with a live table on stderr."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Final

from sentdm_async.cli._args import (
    UsageError,
    add_client_options,
    add_ids,
    positive_float,
    positive_int,
)
from sentdm_async.cli._ids import open_ids
from sentdm_async.cli._output import JsonLines, Ticker, error_info, error_key, summary_line
from sentdm_async.errors import AuthenticationError, WatchTimeoutError
from sentdm_async.types.messages import FAILURE_STATUSES, SUCCESS_STATUSES, TERMINAL_STATUSES

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator, Callable
    from datetime import datetime
    from types import TracebackType

    from rich.console import RenderableType
    from rich.live import Live

    from sentdm_async._client import AsyncSent
    from sentdm_async.cli._output import Ui
    from sentdm_async.types.messages import WatchEvent

__all__ = ["KNOWN_STATUSES", "LiveBoard", "WatchBoard", "event_line", "parse_until", "run_watch"]

#: Up to this many messages the table has a row per message; beyond, counts by status.
MAX_ROWS: Final = 20
#: Seconds between two refreshes of the live table.
LIVE_REFRESH: Final = 0.25
WAITING: Final = "WAITING"
#: The statuses ``--until`` accepts: every message status Sent documents (API_NOTES §2.1). A
#: typo such as ``--until DELIVERD`` would otherwise watch until the timeout, or forever.
KNOWN_STATUSES: Final = TERMINAL_STATUSES | frozenset(
    {"QUEUED", "PROCESSED", "ROUTED", "SCHEDULED", "SENT"}
)
TIMED_OUT: Final = "TIMED OUT"


def parse_until(text: str | None) -> frozenset[str]:
    """Parse ``--until DELIVERED,READ`` (case-insensitive); ``None`` means `TERMINAL_STATUSES`.

    Raises:
        UsageError: No status named, or one that is not in `KNOWN_STATUSES`.
    """
    if text is None:
        return TERMINAL_STATUSES
    statuses = frozenset(s.strip().upper() for s in text.split(",") if s.strip())
    if not statuses:
        raise UsageError("--until needs at least one status, e.g. --until DELIVERED,READ")
    unknown = statuses - KNOWN_STATUSES
    if unknown:
        raise UsageError(
            f"--until: unknown status {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(sorted(KNOWN_STATUSES))}"
        )
    return statuses


def event_line(event: WatchEvent) -> dict[str, Any]:
    """Return the output line of one watch event."""
    activity = event.activity
    if event.error is not None or activity is None:
        error = (
            event.error if event.error is not None else WatchTimeoutError(event.message_id, None)
        )
        return {"message_id": event.message_id, "error": error_info(error), "done": True}
    return {
        "message_id": event.message_id,
        "status": activity.status,
        "timestamp": activity.timestamp,
        "description": activity.description,
        "done": event.done,
    }


def _style(label: str) -> str:
    if label in SUCCESS_STATUSES:
        return "green"
    if label in FAILURE_STATUSES or label == TIMED_OUT or not label.isupper():
        return "red"  # failure statuses, timeouts and error codes / type names
    return "yellow" if label != WAITING else "dim"


class WatchBoard:
    """What the live display shows: each message's current status and the counts by status.

    Args:
        total: How many messages are expected, when known.
        success: Statuses that count as a successful end.
        extra: Returns more text for the status line (the demo's request counts).
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        total: int | None,
        *,
        success: frozenset[str] = SUCCESS_STATUSES,
        extra: Callable[[], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.success = success
        self.current: dict[str, str] = {}
        self.changed: dict[str, datetime] = {}
        self.counts: Counter[str] = Counter()
        #: How the messages that did not succeed ended (status or error), for the summary.
        self.unsuccessful: Counter[str] = Counter()
        self.done = 0
        self.succeeded = 0
        self._extra = extra
        self._clock = clock
        self.started = clock()

    @property
    def elapsed(self) -> float:
        """Seconds since the board was created."""
        return self._clock() - self.started

    def add(self, message_id: str) -> None:
        """Show a message before its first event."""
        if message_id not in self.current:
            self.current[message_id] = WAITING
            self.counts[WAITING] += 1

    def _set(self, message_id: str, label: str) -> None:
        old = self.current.get(message_id)
        if old is not None:
            self.counts[old] -= 1
            if self.counts[old] <= 0:
                del self.counts[old]
        self.current[message_id] = label
        self.counts[label] += 1

    def record(self, event: WatchEvent) -> None:
        """Apply one watch event."""
        activity = event.activity
        if event.error is not None:
            label = TIMED_OUT if isinstance(event.error, WatchTimeoutError) else None
            label = label or error_key(event.error)
        elif activity is not None:
            label = activity.status
            self.changed[event.message_id] = activity.timestamp
        else:  # pragma: no cover - a WatchEvent carries an activity or an error
            return
        self._set(event.message_id, label)
        if event.done:
            self.done += 1
            if event.error is None and label in self.success:
                self.succeeded += 1
            else:
                self.unsuccessful[label] += 1

    def status_line(self) -> str:
        """Return the one-line state: done/total, elapsed and the caller's extra text."""
        of = f"/{self.total}" if self.total is not None else ""
        text = f"{self.done}{of} done, {self.succeeded} succeeded, elapsed {self.elapsed:.1f}s"
        extra = self._extra() if self._extra is not None else ""
        return f"{text}; {extra}" if extra else text

    def plain_line(self, label: str) -> str:
        """Return a plain progress line: the state and the counts by status."""
        counts = ", ".join(f"{status} {n}" for status, n in sorted(self.counts.items()))
        return f"{label}: {self.status_line()} | {counts}"

    def render(self) -> RenderableType:
        """Return the rich table: a row per message up to `MAX_ROWS`, else counts by status."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        if len(self.current) <= MAX_ROWS:
            table = Table("message", "status", "last change", box=None, pad_edge=False)
            for message_id, label in self.current.items():
                changed = self.changed.get(message_id)
                when = changed.astimezone().strftime("%H:%M:%S") if changed is not None else ""
                table.add_row(message_id, Text(label, style=_style(label)), when)
        else:
            table = Table("status", "messages", box=None, pad_edge=False)
            for label, count in self.counts.most_common():
                table.add_row(Text(label, style=_style(label)), str(count))
        return Group(table, Text(self.status_line(), style="bold"))


class LiveBoard:
    """Shows a `WatchBoard` while active: rich ``Live`` on a terminal, else periodic lines.

    The live view is refreshed from the event loop (``auto_refresh=False``), not from rich's
    thread, so the board is never read while it is being changed.
    """

    def __init__(self, ui: Ui, board: WatchBoard, label: str) -> None:
        self.ui = ui
        self.board = board
        self.label = label
        self._live: Live | None = None
        self._ticker = Ticker(self._tick)

    def _tick(self) -> None:
        if self._live is not None:
            self._live.refresh()
        else:
            self.ui.line(self.board.plain_line(self.label))

    async def __aenter__(self) -> LiveBoard:
        console = self.ui.console
        if console is not None:
            from rich.live import Live

            self._live = Live(
                console=console,
                auto_refresh=False,
                get_renderable=self.board.render,
                redirect_stdout=sys.stdout.isatty(),  # see cli._output._rich_progress
                redirect_stderr=False,
            )
            self._live.start(refresh=True)
            self._ticker = Ticker(self._tick, LIVE_REFRESH)
        self._ticker.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._ticker.stop()
        live, self._live = self._live, None
        if live is not None:
            live.refresh()
            live.stop()
        else:
            self.ui.line(self.board.plain_line(self.label))


async def run_watch(client: AsyncSent, args: argparse.Namespace, ui: Ui) -> int:
    """Watch every id until it finishes; exit status 0 when all ended in a success status.

    A success status is one of `SUCCESS_STATUSES`, or one named in ``--until`` that is not a
    failure status.

    Raises:
        AuthenticationError: The API refused the key.
        UsageError: Unreadable ids file or empty ``--until``.
    """
    until = parse_until(args.until)
    success = SUCCESS_STATUSES | (until - FAILURE_STATUSES if args.until is not None else set())
    source = open_ids(args.ids, args.ids_file)
    board = WatchBoard(source.total, success=success)

    async def tracked() -> AsyncIterator[str]:
        async with contextlib.aclosing(source.aiter()) as ids:
            async for message_id in ids:
                board.add(message_id)
                yield message_id

    out = JsonLines()
    try:
        watcher = client.messages.watch_many(
            tracked(), until=until, timeout=args.watch_timeout, concurrency=args.concurrency
        )
        async with LiveBoard(ui, board, "watch"), watcher:
            async for event in watcher:
                if isinstance(event.error, AuthenticationError):
                    raise event.error
                board.record(event)
                out.write(event_line(event))
    finally:
        source.close()
    ui.line(summary_line(board.succeeded, board.unsuccessful, board.elapsed))
    ui.line(f"client: {client.stats().summary()}")
    return 0 if board.succeeded == board.done else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this command's subparser."""
    p = sub.add_parser(
        "watch",
        help="watch messages until they finish, with a live table",
        description="One JSON line per new activity "
        '{"message_id", "status", "timestamp", "description", "done"} and one per failed watch '
        '{"message_id", "error", "done": true}. Exit status 0 when every message ended in a '
        "success status (DELIVERED, READ, or one named in --until that is not a failure).",
    )
    add_ids(p)
    p.add_argument(
        "--until",
        metavar="STATUS,...",
        help="statuses that end a watch, e.g. DELIVERED,READ (default: any terminal status)",
    )
    p.add_argument(
        "--timeout",
        dest="watch_timeout",
        type=positive_float,
        metavar="SECONDS",
        help="per message (default: no limit); the per-request --timeout goes before 'watch'",
    )
    p.add_argument(
        "--concurrency", type=positive_int, default=16, help="polls in flight (default: 16)"
    )
    add_client_options(p, nested=True, skip=("--timeout",))
    p.set_defaults(run=run_watch)
