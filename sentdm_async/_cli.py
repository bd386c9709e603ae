"""The ``sentdm-async`` command: bulk activity fetches, statuses, watches, sends, a demo.

Output contract: machine output is JSON lines on stdout; progress, live tables, summaries and
errors go to stderr. Exit status 0 = success, 1 = some id failed (a summary says which codes),
2 = usage error (bad option, missing or refused API key, unreadable file), 130 = Ctrl-C. No
traceback is printed for a `SentError`, and the API key is never printed.

`main` is the console script; `amain` is the same command as a coroutine, for tests and for
callers that already run an event loop (everything except ``simulate``, which runs its own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any, Final

from . import __version__
from ._cli_api import add_api_parsers, run_api
from ._cli_demo import run_demo
from ._cli_fetch import run_activities, run_status
from ._cli_output import JsonLines, Ui, UsageError
from ._cli_watch import run_watch
from ._client import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    AsyncSent,
)
from .errors import APIError, AuthenticationError, SentError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

__all__ = ["amain", "build_parser", "main"]

PROG: Final = "sentdm-async"
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130

_EPILOG: Final = f"""\
output: JSON lines on stdout; progress, tables and summaries on stderr (a rich display when
stderr is a terminal and rich is installed, else a plain line every few seconds).
exit status: 0 success, 1 some id failed, 2 usage error or refused API key, 130 interrupted.
The API key comes from --api-key or ${API_KEY_ENV} (prefer the variable: command lines are
visible to other users); the base URL from --base-url or ${BASE_URL_ENV}."""


# --- option types ----------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    if text == "0":
        return 0
    return _positive_int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _rate_limit(text: str) -> str | float | None:
    lowered = text.strip().lower()
    if lowered == "auto":
        return "auto"
    if lowered in ("off", "none"):
        return None
    try:
        return _positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected 'auto', 'off' or requests per minute, got {text!r}"
        ) from None


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, value


# --- the parser ------------------------------------------------------------------------------


def _add_client_options(
    parser: argparse.ArgumentParser, *, nested: bool = False, skip: Sequence[str] = ()
) -> None:
    """Add the options that configure the client.

    They are accepted before the command and, repeated with ``nested``, after it; there the
    defaults are suppressed so a value given before the command is not overwritten.
    """
    group = parser.add_argument_group("client options")

    def default(value: object) -> object:
        return argparse.SUPPRESS if nested else value

    group.add_argument(
        "--api-key", default=default(None), help=f"API key (default: ${API_KEY_ENV})"
    )
    group.add_argument(
        "--base-url",
        default=default(None),
        help=f"API base URL (default: ${BASE_URL_ENV}, else https://api.sent.dm)",
    )
    group.add_argument("--profile-id", default=default(None), help="send x-profile-id")
    if "--timeout" not in skip:
        group.add_argument(
            "--timeout",
            dest="request_timeout",
            type=_positive_float,
            default=default(DEFAULT_TIMEOUT),
            metavar="SECONDS",
            help=f"per request attempt (default: {DEFAULT_TIMEOUT:g})",
        )
    group.add_argument(
        "--max-retries",
        type=_non_negative_int,
        default=default(DEFAULT_MAX_RETRIES),
        metavar="N",
        help=f"retries after a failed attempt (default: {DEFAULT_MAX_RETRIES})",
    )
    group.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=default("auto"),
        metavar="PER_MINUTE|auto|off",
        help="client-side request budget: 'auto' follows the server's X-RateLimit headers "
        "(default), a number fixes requests per minute, 'off' disables it",
    )


def _add_ids(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="ID", help="message ids")
    parser.add_argument(
        "--ids-file",
        metavar="FILE",
        help="read ids from FILE ('-' = stdin), one per line; blank lines and # comments are "
        "skipped",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``sentdm-async``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Command line for the Sent.dm v3 API (asyncio client sentdm_async).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_client_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

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
    _add_ids(p)
    p.add_argument(
        "--concurrency", type=_positive_int, default=32, help="requests in flight (default: 32)"
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
    _add_client_options(p, nested=True)

    p = sub.add_parser(
        "status",
        help="fetch each message's current status (JSON line per id)",
        description="One JSON line per id: the Message object, or "
        '{"id", "ok": false, "error"} when it could not be fetched.',
    )
    _add_ids(p)
    p.add_argument(
        "--concurrency", type=_positive_int, default=8, help="requests in flight (default: 8)"
    )
    _add_client_options(p, nested=True)

    p = sub.add_parser("contacts", help="list contacts (JSON line per contact)")
    p.add_argument("--search", help="free-text filter")
    p.add_argument("--channel", choices=("sms", "whatsapp"), help="only contacts on this channel")
    p.add_argument("--phone", help="filter by phone number")
    p.add_argument("--page-size", type=_positive_int, metavar="N", help="contacts per request")
    p.add_argument("--limit", type=_positive_int, metavar="N", help="stop after N contacts")
    _add_client_options(p, nested=True)

    p = sub.add_parser("send", help="send a message; prints the SendResult as JSON")
    p.add_argument(
        "--to", action="append", required=True, metavar="NUMBER", help="E.164 recipient (repeat)"
    )
    content = p.add_mutually_exclusive_group(required=True)
    content.add_argument("--text", help="message text")
    content.add_argument("--template-id", metavar="ID", help="template id")
    content.add_argument("--template-name", metavar="NAME", help="template name")
    p.add_argument(
        "--param",
        action="append",
        type=_key_value,
        default=[],
        metavar="NAME=VALUE",
        help="template parameter (repeat)",
    )
    p.add_argument(
        "--channel", action="append", metavar="CHANNEL", help="sms, whatsapp, ... (repeat)"
    )
    p.add_argument("--scheduled-at", metavar="ISO8601", help="send later (with a UTC offset)")
    p.add_argument("--idempotency-key", metavar="KEY", help="default: a random one")
    p.add_argument("--sandbox", action="store_true", help="validate only; nothing is sent")
    _add_client_options(p, nested=True)

    add_api_parsers(sub, lambda p: _add_client_options(p, nested=True))

    sub.add_parser(
        "simulate",
        add_help=False,
        help="run the local API simulator in the foreground ('simulate --help' for options)",
    )

    p = sub.add_parser(
        "watch",
        help="watch messages until they finish, with a live table",
        description="One JSON line per new activity "
        '{"message_id", "status", "timestamp", "description", "done"} and one per failed watch '
        '{"message_id", "error", "done": true}. Exit status 0 when every message ended in a '
        "success status (DELIVERED, READ, or one named in --until that is not a failure).",
    )
    _add_ids(p)
    p.add_argument(
        "--until",
        metavar="STATUS,...",
        help="statuses that end a watch (default: any terminal status)",
    )
    p.add_argument(
        "--timeout",
        dest="watch_timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="per message (default: no limit); the per-request --timeout goes before 'watch'",
    )
    p.add_argument(
        "--concurrency", type=_positive_int, default=16, help="polls in flight (default: 16)"
    )
    _add_client_options(p, nested=True, skip=("--timeout",))

    p = sub.add_parser(
        "demo",
        help="send a batch to an in-process simulator and watch it live (no account needed)",
    )
    p.add_argument(
        "--messages", type=_positive_int, default=1000, help="messages to send (default: 1000)"
    )
    p.add_argument(
        "--speed",
        type=_positive_float,
        default=30.0,
        help="simulated seconds per real second (default: 30)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default: 0)")
    return parser


def _parse(argv: list[str] | None) -> argparse.Namespace | int:
    """Parse ``argv``; return the namespace, or the exit status when argparse already ended."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if args.command == "simulate":
            args.simulator_argv = extra
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    return args


