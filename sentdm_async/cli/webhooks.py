"""``sentdm-async webhooks listen``: receive Sent's webhooks and print them verified, as JSON."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Final

from aiohttp import web

from sentdm_async.cli._args import UsageError, positive_int
from sentdm_async.cli._output import JsonLines
from sentdm_async.webhooks import aiohttp_handler

if TYPE_CHECKING:
    import argparse

    from sentdm_async.cli._output import Ui
    from sentdm_async.webhooks import WebhookEvent

__all__ = ["SECRET_ENV", "register", "run_listen"]

#: Where the signing secret comes from by default (never a command-line argument: visible).
SECRET_ENV: Final = "SENT_WEBHOOK_SECRET"  # noqa: S105 - a variable name, not a secret


async def run_listen(args: argparse.Namespace, ui: Ui) -> int:
    """Serve the receiver until interrupted (or ``--max-events`` were printed).

    Raises:
        UsageError: No secret in the environment, or the port cannot be bound.
    """
    secret = os.environ.get(args.secret_env, "")
    if not secret:
        raise UsageError(f"no signing secret: set {args.secret_env} (as shown by Sent)")
    out = JsonLines()
    done = asyncio.Event()
    printed = 0

    def show(event: WebhookEvent) -> None:
        nonlocal printed
        out.write(event)
        printed += 1
        if args.max_events is not None and printed >= args.max_events:
            done.set()

    app = web.Application()
    app.router.add_post(args.path, aiohttp_handler(secret, show))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        try:
            site = web.TCPSite(runner, args.host, args.port)
            await site.start()
        except OSError as exc:
            raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
        host, port = runner.addresses[0][:2]
        ui.line(f"listening on http://{host}:{port}{args.path} (secret from ${args.secret_env})")
        await done.wait()
    finally:
        await runner.cleanup()
    ui.line(f"{printed} events")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``webhooks`` and its ``listen`` command."""
    p = sub.add_parser("webhooks", help="receive webhooks ('webhooks listen')")
    actions = p.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)
    listen = actions.add_parser(
        "listen",
        help="verify incoming webhooks and print each event as a JSON line",
        description="Serve a webhook receiver: each delivery is verified with the signing "
        f"secret from ${SECRET_ENV} (or --secret-env), repeats are answered once, and every "
        "event is printed as one JSON line. Point a tunnel or the simulator's endpoint at it.",
    )
    listen.add_argument("--port", type=int, default=8081, help="port (default: 8081; 0: any)")
    listen.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    listen.add_argument("--path", default="/", help="URL path of the receiver (default: /)")
    listen.add_argument(
        "--secret-env", default=SECRET_ENV, metavar="NAME", help=f"variable (default: {SECRET_ENV})"
    )
    listen.add_argument(
        "--max-events", type=positive_int, metavar="N", help="stop after N events (default: never)"
    )
    listen.set_defaults(run=run_listen, needs_client=False)
