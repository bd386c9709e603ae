"""Command line of the simulator (`python -m sentdm_async.simulator`, `sentdm-async simulate`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Final

from sentdm_async.simulator._server import Simulator
from sentdm_async.simulator._webhooks import WebhookFaults

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


#: The program name shown in ``--help`` when run as ``python -m sentdm_async.simulator``.
PROG: Final = "python -m sentdm_async.simulator"
DEFAULT_API_KEY: Final = "sk_test_simulator"
#: Exit status on Ctrl-C, as every ``sentdm-async`` command (128 + SIGINT).
EXIT_INTERRUPTED: Final = 130
#: ``--webhook-*`` flags: the probability fields of `WebhookFaults`.
_WEBHOOK_FAULTS: Final = ("drop", "duplicate", "reorder", "delay", "bad_signature")


def _families() -> str:
    """The endpoint families served, read off the simulator's own route tables."""
    names = {path.split("/")[2] for _, path in Simulator(contacts=0).endpoints()}
    return ", ".join(f"/v3/{name}" for name in sorted(names))


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number within 0..1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {text}")
    return value


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"Serve a fake Sent v3 API locally: {_families()}. Ctrl-C stops it (exit 130).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port, 0 = any free (8080)")
    parser.add_argument(
        "--api-key", default=DEFAULT_API_KEY, help=f"the accepted x-api-key ({DEFAULT_API_KEY})"
    )
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
    hooks = parser.add_argument_group(
        "webhook delivery faults", "probabilities (0..1) drawn per event from --seed"
    )
    for name in _WEBHOOK_FAULTS:
        what = WebhookFaults.__doc__ or ""
        flag = name.replace("_", "-")
        hooks.add_argument(
            f"--webhook-{flag}",
            dest=f"webhook_{name}",
            type=_probability,
            default=0.0,
            metavar="P",
            help=_fault_help(what, name),
        )
    hooks.add_argument(
        "--webhook-max-delay",
        type=float,
        default=WebhookFaults.max_delay,
        metavar="SECONDS",
        help=f"longest delay or hold-back ({WebhookFaults.max_delay:g})",
    )
    return parser


def _fault_help(doc: str, name: str) -> str:
    """The line of `WebhookFaults`'s docstring that describes ``name``."""
    for line in doc.splitlines():
        head, sep, text = line.strip().partition(": ")
        if sep and head == name:
            return text.replace("``max_delay``", "--webhook-max-delay")
    return name  # pragma: no cover - every fault field is documented


def run_main(argv: list[str] | None = None, *, prog: str = PROG) -> int:
    """Parse ``argv``, serve the simulator until Ctrl-C and return the exit status.

    Args:
        argv: arguments without the program name; None = ``sys.argv[1:]``.
        prog: the program name ``--help`` and usage errors show.

    Returns:
        130 after Ctrl-C, 1 when the address cannot be bound; invalid option values exit 2.
    """
    parser = _parser(prog)
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
        sim.webhooks.faults = WebhookFaults(
            **{name: getattr(args, f"webhook_{name}") for name in _WEBHOOK_FAULTS},
            max_delay=args.webhook_max_delay,
        )
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2

    def ready(base_url: str) -> None:
        sys.stdout.write(f"Sent simulator listening on {base_url} (api key: {args.api_key})\n")
        sys.stdout.flush()

    try:
        asyncio.run(serve(sim, args.host, args.port, ready=ready))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except OSError as exc:  # e.g. the port is taken: one line, not a traceback
        sys.stderr.write(f"error: cannot serve on {args.host}:{args.port}: {exc}\n")
        return 1
    return 0  # pragma: no cover - serve() only returns by an exception
