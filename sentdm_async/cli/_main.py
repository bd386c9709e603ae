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
from typing import TYPE_CHECKING, Final

from sentdm_async import __version__
from sentdm_async._client import API_KEY_ENV, BASE_URL_ENV, AsyncSent
from sentdm_async.cli import (
    activities,
    api,
    contacts,
    demo,
    send,
    simulate,
    status,
    watch,
    webhooks,
)
from sentdm_async.cli._args import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    add_client_options,
)
from sentdm_async.cli._output import Ui
from sentdm_async.errors import APIError, AuthenticationError, SentError

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["EXIT_OK", "amain", "build_parser", "main"]

PROG: Final = "sentdm-async"
#: The commands, in help order; each module registers its own subparser (``register``).
COMMANDS: Final[tuple[ModuleType, ...]] = (
    activities,
    status,
    contacts,
    send,
    api,
    simulate,
    watch,
    webhooks,
    demo,
)

_EPILOG: Final = f"""\
output: JSON lines on stdout; progress, tables and summaries on stderr (a rich display when
stderr is a terminal and rich is installed, else a plain line every few seconds).
exit status: 0 success, 1 some id failed, 2 usage error or refused API key, 130 interrupted.
The API key comes from --api-key or ${API_KEY_ENV} (prefer the variable: command lines are
visible to other users); the base URL from --base-url or ${BASE_URL_ENV}."""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``sentdm-async``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Command line for the Sent.dm v3 API (asyncio client sentdm_async).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_client_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
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


def _make_client(args: argparse.Namespace) -> AsyncSent:
    """The client of the command; the environment is read by the client itself, once."""
    try:
        return AsyncSent(
            api_key=args.api_key,
            base_url=args.base_url,
            profile_id=args.profile_id,
            timeout=args.request_timeout,
            max_retries=args.max_retries,
            rate_limit=args.rate_limit,
        )
    except (SentError, TypeError, ValueError) as exc:
        if args.api_key is None and API_KEY_ENV in str(exc):
            raise UsageError(
                f"no API key: pass --api-key KEY or set the {API_KEY_ENV} variable"
            ) from None
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
        if not getattr(args, "needs_client", True):
            return int(await args.run(args, ui))
        async with _make_client(args) as client:
            return int(await args.run(client, args, ui))
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
        from sentdm_async.simulator import run_main

        try:
            return run_main(args.simulator_argv, prog=f"{PROG} simulate")
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
