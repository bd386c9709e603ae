"""``sentdm-async activities``: the activity log of every id, one JSON line each, resumable."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import TYPE_CHECKING

from sentdm_async.cli._args import add_client_options, add_ids, positive_int
from sentdm_async.cli._ids import ResumeFile, open_ids
from sentdm_async.cli._output import BulkProgress, JsonLines, error_key, summary_line
from sentdm_async.errors import AuthenticationError
from sentdm_async.jobs import result_line

if TYPE_CHECKING:
    import argparse

    from sentdm_async._client import AsyncSent
    from sentdm_async.cli._output import Ui

__all__ = ["activity_line", "register", "run_activities"]


activity_line = result_line  # the CLI writes the same lines as `sentdm_async.jobs`


async def run_activities(client: AsyncSent, args: argparse.Namespace, ui: Ui) -> int:
    """Fetch the activity log of every id; exit status 0 when all succeeded, else 1.

    Raises:
        AuthenticationError: The API refused the key: the job stops (nothing would succeed).
        UsageError: Unreadable ids or resume file.
    """
    resume: ResumeFile | None = None
    if args.resume is not None:
        resume = ResumeFile(args.resume, retry_failed=args.retry_failed)
        resume.load()
    source = open_ids(args.ids, args.ids_file, skip=resume.done if resume else frozenset())
    try:
        out = JsonLines(resume.open() if resume is not None else None)
        ok = 0
        failures: Counter[str] = Counter()
        async with BulkProgress(ui, "activities", source.total) as progress:
            stream = client.messages.retrieve_activities_many(
                source.ids, concurrency=args.concurrency, ordered=args.ordered
            )
            async with stream:
                async for result in stream:
                    if isinstance(result.error, AuthenticationError):
                        # Every other id would fail the same way; no line, so --resume retries it.
                        raise result.error
                    out.write(activity_line(result))
                    progress.advance(ok=result.error is None)
                    if result.error is None:
                        ok += 1
                    else:
                        failures[error_key(result.error)] += 1
        extra = ""
        if resume is not None:
            extra = f"{source.skipped} skipped (already in {resume.path})"
        ui.line(summary_line(ok, failures, progress.elapsed, extra=extra))
        return 1 if failures else 0
    finally:
        source.close()
        if resume is not None:
            resume.close()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this command's subparser."""
    p = sub.add_parser(
        "activities",
        help="fetch the activity logs of many messages (JSON line per id)",
        description="Fetch the activity log of every id, streaming, with bounded concurrency. "
        'One JSON line per id: {"message_id", "ok": true, "status", "activities"} (activities '
        'most recent first, as the API sends them) or {"message_id", "ok": false, "error"}.',
        epilog="With --resume FILE the JSON lines are appended to FILE (flushed per line) "
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
