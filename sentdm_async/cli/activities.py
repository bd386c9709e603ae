"""``sentdm-async activities``: the activity log of every id, one JSON line each, resumable."""

from __future__ import annotations

import argparse
import contextlib
from collections import Counter
from typing import TYPE_CHECKING, Final

import msgspec

from sentdm_async.cli._args import add_client_options, add_ids, positive_int
from sentdm_async.cli._ids import ResumeFile, open_ids
from sentdm_async.cli._output import BulkProgress, StdoutLines, batches, error_key, summary_line
from sentdm_async.errors import AuthenticationError
from sentdm_async.jobs import result_line

if TYPE_CHECKING:
    import argparse
    from collections.abc import Set

    from sentdm_async._client import AsyncSent
    from sentdm_async.cli._ids import IdSource
    from sentdm_async.cli._output import Ui
    from sentdm_async.progress import Answer, FileProgress
    from sentdm_async.types.messages import ActivityResult

__all__ = ["activity_line", "register", "run_activities"]


activity_line = result_line  # the CLI writes the same lines as `sentdm_async.jobs`
_ENCODER: Final = msgspec.json.Encoder(decimal_format="string")


async def run_activities(client: AsyncSent, args: argparse.Namespace, ui: Ui) -> int:
    """Fetch the activity log of every id; exit status 0 when all succeeded, else 1.

    Lines are written in batches from a worker thread (`batches`): to stdout, or appended to
    the ``--resume`` file, whose ids answered are skipped.

    Raises:
        AuthenticationError: The API refused the key: the job stops (nothing would succeed).
        UsageError: Unreadable ids or resume file.
    """
    async with contextlib.AsyncExitStack() as stack:
        skip: Set[str] = frozenset()
        out: StdoutLines | FileProgress = StdoutLines()
        if args.resume is not None:
            resume = ResumeFile(args.resume, retry_failed=args.retry_failed)
            stack.push_async_callback(resume.aclose)
            skip = await resume.open()
            out = resume.store
        source = open_ids(args.ids, args.ids_file, skip=skip)
        stack.callback(source.close)
        tally = await _fetch(client, args, ui, source, out)
    extra = ""
    if args.resume is not None:
        extra = f"{source.skipped} skipped (already in {args.resume})"
    ui.line(summary_line(tally.ok, tally.failures, tally.elapsed, extra=extra))
    return 1 if tally.failures else 0


class _Tally:
    """What a run answered: ok count, failures by error, and the progress display."""

    def __init__(self, progress: BulkProgress) -> None:
        self.ok = 0
        self.failures: Counter[str] = Counter()
        self.elapsed = 0.0
        self._progress = progress

    def lines(self, batch: list[ActivityResult]) -> tuple[list[Answer], AuthenticationError | None]:
        """The lines of ``batch``, counted; stops at a refused key (that id gets no line)."""
        answers: list[Answer] = []
        for result in batch:
            if isinstance(result.error, AuthenticationError):
                # Every other id would fail the same way; no line, so --resume retries it.
                return answers, result.error
            line = activity_line(result)
            answers.append((line["message_id"], _ENCODER.encode(line)))
            self._progress.advance(ok=result.error is None)
            if result.error is None:
                self.ok += 1
            else:
                self.failures[error_key(result.error)] += 1
        return answers, None


async def _fetch(
    client: AsyncSent,
    args: argparse.Namespace,
    ui: Ui,
    source: IdSource,
    out: StdoutLines | FileProgress,
) -> _Tally:
    """Fetch every id of ``source``, writing a batch of lines at a time to ``out``."""
    async with BulkProgress(ui, "activities", source.total) as progress:
        tally = _Tally(progress)
        stream = client.messages.retrieve_activities_many(
            source.ids, concurrency=args.concurrency, ordered=args.ordered
        )
        async with stream, contextlib.aclosing(batches(stream)) as grouped:
            async for batch in grouped:
                answers, refused = tally.lines(batch)
                await out.save(answers)
                if refused is not None:
                    raise refused
    tally.elapsed = progress.elapsed
    return tally


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this command's subparser."""
    p = sub.add_parser(
        "activities",
        help="fetch the activity logs of many messages (JSON line per id)",
        description="Fetch the activity log of every id, streaming, with bounded concurrency. "
        'One JSON line per id: {"message_id", "ok": true, "status", "activities"} (activities '
        'most recent first, as the API sends them) or {"message_id", "ok": false, "error"}.',
        epilog="With --resume FILE the JSON lines are appended to FILE (a batch at a time) "
        "instead of stdout, and ids that already have a line in FILE are skipped: run the same "
        "command again after an interruption to finish the job.",
    )
    add_ids(p)
    p.add_argument(
        "--concurrency", type=positive_int, default=32, help="requests in flight (default: 32)"
    )
    p.add_argument("--ordered", action="store_true", help="answer in input order")
    p.add_argument(
        "--resume",
        metavar="FILE",
        help="append the lines to FILE instead of stdout; skip ids already in it",
    )
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="with --resume: skip only ids whose line is ok, fetch failed ones again",
    )
    add_client_options(p, nested=True)
    p.set_defaults(run=run_activities)
