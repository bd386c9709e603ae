"""Command line of the simulator (`python -m sentdm_async.simulator`, `sentdm-async simulate`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from ._server import Simulator

if TYPE_CHECKING:
    from collections.abc import Callable


async def serve(
    sim: Simulator,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    ready: Callable[[str], object] | None = None,
) -> None:
    """Start ``sim`` on ``host:port`` and serve until cancelled, then close it.

    Args:
        sim: the simulator to serve.
        host: interface to bind.
        port: TCP port; 0 = a free one.
        ready: called with the base URL once the socket is listening.
    """
    base_url = await sim.start(host, port)
    try:
        if ready is not None:
            ready(base_url)
        await asyncio.Event().wait()
    finally:
        await sim.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sentdm_async.simulator",
        description="Serve a fake Sent v3 API (send, status, activities, contacts) locally.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port, 0 = any free (8080)")
    parser.add_argument("--api-key", default="sk_test_simulator", help="the accepted x-api-key")
    parser.add_argument("--seed", type=int, default=0, help="seed for every random choice (0)")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (1)"
    )
    parser.add_argument(
        "--rate-limit", type=int, default=200, help="requests per real minute, 0 = off (200)"
    )
    parser.add_argument("--burst", type=int, default=None, help="bucket size (min(50, limit))")
    parser.add_argument("--contacts", type=int, default=250, help="contacts to seed (250)")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="extra seconds before every response (0)"
    )
    return parser


def run_main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, serve the simulator until Ctrl-C and return the exit status.

    Args:
        argv: arguments without the program name; None = ``sys.argv[1:]``.

    Returns:
        0 after Ctrl-C, 1 when the address cannot be bound, 2 for invalid option values.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        sim = Simulator(
            api_key=args.api_key,
            seed=args.seed,
            speed=args.speed,
            rate_limit=args.rate_limit or None,
            burst=args.burst,
            contacts=args.contacts,
            latency=args.latency,
        )
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2

    def ready(base_url: str) -> None:
        sys.stdout.write(f"Sent simulator listening on {base_url} (api key: {args.api_key})\n")
        sys.stdout.flush()

    try:
        asyncio.run(serve(sim, args.host, args.port, ready=ready))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:  # e.g. the port is taken: one line, not a traceback
        sys.stderr.write(f"error: cannot serve on {args.host}:{args.port}: {exc}\n")
        return 1
    return 0  # pragma: no cover - serve() only returns by an exception
