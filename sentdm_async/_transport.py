"""One request end to end: budget, send, retry, read (capped), decode, map errors.

This is the only module that touches aiohttp's client and msgspec's decoder on responses, so it is
the one place where their exceptions are translated into `sentdm_async.errors`.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Final, TypeVar

import aiohttp
import anyio
import msgspec
from yarl import URL

from . import _retry
from .errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    SentError,
    status_error_class,
)
from .models import Envelope, ErrorEnvelope

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from ._budget import RateBudget

__all__ = ["Transport"]

T = TypeVar("T")

logger = logging.getLogger("sentdm_async")

_ERROR_DECODER: Final = msgspec.json.Decoder(ErrorEnvelope)
_EXCERPT_CHARS: Final = 300
_MAX_REDIRECTS: Final = 5
_USER_AGENT: Final = "sentdm-async"


def _excerpt(body: bytes) -> str:
    text = body[: _EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text[:_EXCERPT_CHARS] + ("…" if len(text) > _EXCERPT_CHARS else "")


class _Oversize(Exception):  # noqa: N818 - internal signal, never raised to users
    """The body is over ``max_response_bytes``."""


class Transport:
    """Sends requests for one client: one session, one budget, one retry policy.

    Args:
        api_key: Sent as ``x-api-key``; never logged or put in an error.
        base_url: Scheme, host and port (no trailing slash).
        profile_id: Default ``x-profile-id``.
        timeout: Seconds per attempt (connect and read, whole body included).
        max_retries: Retries after the first attempt.
        max_retry_after: Longest server-requested wait we sleep through, in seconds.
        max_connections: Pool size of the session we create.
        max_response_bytes: Largest body we read.
        budget: Shared request budget, or ``None`` for no client-side limit.
        session: A caller-owned session; not closed by us.
        sleep: Async sleep used between retries; injectable for tests.
        rand: Uniform [0, 1) source for jitter; injectable for tests.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        profile_id: str | None,
        timeout: float,
        max_retries: int,
        max_retry_after: float,
        max_connections: int,
        max_response_bytes: int,
        budget: RateBudget | None,
        session: aiohttp.ClientSession | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.base_url = base_url
        self._origin = URL(base_url).origin()
        # Request URLs are the base with its path extended: `with_path` on a parsed base is ~6x
        # cheaper than parsing ``base_url + path`` per request (a bulk job's hot path), and gives
        # the same URL for any path without a query or fragment (others take the slow way).
        self._base = URL(base_url, encoded=True)
        self._base_path = self._base.raw_path.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.max_connections = max_connections
        self.max_response_bytes = max_response_bytes
        self.budget = budget
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._sleep = sleep
        self._rand = rand
        self._client_timeout = aiohttp.ClientTimeout(total=timeout)
        self._headers: dict[str, str] = {
            "x-api-key": api_key,
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        if profile_id is not None:
            self._headers["x-profile-id"] = profile_id
        # Read X-RateLimit-* only when a budget can use them: saves header lookups in bulk jobs.
        self._observe = budget is not None and getattr(budget, "adaptive", True)

    # -- lifecycle --

    @property
    def closed(self) -> bool:
        """Whether `aclose` was called."""
        return self._closed

    @property
    def session_open(self) -> bool:
        """Whether we created a session that is still open (what `__del__` warns about)."""
        return self._owns_session and self._session is not None and not self._session.closed

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise SentError("this AsyncSent client is closed; create a new one")
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=self.max_connections,
                keepalive_timeout=30.0,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._client_timeout,
                auto_decompress=True,
                raise_for_status=False,
                # No cookie state: the API is stateless and cookies would be shared across calls.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._session = session
        return session

    async def aclose(self) -> None:
        """Close the session if we created it. Idempotent."""
        self._closed = True
        session = self._session
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    # -- one call --

    async def request(
        self,
        method: str,
        path: str,
        decoder: msgspec.json.Decoder[Envelope[T]],
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        profile_id: str | None = None,
        budget_acquired: bool = False,
    ) -> T:
        """Send one API call with budget, retries and error mapping; return the decoded ``data``.

        Args:
            method: HTTP method.
            path: Path below the base URL, already quoted (e.g. ``/v3/messages/abc``).
            decoder: Decoder of the envelope carrying the expected ``data`` type.
            params: Query parameters.
            body: JSON body, already encoded.
            headers: Extra headers (e.g. ``Idempotency-Key``), sent on every attempt.
            profile_id: Overrides the client's ``x-profile-id`` for this call.
            budget_acquired: The caller already took this call's first token from the budget
                (the watcher does, to pick which message to poll once a token is free);
                retries still take their own.

        Raises:
            APIStatusError: The API answered with an error status (after retries, if retried).
            APIResponseValidationError: The body was not the documented envelope.
            APIConnectionError: No usable response after the retries (`APITimeoutError` on timeout).
        """
        session = self._get_session()
        send_headers = self._headers
        if headers or profile_id is not None:
            send_headers = {**self._headers, **(headers or {})}
            if profile_id is not None:
                send_headers["x-profile-id"] = profile_id
        if body is not None:
            send_headers = {**send_headers, "Content-Type": "application/json"}
        if "?" in path or "#" in path:
            url = URL(self.base_url + path, encoded=True)
        else:
            url = self._base.with_path(self._base_path + path, encoded=True)
        retries = 0
        redirects = 0
        skip_acquire = budget_acquired
        while True:
            if self.budget is not None and not skip_acquire:
                await self.budget.acquire()
            skip_acquire = False
            try:
                async with session.request(
                    method,
                    url,
                    params=params,
                    data=body,
                    headers=send_headers,
                    allow_redirects=False,
                    timeout=self._client_timeout,
                ) as resp:
                    status = resp.status
                    resp_headers = resp.headers
                    if self._observe and self.budget is not None:
                        limit, remaining, reset_after = _retry.parse_rate_limit(resp_headers)
                        self.budget.observe(
                            limit=limit, remaining=remaining, reset_after=reset_after
                        )
                    if 300 <= status < 400:
                        url = self._redirect_target(method, path, url, resp_headers, redirects)
                        redirects += 1
                        continue
                    length = resp.content_length
                    if length is not None and length <= self.max_response_bytes:
                        raw = await resp.read()  # the common case, without _read's coroutine
                    else:
                        raw = await self._read(resp)
            except _Oversize:
                raise APIResponseValidationError(
                    f"response body is larger than max_response_bytes={self.max_response_bytes}",
                    status_code=status,
                    request_id=resp_headers.get("x-request-id"),
                    method=method,
                    path=path,
                ) from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = self._connection_error(exc, method, path)
                if retries < self.max_retries:
                    delay = _retry.backoff_delay(retries, self._rand)
                    logger.info(
                        "%s %s: %s; retry %d in %.2fs",
                        method,
                        path,
                        exc.__class__.__name__,
                        retries + 1,
                        delay,
                    )
                    retries += 1
                    await self._sleep(delay)
                    continue
                raise error from exc

            if 200 <= status < 300:
                return self._decode_ok(decoder, raw, status, resp_headers, method, path)

            error_exc = self._status_error(raw, status, resp_headers, method, path)
            retry_after = error_exc.retry_after
            delay = (
                retry_after
                if retry_after is not None
                else _retry.backoff_delay(retries, self._rand)
            )
            if status == 429 and self.budget is not None:
                # Hold every caller of this client, not just us; capped so one absurd
                # Retry-After cannot freeze the client for longer than we would ever sleep.
                self.budget.pause(min(delay, self.max_retry_after))
            if (
                retries >= self.max_retries
                or (retry_after is not None and retry_after > self.max_retry_after)
                or not _retry.should_retry(
                    status, error_exc.code, resp_headers.get("x-should-retry")
                )
            ):
                raise error_exc
            logger.info(
                "%s %s: HTTP %d; retry %d in %.2fs", method, path, status, retries + 1, delay
            )
            retries += 1
            # On a 429 the budget pause already holds us (and every other caller) for the
            # wait; sleeping here too would wait twice.
            if status != 429 or self.budget is None:
                await self._sleep(delay)

    # -- helpers --

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        length = resp.content_length
        limit = self.max_response_bytes
        if length is not None:
            if length > limit:
                raise _Oversize
            return await resp.read()
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > limit:
                raise _Oversize
            chunks.append(chunk)
        return b"".join(chunks)

    def _redirect_target(
        self, method: str, path: str, url: URL, headers: Mapping[str, str], redirects: int
    ) -> URL:
        location = headers.get("location")
        if location is None or redirects >= _MAX_REDIRECTS:
            raise SentError(f"{method} {path}: too many redirects or a redirect without Location")
        target = url.join(URL(location))
        if target.origin() != self._origin:
            # Never carry x-api-key to another host or scheme; the v3 API does not redirect.
            raise SentError(
                f"{method} {path}: refused a redirect to another origin ({target.origin()}); "
                "the API key is only sent to the configured base URL"
            )
        return target

    def _connection_error(self, exc: BaseException, method: str, path: str) -> APIConnectionError:
        if isinstance(exc, TimeoutError):
            return APITimeoutError(
                f"no response within timeout={self.timeout:g}s ({exc.__class__.__name__})",
                method=method,
                path=path,
            )
        return APIConnectionError(f"{exc.__class__.__name__}: {exc}", method=method, path=path)

    def _decode_ok(
        self,
        decoder: msgspec.json.Decoder[Envelope[T]],
        raw: bytes,
        status: int,
        headers: Mapping[str, str],
        method: str,
        path: str,
    ) -> T:
        try:
            envelope = decoder.decode(raw)
        except msgspec.DecodeError as exc:
            what = "empty body" if not raw else f"body is not the documented envelope ({exc})"
            raise APIResponseValidationError(
                what,
                status_code=status,
                body_excerpt=_excerpt(raw),
                request_id=headers.get("x-request-id"),
                method=method,
                path=path,
            ) from None
        if envelope.data is None:
            request_id = (envelope.meta.request_id if envelope.meta else None) or headers.get(
                "x-request-id"
            )
            if envelope.success is False and envelope.error is not None:
                # A 2xx that says it failed: surface the API's error rather than "no data".
                raise APIStatusError(
                    envelope.error.message or "the API reported a failure",
                    status_code=status,
                    code=envelope.error.code,
                    details=envelope.error.details,
                    doc_url=envelope.error.doc_url,
                    request_id=request_id,
                    method=method,
                    path=path,
                )
            raise APIResponseValidationError(
                "success response without data",
                status_code=status,
                body_excerpt=_excerpt(raw),
                request_id=request_id,
                method=method,
                path=path,
            )
        return envelope.data

    def _status_error(
        self, raw: bytes, status: int, headers: Mapping[str, str], method: str, path: str
    ) -> APIStatusError:
        code = message = doc_url = request_id = None
        details = None
        try:
            envelope = _ERROR_DECODER.decode(raw)
        except msgspec.DecodeError:
            envelope = None
        if envelope is not None:
            if envelope.error is not None:
                code = envelope.error.code
                message = envelope.error.message
                details = envelope.error.details
                doc_url = envelope.error.doc_url
            if envelope.meta is not None:
                request_id = envelope.meta.request_id
        if message is None:
            excerpt = _excerpt(raw)
            message = f"HTTP {status}" + (f" with body: {excerpt}" if excerpt else " with no body")
        return status_error_class(status)(
            message,
            status_code=status,
            retry_after=_retry.parse_retry_after(headers),
            code=code,
            details=details,
            doc_url=doc_url,
            request_id=request_id or headers.get("x-request-id"),
            method=method,
            path=path,
        )
