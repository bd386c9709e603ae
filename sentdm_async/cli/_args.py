"""What every command shares: option types, the client options, ids arguments, UsageError."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Final

from sentdm_async._client import API_KEY_ENV, BASE_URL_ENV, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "add_client_options",
    "add_ids",
    "key_value",
    "positive_float",
    "positive_int",
]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130


class UsageError(Exception):
    """A command line that cannot run as given (exit status 2), e.g. an unreadable ids file."""


def positive_int(text: str) -> int:
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
    return positive_int(text)


def positive_float(text: str) -> float:
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
        return positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected 'auto', 'off' or requests per minute, got {text!r}"
        ) from None


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, value


def add_client_options(
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
            type=positive_float,
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


def add_ids(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="ID", help="message ids")
    parser.add_argument(
        "--ids-file",
        metavar="FILE",
        help="read ids from FILE ('-' = stdin), one per line; blank lines and # comments are "
        "skipped",
    )