# --- commands that need only a few lines -----------------------------------------------------


async def _run_contacts(client: AsyncSent, args: argparse.Namespace, ui: Ui) -> int:
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
    return EXIT_OK


async def _run_send(client: AsyncSent, args: argparse.Namespace, ui: Ui) -> int:
    template: dict[str, Any] | None = None
    if args.text is None:
        template = {"id": args.template_id} if args.template_id else {"name": args.template_name}
        if args.param:
            template["parameters"] = dict(args.param)
    elif args.param:
        raise UsageError("--param goes with --template-id or --template-name, not --text")
    try:
        result = await client.messages.send(
            to=args.to,
            text=args.text,
            template=template,
            channel=args.channel,
            scheduled_at=args.scheduled_at,
            sandbox=True if args.sandbox else None,
            idempotency_key=args.idempotency_key,
        )
    except (TypeError, ValueError) as exc:  # refused by the client before any request
        raise UsageError(str(exc)) from None
    JsonLines().write(result)
    ui.line(f"{result.status}: {len(result.recipients)} message(s)")
    return EXIT_OK


_COMMANDS: Final[dict[str, Callable[[AsyncSent, argparse.Namespace, Ui], Awaitable[int]]]] = {
    "activities": run_activities,
    "contacts": _run_contacts,
    "messages": run_api,
    "numbers": run_api,
    "send": _run_send,
    "status": run_status,
    "templates": run_api,
    "watch": run_watch,
}


