"""Operator commands on the rest of the v3 API.

``numbers lookup``, ``templates list`` and ``messages cancel``.
Each prints JSON lines on stdout and a one-line summary on stderr, like the other commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from sentdm_async.cli._args import UsageError, add_client_options
from sentdm_async.cli._output import JsonLines, Ui, error_info
from sentdm_async.errors import APIStatusError, InvalidIdError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from sentdm_async._client import AsyncSent

__all__ = ["API_COMMANDS", "add_api_parsers", "register", "run_api"]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
API_COMMANDS: Final = frozenset({"numbers", "templates", "messages"})


def add_api_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    client_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add the ``numbers``, ``templates`` and ``messages`` command groups to ``sub``."""
    numbers = sub.add_parser("numbers", help="phone numbers: 'numbers lookup NUMBER...'")
    numbers.set_defaults(run=run_api)
    actions = numbers.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser("lookup", help="carrier, line type, porting, VoIP (JSON per number)")
    p.add_argument("numbers", nargs="+", metavar="NUMBER", help="E.164 number, e.g. +15551234567")
    client_options(p)

    templates = sub.add_parser("templates", help="message templates: 'templates list'")
    templates.set_defaults(run=run_api)
    actions = templates.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser("list", help="list templates (JSON line per template)")
    p.add_argument("--status", help="e.g. APPROVED, PENDING, REJECTED, DRAFT")
    p.add_argument("--category", help="MARKETING, UTILITY or AUTHENTICATION")
    p.add_argument("--search", help="free-text filter on name or content")
    p.add_argument("--limit", type=int, metavar="N", help="stop after N templates")
    client_options(p)

    messages = sub.add_parser("messages", help="message actions: 'messages cancel ID...'")
    messages.set_defaults(run=run_api)
    actions = messages.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser(
        "cancel",
        help="cancel SCHEDULED messages (JSON line per id; exit 1 if any was not cancelled)",
    )
    p.add_argument("ids", nargs="+", metavar="ID", help="message id")
    client_options(p)


async def run_api(client: AsyncSent, args: argparse.Namespace, ui: Ui) -> int:
    """Run one of the commands added by `add_api_parsers`."""
    if args.command == "numbers":
        return await _lookup(client, args, ui)
    if args.command == "templates":
        return await _templates(client, args, ui)
    return await _cancel(client, args, ui)


async def _lookup(client: AsyncSent, args: argparse.Namespace, ui: Ui) -> int:
    out, failed = JsonLines(), 0
    for number in args.numbers:
        try:
            out.write(await client.numbers.lookup(number))
        except (APIStatusError, InvalidIdError) as exc:
            failed += 1
            out.write({"number": number, "error": error_info(exc)})
    ui.line(f"{len(args.numbers) - failed} looked up, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


async def _templates(client: AsyncSent, args: argparse.Namespace, ui: Ui) -> int:
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be >= 1")
    out, count = JsonLines(), 0
    templates = client.templates.list(
        status=args.status, category=args.category, search=args.search
    )
    try:
        async for template in templates:
            out.write(template)
            count += 1
            if args.limit is not None and count >= args.limit:
                break
    finally:
        await templates.aclose()
    ui.line(f"{count} templates")
    return EXIT_OK


async def _cancel(client: AsyncSent, args: argparse.Namespace, ui: Ui) -> int:
    out, failed = JsonLines(), 0
    for message_id in args.ids:
        try:
            message = await client.messages.cancel(message_id)
        except (APIStatusError, InvalidIdError) as exc:
            failed += 1
            out.write({"message_id": message_id, "error": error_info(exc)})
        else:
            out.write({"message_id": message_id, "status": message.status})
    ui.line(f"{len(args.ids) - failed} cancelled, {failed} not cancelled")
    return EXIT_FAILED if failed else EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``numbers``, ``templates`` and ``messages`` command groups."""
    add_api_parsers(sub, lambda p: add_client_options(p, nested=True))
