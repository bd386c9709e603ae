"""``sentdm-async contacts``: every contact as a JSON line, lazily paged."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentdm_async.cli._args import add_client_options, positive_int
from sentdm_async.cli._output import JsonLines

if TYPE_CHECKING:
    import argparse

    from sentdm_async._client import AsyncSent
    from sentdm_async.cli._output import Ui

__all__ = ["register"]


async def run(client: AsyncSent, args: argparse.Namespace, ui: Ui) -> int:
    page_size = args.page_size
    if page_size is None and args.limit is not None:
        page_size = min(args.limit, 100)  # no need to fetch a full page for --limit 5
    out = JsonLines()
    count = 0
    contacts = client.contacts.list(
        search=args.search, channel=args.channel, phone=args.phone, page_size=page_size
    )
    try:
        async for contact in contacts:
            out.write(contact)
            count += 1
            if args.limit is not None and count >= args.limit:
                break
    finally:
        aclose = getattr(contacts, "aclose", None)
        if aclose is not None:
            await aclose()
    ui.line(f"{count} contacts")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this command's subparser."""
    p = sub.add_parser("contacts", help="list contacts (JSON line per contact)")
    p.add_argument("--search", help="free-text filter")
    p.add_argument("--channel", choices=("sms", "whatsapp"), help="only contacts on this channel")
    p.add_argument("--phone", help="filter by phone number")
    p.add_argument("--page-size", type=positive_int, metavar="N", help="contacts per request")
    p.add_argument("--limit", type=positive_int, metavar="N", help="stop after N contacts")
    add_client_options(p, nested=True)
    p.set_defaults(run=run)
