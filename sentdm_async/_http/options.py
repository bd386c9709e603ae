"""Options of a client and of one call. Each default is written once, here.

`AsyncSent` turns its keyword arguments (and the environment) into one frozen `ClientOptions`
that the transport reads; every method takes the per-call `RequestOptions` as keyword
arguments. The README's configuration table is compared with these constants by a test.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, TypedDict

import msgspec

from sentdm_async._core.checks import check_number

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RETRY_AFTER",
    "DEFAULT_TIMEOUT",
    "BaseRequestOptions",
    "ClientOptions",
    "RequestOptions",
    "check_headers",
    "check_profile_id",
    "check_request_options",
]

API_KEY_ENV: Final = "SENT_DM_API_KEY"


BASE_URL_ENV: Final = "SENT_BASE_URL"


DEFAULT_BASE_URL: Final = "https://api.sent.dm"


#: Seconds per attempt, whole response included.
DEFAULT_TIMEOUT: Final = 30.0


#: Retries after the first attempt.
DEFAULT_MAX_RETRIES: Final = 2


#: Longest server-requested wait (``Retry-After``) slept through, in seconds.
DEFAULT_MAX_RETRY_AFTER: Final = 60.0


#: Size of the connection pool.
DEFAULT_MAX_CONNECTIONS: Final = 100


#: Largest response body read, after decompression.
DEFAULT_MAX_RESPONSE_BYTES: Final = 10 * 1024 * 1024


# A header name is a token (RFC 9110); a value may hold no control character but tab. aiohttp
# refuses both with a raw ValueError at send time, so they are checked before any request.
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


_BAD_VALUE: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class ClientOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What a client sends and how it retries (the API key is kept apart, never in a repr).

    Attributes:
        base_url: Scheme, host and port (no trailing slash).
        profile_id: Default ``x-profile-id``.
        timeout: Seconds per attempt.
        max_retries: Retries after the first attempt.
        max_retry_after: Longest ``Retry-After`` slept through, in seconds.
        max_connections: Pool size of the session the client creates.
        max_response_bytes: Largest body read, counted after decompression.
        trust_env: Use ``HTTP(S)_PROXY``/``NO_PROXY`` (and ``.netrc``) like the official SDK.
        default_headers: Sent on every request (after the client's own headers).
    """

    base_url: str = DEFAULT_BASE_URL
    profile_id: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    trust_env: bool = True
    default_headers: dict[str, str] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check every number and header once, at construction."""
        check_number("timeout", self.timeout, positive=True)
        check_number("max_retries", self.max_retries, integer=True)
        check_number("max_retry_after", self.max_retry_after)
        check_number("max_connections", self.max_connections, integer=True, positive=True)
        check_number("max_response_bytes", self.max_response_bytes, integer=True, positive=True)
        if not isinstance(self.trust_env, bool):
            raise TypeError(f"trust_env must be a bool, got {type(self.trust_env).__name__}")
        if self.profile_id is not None:
            check_profile_id(self.profile_id)
        check_headers(self.default_headers, "default_headers")


class BaseRequestOptions(TypedDict, total=False):
    """Per-call keyword arguments of the watchers, whose ``timeout`` is per message.

    Attributes:
        profile_id: ``x-profile-id`` for this call (overrides the client's).
        extra_headers: Headers added to this call.
        extra_query: Query parameters added to this call.
    """

    profile_id: str
    extra_headers: Mapping[str, str]
    extra_query: Mapping[str, str]


class RequestOptions(BaseRequestOptions, total=False):
    """Keyword arguments every method takes for one call (``**options``).

    Attributes:
        timeout: Seconds for the whole call: the wait for the rate budget and every attempt
            and retry. On expiry `APITimeoutError` is raised. (The client's ``timeout`` is per
            attempt.)
    """

    timeout: float


_OPTION_NAMES: Final = frozenset(RequestOptions.__annotations__)


def check_headers(headers: object, name: str) -> dict[str, str]:
    """Check a mapping of header names to values and return it as a dict.

    Raises:
        TypeError: Not a mapping of strings.
        ValueError: A name that is not a token, or a value with a line break or control
            character (which would end the header early or be refused by aiohttp).
    """
    if not isinstance(headers, Mapping):
        raise TypeError(f"{name} must be a mapping of header names to values")
    checked: dict[str, str] = {}
    for key, value in headers.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"{name}: header names and values must be str, got {key!r}: {value!r}")
        if not _TOKEN.fullmatch(key):
            raise ValueError(f"{name}: {key!r} is not a valid header name")
        if _BAD_VALUE.search(value):
            raise ValueError(f"{name}: the value of {key!r} contains a control character")
        checked[key] = value
    return checked


def check_request_options(options: Mapping[str, object]) -> None:
    """Refuse unknown or ill-typed per-call options before any request.

    Raises:
        TypeError: An unknown option, or a value of the wrong type.
        ValueError: A bad header, or a timeout that is not a finite number > 0.
    """
    unknown = set(options) - _OPTION_NAMES
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    profile_id = options.get("profile_id")
    if profile_id is not None:
        check_profile_id(profile_id)
    timeout = options.get("timeout")
    if timeout is not None:
        check_number("timeout", timeout, positive=True)
    extra_headers = options.get("extra_headers")
    if extra_headers is not None:
        check_headers(extra_headers, "extra_headers")
    extra_query = options.get("extra_query")
    if extra_query is not None and (
        not isinstance(extra_query, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra_query.items())
    ):
        raise TypeError("extra_query must be a mapping of str to str")


def check_profile_id(profile_id: object) -> str:
    """Check a profile id (sent as ``x-profile-id``) and return it.

    Raises:
        TypeError: Not a str.
        ValueError: Empty, or with a control character.
    """
    if not isinstance(profile_id, str):
        raise TypeError(f"profile_id must be a str, got {type(profile_id).__name__}")
    if not profile_id.strip():
        raise ValueError("profile_id must not be empty")
    check_headers({"x-profile-id": profile_id}, "profile_id")
    return profile_id
