"""``sentdm-async status``: each message's current status, one JSON line per id."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from typing import TYPE_CHECKING

from sentdm_async._bulk.engine import Handle, fan_out
from sentdm_async.cli._args import add_client_options, add_ids, positive_int
from sentdm_async.cli._ids import open_ids
from sentdm_async.cli._output import JsonLines, error_info, error_key, summary_line
from sentdm_async.errors import AuthenticationError, SentError

if TYPE_CHECKING:
    import argparse

    from sentdm_async._client import AsyncSent
    from sentdm_async.cli._output import Ui
    from sentdm_async.types.messages import Message

__all__ = ["register", "run_status"]


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

    async def fetch(message_id: str) -> tuple[str, Message | None, SentError | None]:
        try:
            return message_id, await client.messages.retrieve_status(message_id), None
        except SentError as exc:  # InvalidIdError too: a malformed id, before any request
            return message_id, None, exc

    try:
        ids = source.aiter()
        # The library's one fan-out engine, in input order, at most `concurrency` in flight.
        results = Handle(fan_out(fetch, ids, concurrency=args.concurrency, ordered=True))
        async with contextlib.aclosing(ids), results:
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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this command's subparser."""
    p = sub.add_parser(
        "status",
        help="fetch each message's current status (JSON line per id)",
        description="One JSON line per id: the Message object, or "
        '{"id", "ok": false, "error"} when it could not be fetched.',
    )
    add_ids(p)
    p.add_argument(
        "--concurrency", type=positive_int, default=8, help="requests in flight (default: 8)"
    )
    add_client_options(p, nested=True)
    p.set_defaults(run=run_status)
