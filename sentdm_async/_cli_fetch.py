"""``sentdm-async activities`` and ``status``: one JSON line per message id."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Any

from ._cli_ids import ResumeFile, open_ids
from ._cli_output import BulkProgress, JsonLines, error_info, error_key, summary_line
from .errors import AuthenticationError, SentError

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncGenerator, AsyncIterator

    from ._cli_output import Ui
    from ._client import AsyncSent
    from .models import ActivityResult, Message

__all__ = ["activity_line", "run_activities", "run_status"]


def activity_line(result: ActivityResult) -> dict[str, Any]:
    """Return the output line of one answered id (activities in API order, most recent first)."""
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


async def _status_results(
    client: AsyncSent, ids: AsyncIterator[str], concurrency: int
) -> AsyncGenerator[tuple[str, Message | None, BaseException | None], None]:
    """Fetch statuses with at most ``concurrency`` in flight, answering in input order."""

    async def fetch(message_id: str) -> tuple[str, Message | None, BaseException | None]:
        try:
            return message_id, await client.messages.retrieve_status(message_id), None
        except (SentError, ValueError) as exc:  # ValueError: a malformed id, before any request
            return message_id, None, exc

    pending: deque[asyncio.Task[tuple[str, Message | None, BaseException | None]]] = deque()
    try:
        async for message_id in ids:
            pending.append(asyncio.create_task(fetch(message_id)))
            if len(pending) >= concurrency:
                yield await pending.popleft()
        while pending:
            yield await pending.popleft()
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def run_status(client: AsyncSent, args: argparse.Namespace, ui: Ui) -> int:
    """Print each message's status (the `Message` as JSON); exit status 1 if any failed.

    Raises:
        AuthenticationError: The API refused the key.
        UsageError: Unreadable ids file.
    """
    source = open_ids(args.ids, args.ids_file)
    out = JsonLines()
    ok = 0
    failures: Counter[str] = Counter()
    started = time.monotonic()
    try:
        ids = source.aiter()
        results = _status_results(client, ids, args.concurrency)
        async with contextlib.aclosing(ids), contextlib.aclosing(results):
            async for message_id, message, error in results:
                if isinstance(error, AuthenticationError):
                    raise error
                if error is not None:
                    failures[error_key(error)] += 1
                    out.write({"id": message_id, "ok": False, "error": error_info(error)})
                else:
                    ok += 1
                    out.write(message)
    finally:
        source.close()
    if failures or ok > 1:
        ui.line(summary_line(ok, failures, time.monotonic() - started))
    return 1 if failures else 0