# --- running ---------------------------------------------------------------------------------


def _make_client(args: argparse.Namespace) -> AsyncSent:
    api_key = args.api_key or os.environ.get(API_KEY_ENV)
    if not api_key:
        raise UsageError(f"no API key: pass --api-key KEY or set the {API_KEY_ENV} variable")
    try:
        return AsyncSent(
            api_key=api_key,
            base_url=args.base_url,
            profile_id=args.profile_id,
            timeout=args.request_timeout,
            max_retries=args.max_retries,
            rate_limit=args.rate_limit,
        )
    except (SentError, TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _describe(exc: SentError) -> str:
    text = str(exc)
    if isinstance(exc, APIError) and exc.details:
        fields = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in exc.details.items())
        text += f" ({fields})"
    return text


async def _run(args: argparse.Namespace, ui: Ui) -> int:
    try:
        if args.command == "simulate":
            raise UsageError("'simulate' runs its own event loop: call main(), not amain()")
        if args.command == "demo":
            return await run_demo(args, ui)
        async with _make_client(args) as client:
            return await _COMMANDS[args.command](client, args, ui)
    except UsageError as exc:
        ui.error(str(exc))
        return EXIT_USAGE
    except AuthenticationError as exc:
        ui.error(
            f"the API refused the key ({exc.code or exc.status_code}: {exc.message}); "
            f"check --api-key or {API_KEY_ENV}"
        )
        return EXIT_USAGE
    except SentError as exc:
        ui.error(_describe(exc))
        return EXIT_FAILED


async def amain(argv: list[str] | None = None) -> int:
    """Run ``sentdm-async`` inside a running event loop and return the exit status.

    Args:
        argv: Arguments without the program name; ``None`` means ``sys.argv[1:]``.
    """
    args = _parse(argv)
    if isinstance(args, int):
        return args
    return await _run(args, Ui(PROG))


def main(argv: list[str] | None = None) -> int:
    """Run ``sentdm-async`` (the console script) and return the exit status.

    Args:
        argv: Arguments without the program name; ``None`` means ``sys.argv[1:]``.
    """
    args = _parse(argv)
    if isinstance(args, int):
        return args
    if args.command == "simulate":
        from .simulator import run_main

        try:
            return run_main(args.simulator_argv)
        except SystemExit as exc:  # its own --help or usage error
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    ui = Ui(PROG)
    try:
        return asyncio.run(_run(args, ui))
    except KeyboardInterrupt:
        ui.line("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): stop quietly, and point stdout at devnull
        # so the interpreter's final flush does not raise again.
        with contextlib.suppress(OSError, ValueError):
            fd = sys.stdout.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        return EXIT_FAILED
