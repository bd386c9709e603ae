"""`AsyncSent`: configuration, lifecycle, and the resources hung off it."""

from __future__ import annotations

import ipaddress
import os
import warnings
from typing import TYPE_CHECKING, Any, Final, Literal

from yarl import URL

from ._budget import RateBudget, make_budget
from ._checks import check_number
from ._contacts import Contacts
from ._messages import Messages
from ._transport import Transport
from .errors import SentError

if TYPE_CHECKING:
    from types import TracebackType

    import aiohttp

__all__ = ["AsyncSent"]

# Defaults: keep in sync with README §Configuration.
DEFAULT_BASE_URL: Final = "https://api.sent.dm"
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_MAX_RETRIES: Final = 2
DEFAULT_MAX_RETRY_AFTER: Final = 60.0
DEFAULT_MAX_CONNECTIONS: Final = 100
DEFAULT_MAX_RESPONSE_BYTES: Final = 10 * 1024 * 1024
API_KEY_ENV: Final = "SENT_DM_API_KEY"
BASE_URL_ENV: Final = "SENT_BASE_URL"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: object) -> str:
    if not isinstance(base_url, str) or not base_url.strip():
        raise SentError(f"base_url must be a non-empty string, got {base_url!r}")
    try:
        url = URL(base_url.strip())
    except (ValueError, TypeError) as exc:
        raise SentError(f"base_url {base_url!r} is not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise SentError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise SentError(
            f"refusing plain http:// base_url {base_url!r}: the API key would cross the network "
            "in clear text (http is allowed only for localhost / 127.0.0.0/8 / ::1)"
        )
    if url.query_string or url.fragment:
        raise SentError(f"base_url must not carry a query or fragment, got {base_url!r}")
    return str(url).rstrip("/")


class AsyncSent:
    """Asyncio client of the Sent v3 API.

    One client holds one aiohttp session (a pool of keep-alive connections) and one request
    budget shared by every request it makes: calls from a web app, bulk jobs and watchers all
    draw on it. Create one per process, use it as ``async with``, or call `aclose`.

    Args:
        api_key: The account's API key; defaults to ``$SENT_DM_API_KEY``.
        base_url: Defaults to ``$SENT_BASE_URL``, else ``https://api.sent.dm``. Plain ``http://``
            is refused unless the host is loopback.
        profile_id: Sent as ``x-profile-id`` on every call (each method also takes
            ``profile_id=``).
        timeout: Seconds per attempt, whole response included (default 30).
        max_retries: Retries after the first attempt (default 2).
        max_retry_after: Longest server-requested wait (``Retry-After``) slept through, in
            seconds (default 60); a longer one raises at once with ``.retry_after`` set.
        max_connections: Size of the connection pool (default 100).
        max_response_bytes: Largest response body read (default 10 MiB).
        rate_limit: The shared request budget: ``"auto"`` (default) starts at 200/min burst 50
            and follows the server's ``X-RateLimit-*`` headers; a number fixes requests per
            minute; ``None`` means no client-side limit; a `RateBudget` is used as given (e.g.
            one shared by several processes). Any 429 pauses every caller of the client.
        session: An ``aiohttp.ClientSession`` you own and close; ``max_connections`` then does
            not apply.

    Raises:
        SentError: No API key, or an unusable ``base_url``.
        TypeError: An argument of the wrong type.
        ValueError: A negative or non-finite number.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        profile_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        rate_limit: Literal["auto"] | float | RateBudget | None = "auto",
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if api_key is None:
            api_key = os.environ.get(API_KEY_ENV)
        if not api_key:
            raise SentError(
                f"no API key: pass AsyncSent(api_key=...) or set the {API_KEY_ENV} "
                "environment variable"
            )
        if not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str, got {type(api_key).__name__}")
        if any(c in api_key for c in "\r\n\0"):
            raise SentError("api_key contains a line break or NUL character")
        if base_url is None:
            base_url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        base_url = _check_base_url(base_url)
        if profile_id is not None and (not isinstance(profile_id, str) or not profile_id):
            raise TypeError("profile_id must be a non-empty str or None")
        check_number("timeout", timeout, positive=True)
        check_number("max_retries", max_retries, integer=True)
        check_number("max_retry_after", max_retry_after)
        check_number("max_connections", max_connections, integer=True, positive=True)
        check_number("max_response_bytes", max_response_bytes, integer=True, positive=True)
        if isinstance(rate_limit, int | float) and not isinstance(rate_limit, bool):
            check_number("rate_limit", rate_limit, positive=True)
        if session is not None and not hasattr(session, "request"):
            raise TypeError(
                f"session must be an aiohttp.ClientSession, got {type(session).__name__}"
            )

        self.base_url = base_url
        self.profile_id = profile_id
        self.budget: RateBudget | None = make_budget(rate_limit)
        self._transport = Transport(
            api_key=api_key,
            base_url=base_url,
            profile_id=profile_id,
            timeout=float(timeout),
            max_retries=max_retries,
            max_retry_after=float(max_retry_after),
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            budget=self.budget,
            session=session,
        )
        #: Message endpoints, bulk fetching and watchers.
        self.messages = Messages(self._transport)
        #: Contact endpoints.
        self.contacts = Contacts(self._transport)

    def __repr__(self) -> str:
        # Never the API key.
        profile = f", profile_id={self.profile_id!r}" if self.profile_id else ""
        return f"AsyncSent(base_url={self.base_url!r}{profile}, rate_limit={self.budget!r})"

    @property
    def timeout(self) -> float:
        """Seconds per attempt."""
        return self._transport.timeout

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._transport.max_retries

    @property
    def closed(self) -> bool:
        """Whether `aclose` was called."""
        return self._transport.closed

    async def aclose(self) -> None:
        """Close the connection pool (not a caller-owned ``session``). Idempotent."""
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncSent:
        if self.closed:
            raise SentError("this AsyncSent client is closed; create a new one")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        transport = getattr(self, "_transport", None)  # absent when __init__ raised
        if transport is not None and transport.session_open:
            _warn(
                f"unclosed {self!r}: use 'async with AsyncSent()' or 'await client.aclose()'",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )
