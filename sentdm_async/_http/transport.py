"""One API call as a chain of small steps, read top to bottom (like httpx's send chain).

    request      the whole call: per-call options, and the call's deadline (``timeout=``)
    └─ _send     the retry loop: a budget token per attempt, then asks `_retry.decide`
       └─ _attempt   one attempt: send, follow same-origin redirects, read the body (capped
                     after decompression), translate aiohttp's exceptions
    then _success (a 2xx's ``data``) or _status_error (the mapped `APIStatusError`)

This is the only module that touches aiohttp's client and msgspec's decoder on responses, so it is
the one place where their exceptions become `sentdm_async.errors`. An error never chains an
aiohttp exception (its repr can carry the request headers, the API key among them), and the key
is cut out of anything a server echoes back.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

import aiohttp
import anyio
import msgspec
from aiohttp import hdrs
from multidict import CIMultiDictProxy
from yarl import URL

from sentdm_async._http import retry as _retry
from sentdm_async._http.deadline import Deadlines
from sentdm_async._http.hooks import Hooks, RequestEvent, ResponseEvent, RetryEvent, ThrottleEvent
from sentdm_async._http.options import check_request_options
from sentdm_async._http.raw import RAW_CAPTURE, RawRequest
from sentdm_async._http.stats import ERROR
from sentdm_async._http.wire import ErrorEnvelope, error_details
from sentdm_async.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    SentError,
    status_error_class,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sentdm_async._http.options import BaseRequestOptions, ClientOptions, RequestOptions
    from sentdm_async._http.wire import Envelope
    from sentdm_async._ratelimit.gate import FairGate, Lane

__all__ = ["Transport"]

T = TypeVar("T")


logger = logging.getLogger("sentdm_async")


_ERROR_DECODER: Final = msgspec.json.Decoder(ErrorEnvelope)


_EXCERPT_CHARS: Final = 300


_MAX_REDIRECTS: Final = 5


_USER_AGENT: Final = "sentdm-async"


_REDACTED: Final = "[redacted]"


#: Keys shorter than this are not cut out of echoed text (it would mangle ordinary words).
_MIN_REDACT: Final = 8


class _Answer(msgspec.Struct, gc=False):
    """What one attempt read: status, headers and the whole (decoded, capped) body.

    Structs (here and `_Call`) are built in C: a Python ``__init__`` per request cost a call.
    """

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


#: aiohttp's timeouts off: each attempt's deadline is kept by `Deadlines` (see there for why).
_NO_TIMEOUT: Final = aiohttp.ClientTimeout()


#: Budget waits shorter than this are not reported (to `ThrottleEvent` listeners, or the stats).
_THROTTLE_MIN: Final = 0.001


class _Call(msgspec.Struct, gc=False):
    """One call's method, URL, headers and body: built once, sent on every attempt.

    ``template`` is the path with ``{name}`` fields for its ids: what listeners and logs see.
    """

    method: str
    path: str
    template: str
    url: URL
    headers: Mapping[str, str]
    params: Mapping[str, str] | None
    body: bytes | None


def env_proxy(url: URL) -> URL | None:
    """The proxy for ``url`` from ``HTTP(S)_PROXY``/``ALL_PROXY`` and ``NO_PROXY``, if any.

    The same lookup the official SDK's httpx (and aiohttp's ``trust_env``) makes, done once per
    client instead of per request. Credentials in the proxy URL are used; ``.netrc`` is not read
    (the API authenticates by its key, never by basic auth).
    """
    host = url.host or ""
    if urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy:
        return None
    try:
        parsed = URL(proxy)
    except (ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise SentError(
            f"the {url.scheme} proxy from the environment is not a usable http(s) URL; "
            "fix HTTP(S)_PROXY or pass trust_env=False"
        )
    return parsed


def _session_headers(api_key: str) -> dict[str, str]:
    """The headers our own session sends on every request (see ``Transport._wire_headers``)."""
    return {"Accept": "application/json", "User-Agent": _USER_AGENT, "x-api-key": api_key}


def _own_session_extra(headers: dict[str, str], api_key: str) -> dict[str, str] | None:
    """The ``headers`` our session does not send already (``None``: none)."""
    base = _session_headers(api_key)
    return {k: v for k, v in headers.items() if base.get(k) != v} or None


class _Shared:
    """What a client and its `with_options` copies share: session, gate, event loop."""

    def __init__(
        self, session: aiohttp.ClientSession | None, gate: FairGate | None, hooks: Hooks
    ) -> None:
        self.session = session
        self.owns_session = session is None
        self.gate = gate
        self.hooks = hooks
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self.deadlines = Deadlines()


class Transport:
    """Sends the calls of one client: one session, one budget, one retry policy.

    Args:
        api_key: Sent as ``x-api-key``; never logged, never in an error.
        options: The client's options.
        gate: The fair-share gate of the shared request budget (built by the rate-limiting
            layer, which sits above this one), or ``None`` for no client-side limit.
        session: A caller-owned session (not closed by us); ``None`` to create one.
        share: The state of another transport to share (`AsyncSent.with_options`).
        rand: Uniform [0, 1) source for the backoff jitter; injectable for tests.
        hooks: The client's listeners (`sentdm_async._http.hooks`); ``None`` for none.
    """

    def __init__(
        self,
        *,
        api_key: str,
        options: ClientOptions,
        gate: FairGate | None = None,
        session: aiohttp.ClientSession | None = None,
        share: Transport | None = None,
        rand: Callable[[], float] = random.random,
        hooks: Hooks | None = None,
    ) -> None:
        self._api_key = api_key
        self.options = options
        self._shared: _Shared = (
            share._shared if share is not None else _Shared(session, gate, hooks or Hooks())
        )
        #: The client's listeners, shared with its `with_options` copies.
        self.hooks = self._shared.hooks
        #: The client's counters (`AsyncSent.stats`): counted into directly, never by events.
        self.stats = self.hooks.recorder
        self.budget = self._shared.gate.budget if self._shared.gate is not None else None
        self._rand = rand
        self._origin = URL(options.base_url).origin()
        # Request URLs are the base with its path extended: `with_path` on a parsed base is ~6x
        # cheaper than parsing ``base_url + path`` per request (a bulk job's hot path), and gives
        # the same URL for any path without a query or fragment (others take the slow way).
        self._base = URL(options.base_url, encoded=True)
        self._base_path = self._base.raw_path.rstrip("/")
        self._headers: dict[str, str] = {
            **_session_headers(api_key),
            **options.default_headers,
            "x-api-key": api_key,
        }
        if options.profile_id is not None:
            self._headers["x-profile-id"] = options.profile_id
        # What a plain call passes to aiohttp on top of the session's own headers. Our session
        # carries `_session_headers` (the same for every transport of a client), so a call
        # sends only this transport's differences, most often none: aiohttp merges per-call
        # headers into the session's in a Python loop on every request. A caller's session
        # has headers of its own, so it gets all of ours on every call.
        self._wire_headers = (
            _own_session_extra(self._headers, api_key)
            if self._shared.owns_session
            else self._headers
        )
        # Read X-RateLimit-* only when the budget uses them: saves header parsing in bulk jobs.
        self._observe = self.budget is not None and self.budget.adaptive
        own_session = self._shared.owns_session  # a caller's session brings its own settings
        self._proxy = env_proxy(self._base) if options.trust_env and own_session else None

    def derive(self, options: ClientOptions) -> Transport:
        """Return a transport with other options sharing this one's session, budget and gate."""
        return Transport(api_key=self._api_key, options=options, share=self, rand=self._rand)

    # -- lifecycle --

    @property
    def closed(self) -> bool:
        """Whether the client was closed."""
        return self._shared.closed

    @property
    def session_open(self) -> bool:
        """Whether we created a session that is still open (what `__del__` warns about)."""
        shared = self._shared
        return shared.owns_session and shared.session is not None and not shared.session.closed

    def lane(self, name: str, weight: int) -> Lane | None:
        """Return a new fair-share lane of the budget (``None`` without a budget)."""
        gate = self._shared.gate
        return gate.lane(name, weight) if gate is not None else None

    async def acquire(self, lane: Lane | None) -> None:
        """Take one token for ``lane`` (a watcher takes it before choosing whom to poll)."""
        gate = self._shared.gate
        if gate is not None:
            await self._timed_acquire(gate, lane, None)

    async def _timed_acquire(self, gate: FairGate, lane: Lane | None, call: _Call | None) -> None:
        """`FairGate.acquire`, recording how long it held the request back (the slow path)."""
        start = time.perf_counter()
        await gate.acquire(lane)
        waited = time.perf_counter() - start
        if waited < _THROTTLE_MIN:
            return
        self.stats.waited(waited)
        if self.hooks.active:
            self.hooks.on_throttle(
                ThrottleEvent(
                    kind="budget",
                    wait=waited,
                    method=call.method if call else None,
                    url_template=call.template if call else None,
                )
            )

    def _session(self) -> aiohttp.ClientSession:
        shared = self._shared
        if shared.closed:
            raise SentError("this AsyncSent client is closed; create a new one")
        loop = asyncio.get_running_loop()
        if shared.loop is None:
            shared.loop = loop
        elif shared.loop is not loop:
            # aiohttp would fail with raw RuntimeErrors (or worse, hang) on a foreign loop.
            raise SentError(
                "an AsyncSent client belongs to the event loop it was first used on; "
                "create one client per event loop (and per thread)"
            )
        session = shared.session
        if session is None:
            options = self.options
            connector = aiohttp.TCPConnector(
                # One origin per client (redirects stay on it), so the total limit is the
                # per-host one; aiohttp's per-host bookkeeping would cost every request.
                limit=options.max_connections,
                keepalive_timeout=30.0,
            )
            session = shared.session = aiohttp.ClientSession(
                connector=connector,
                timeout=_NO_TIMEOUT,
                headers=_session_headers(self._api_key),
                # The proxy comes from the environment once, in __init__ (`env_proxy`): with
                # trust_env=True aiohttp looks it up in a worker thread on every request, which
                # cost a bulk job about 5x the CPU of the request itself.
                trust_env=False,
                # No cookie state: the API is stateless and cookies would be shared across calls.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return session

    async def aclose(self) -> None:
        """Fail queued callers, close the session if we created it. Idempotent."""
        shared = self._shared
        shared.closed = True
        shared.deadlines.close()
        if shared.gate is not None:
            await shared.gate.aclose()
        session = shared.session
        if session is not None and shared.owns_session and not session.closed:
            await session.close()

    # -- the call --

    def request(
        self,
        method: str,
        path: str,
        decoder: msgspec.json.Decoder[Envelope[T]] | None,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        idempotency_key: str | None = None,
        options: RequestOptions | BaseRequestOptions | None = None,
        lane: Lane | None = None,
        budget_acquired: bool = False,
        template: str | None = None,
    ) -> Awaitable[T]:
        """Make one API call with budget, retries and error mapping; return the decoded ``data``.

        Not a coroutine function of its own: it returns the awaitable of the call (`_send`, or
        `_send_within` for a call with a ``timeout``), one coroutine fewer per request. Use it
        as ``await transport.request(...)``.

        Args:
            method: HTTP method.
            path: Path below the base URL, ids already quoted (e.g. ``/v3/messages/abc``).
            decoder: Decoder of the envelope carrying the expected ``data`` type.
            params: Query parameters.
            body: JSON body, already encoded.
            idempotency_key: Sent as ``Idempotency-Key``, the same on every attempt.
            options: Per-call options (profile, whole-call timeout, extra headers and query).
            lane: The consumer's fair-share lane; ``None`` for single calls.
            budget_acquired: The caller already took this call's first token (the watcher
                does, to choose which message to poll once a token is free); retries take
                their own.
            template: The path with ``{name}`` fields for its ids
                (``/v3/messages/{id}/activities``), what listeners and logs see of the path;
                ``None`` when the path has no ids (it is its own template).

        Returns:
            The envelope's ``data``; ``None`` when ``decoder`` is ``None`` (an endpoint that
            answers without a body), whatever the 2xx body says.

        Raises:
            APIStatusError: The API answered with an error status (after retries, if retried).
            APIResponseValidationError: The body was not the documented envelope, was too big,
                or a redirect was unusable.
            APIConnectionError: No usable response after the retries (`APITimeoutError` when
                an attempt, or the whole call's ``timeout``, ran out).
            SentError: The client is closed, or used from another event loop.
        """
        headers = self._headers
        if options or idempotency_key is not None or body is not None:
            headers, params = self._call_headers(params, body, idempotency_key, options)
        if "?" in path or "#" in path:
            url = URL(self.options.base_url + path, encoded=True)
        else:
            url = self._base.with_path(self._base_path + path, encoded=True)
        call = _Call(method, path, template or path, url, headers, params, body)
        timeout: float | None = options.get("timeout") if options else None  # type: ignore[assignment]
        if timeout is None:
            return self._send(call, decoder, lane, budget_acquired)
        return self._send_within(timeout, call, decoder, lane, budget_acquired)

    async def _send_within(
        self,
        seconds: float,
        call: _Call,
        decoder: msgspec.json.Decoder[Envelope[T]] | None,
        lane: Lane | None,
        acquired: bool,
    ) -> T:
        """`_send` under the call's deadline (a cancel scope only for calls that set one)."""
        with anyio.move_on_after(seconds):
            return await self._send(call, decoder, lane, acquired)
        raise APITimeoutError(
            f"no answer within timeout={seconds:g}s (budget wait and every attempt included)",
            method=call.method,
            path=call.path,
        )

    def _call_headers(
        self,
        params: Mapping[str, str] | None,
        body: bytes | None,
        idempotency_key: str | None,
        options: RequestOptions | BaseRequestOptions | None,
    ) -> tuple[dict[str, str], Mapping[str, str] | None]:
        """The headers (and query) of a call that has its own: options, a key or a body."""
        headers = dict(self._headers)
        if options:
            check_request_options(options)
            headers.update(options.get("extra_headers") or {})
            if "profile_id" in options:
                headers["x-profile-id"] = options["profile_id"]
            extra_query = options.get("extra_query")
            if extra_query:
                params = {**(params or {}), **extra_query}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if body is not None:
            headers["Content-Type"] = "application/json"
        return headers, params

    async def _send(
        self,
        call: _Call,
        decoder: msgspec.json.Decoder[Envelope[T]] | None,
        lane: Lane | None,
        acquired: bool,
    ) -> T:
        """The call: a token, then its first attempt right here, then `_retrying` if it failed.

        The first attempt is inline, not an `_attempt` coroutine of its own: a bulk fetch is one
        coroutine of ours per request, as a bare aiohttp loop is. With listeners, every attempt
        goes through `_retrying` (which tells them about each one).
        """
        if not (acquired or self._token_now()):
            await self._token_later(lane, call)
        if self.hooks.active:
            return await self._retrying(call, decoder, lane, None)
        session = self._live_session()
        deadlines = self._shared.deadlines
        task = deadlines.start(self.options.timeout)
        answer: _Answer | URL | APIConnectionError
        try:
            async with self._open(session, call, call.url) as resp:
                answer = (  # read here in the common case, no coroutine of its own
                    _Answer(resp.status, resp.headers, await resp.read())
                    if not self._observe and self._whole(resp)
                    else await self._take(resp, call, call.url)  # observes the headers first
                )
            if type(answer) is URL:  # a redirect: the rest of the chain, on this deadline
                answer = await self._follow(session, call, answer, _MAX_REDIRECTS)
        except BaseException as exc:  # counted, then returned (a connection failure) or re-raised
            answer = self._failure(exc, call, task)
        finally:
            deadlines.stop(task)
        if type(answer) is _Answer and 200 <= answer.status < 300:
            self.stats.counts[2] += 1  # the other answers are counted by _judge, failures above
            return self._success(decoder, answer, call, 0)
        return await self._retrying(call, decoder, lane, answer)  # type: ignore[arg-type]

    def _token_now(self) -> bool:
        """Take an attempt's token if one is free now (the common case; no budget: ``True``)."""
        gate = self._shared.gate
        return gate is None or gate.try_acquire()

    async def _token_later(self, lane: Lane | None, call: _Call) -> None:
        """Wait in ``lane`` for an attempt's token (`_token_now` found none)."""
        gate = self._shared.gate
        if gate is not None:
            await self._timed_acquire(gate, lane, call)

    async def _retrying(
        self,
        call: _Call,
        decoder: msgspec.json.Decoder[Envelope[T]] | None,
        lane: Lane | None,
        answer: _Answer | APIConnectionError | None,
    ) -> T:
        """The call from a failed first ``answer`` on (``None``: from its first attempt)."""
        hooks = self.hooks
        counts = self.stats.counts
        retries = 0
        while True:
            if answer is None:  # the next attempt (its first token was taken by `_send`)
                if retries and not self._token_now():
                    await self._token_later(lane, call)
                if hooks.active:  # listeners see each attempt
                    answer = await self._hooked_attempt(call, retries + 1)
                else:
                    answer = await self._attempt(call)
            if type(answer) is _Answer and 200 <= answer.status < 300:
                counts[2] += 1  # the other answers are counted by _judge, failures by _attempt
                return self._success(decoder, answer, call, retries)
            error = await self._retry_or_fail(answer, call, retries)
            if error is not None:
                raise error
            retries += 1
            answer = None

    async def _retry_or_fail(
        self, answer: _Answer | APIConnectionError, call: _Call, retries: int
    ) -> APIConnectionError | APIStatusError | None:
        """Pause the budget on a 429; return the error to raise, or sleep the backoff: ``None``."""
        error, decision = self._judge(answer, call, retries)
        if decision.pause:
            await self._pause(decision.pause)
        if not decision.retry or self._shared.closed:
            return error
        self._before_retry(call, retries + 1, error, decision.delay or decision.pause)
        if decision.delay:
            await _retry.sleep(decision.delay)
        return None

    def _judge(
        self, answer: _Answer | APIConnectionError, call: _Call, retries: int
    ) -> tuple[APIConnectionError | APIStatusError, _retry.Decision]:
        """The error of a failed attempt, and whether (and when) to try again."""
        options = self.options
        has_budget = self._shared.gate is not None
        if isinstance(answer, APIConnectionError):
            return answer, _retry.decide(
                status=None,
                retries_taken=retries,
                max_retries=options.max_retries,
                max_retry_after=options.max_retry_after,
                has_budget=has_budget,
                rand=self._rand,
            )
        self.stats.answered(answer.status)
        error = self._status_error(answer, call)
        return error, _retry.decide(
            status=answer.status,
            code=error.code,
            retry_after=error.retry_after,
            should_retry_header=answer.headers.get("x-should-retry"),
            retries_taken=retries,
            max_retries=options.max_retries,
            max_retry_after=options.max_retry_after,
            has_budget=has_budget,
            rand=self._rand,
        )

    def _success(
        self,
        decoder: msgspec.json.Decoder[Envelope[T]] | None,
        answer: _Answer,
        call: _Call,
        retries: int,
    ) -> T:
        """Decode a 2xx's ``data``, keeping the raw answer for a `with_raw_response` call."""
        capture = RAW_CAPTURE.get()
        if capture is not None:
            capture.record(
                answer.status, answer.headers, answer.body, self._raw_request(call), retries
            )
        if decoder is None:
            return None  # type: ignore[return-value]  # an endpoint without a body (a delete)
        raw = answer.body
        try:
            envelope = decoder.decode(raw)
        except (msgspec.DecodeError, RecursionError) as exc:
            # RecursionError: JSON nested deeper than the interpreter's recursion limit.
            what = "empty body" if not raw else f"body is not the documented envelope ({exc})"
            envelope = None
        if envelope is None:  # raised outside the except block: no __context__ to carry
            raise self._invalid_body(what, answer, call, answer.headers.get("x-request-id"))
        data = envelope.data
        if data is not None:
            return data
        raise self._no_data(envelope, answer, call)

    async def _pause(self, seconds: float) -> None:
        """Pause every caller of the budget after a 429 (no budget: nothing to pause)."""
        gate = self._shared.gate
        if gate is not None:
            self.stats.pauses += 1
            if self.hooks.active:
                self.hooks.on_throttle(ThrottleEvent(kind="pause", wait=seconds))
            await gate.budget.pause(seconds)

    def _before_retry(
        self, call: _Call, retries: int, error: APIConnectionError | APIStatusError, wait: float
    ) -> None:
        """Count retry number ``retries``; tell listeners and the log it follows in ``wait`` s."""
        self.stats.retries += 1
        if self.hooks.active:
            self.hooks.on_retry(self._retry_event(call, retries, error, wait))
        logger.info(
            "%s %s (request id %s): %s; retry %d in %.2fs",
            call.method,
            call.template,
            error.request_id,
            error.__class__.__name__,
            retries,
            wait,
        )

    async def _hooked_attempt(self, call: _Call, attempt: int) -> _Answer | APIConnectionError:
        """`_attempt` between ``on_request`` and ``on_response`` (even when cancelled)."""
        hooks = self.hooks
        hooks.on_request(
            RequestEvent(method=call.method, url_template=call.template, attempt=attempt)
        )
        start = time.perf_counter()
        try:
            answer = await self._attempt(call)
        except BaseException as exc:  # cancelled (or a bug): the attempt still ends
            hooks.on_response(
                ResponseEvent(
                    method=call.method,
                    url_template=call.template,
                    attempt=attempt,
                    status=None,
                    elapsed=time.perf_counter() - start,
                    error_type=exc.__class__.__name__,
                )
            )
            raise
        elapsed = time.perf_counter() - start
        if isinstance(answer, _Answer):
            status = answer.status
            event = ResponseEvent(
                method=call.method,
                url_template=call.template,
                attempt=attempt,
                status=status,
                request_id=self._redact_optional(answer.headers.get("x-request-id")),
                elapsed=elapsed,
                bytes=len(answer.body),
                error_type=str(status) if status >= 400 else None,
            )
        else:
            event = ResponseEvent(
                method=call.method,
                url_template=call.template,
                attempt=attempt,
                status=None,
                elapsed=elapsed,
                error_type=answer.__class__.__name__,
            )
        hooks.on_response(event)
        return answer

    @staticmethod
    def _retry_event(
        call: _Call, retries: int, error: APIConnectionError | APIStatusError, wait: float
    ) -> RetryEvent:
        status = getattr(error, "status_code", None)
        return RetryEvent(
            method=call.method,
            url_template=call.template,
            attempt=retries,
            reason=str(status) if status is not None else error.__class__.__name__,
            wait=wait,
            request_id=error.request_id,
        )

    def _raw_request(self, call: _Call) -> RawRequest:
        """The request as `AsyncAPIResponse.http_request` shows it: the key redacted."""
        url = call.url.extend_query(call.params) if call.params else call.url
        headers = {k: (_REDACTED if k == "x-api-key" else v) for k, v in call.headers.items()}
        return RawRequest(method=call.method, url=str(url), headers=headers)

    async def _attempt(self, call: _Call) -> _Answer | APIConnectionError:
        """Send once (following redirects) and read the answer; a failed connection is returned."""
        session = self._live_session()
        deadlines = self._shared.deadlines
        task = deadlines.start(self.options.timeout)
        try:
            return await self._follow(session, call, call.url, _MAX_REDIRECTS + 1)
        except BaseException as exc:  # counted, then returned (a connection failure) or re-raised
            failure = self._failure(exc, call, task)
        finally:
            deadlines.stop(task)
        # Returned outside the except block, so the error has no __context__ to leak headers.
        return failure

    def _live_session(self) -> aiohttp.ClientSession:
        """The session, once checked open and on this event loop (`_session` on the slow path)."""
        shared = self._shared
        session = shared.session
        if session is None or shared.closed or shared.loop is not asyncio.get_running_loop():
            session = self._session()  # the first call, or one that must fail
        return session

    def _open(
        self, session: aiohttp.ClientSession, call: _Call, url: URL
    ) -> aiohttp.client._RequestContextManager:
        """The request of ``call`` to ``url`` (a context manager giving the response)."""
        return session.request(
            call.method,
            url,
            params=call.params,
            data=call.body,
            headers=self._wire_headers if call.headers is self._headers else call.headers,
            allow_redirects=False,
            proxy=self._proxy,
            # Never let a caller-owned session's raise_for_status=True turn a 404 into a
            # connection error that is then retried.
            raise_for_status=False,
            timeout=_NO_TIMEOUT,  # a caller's session may have its own
        )

    async def _take(self, resp: aiohttp.ClientResponse, call: _Call, url: URL) -> _Answer | URL:
        """Read the response to ``url``: its answer, or its (same-origin) redirect's target."""
        headers = resp.headers
        if self._observe:
            await self._observe_headers(headers)
        if 300 <= resp.status < 400:
            return self._redirect_target(call, url, resp.status, headers)
        if self._whole(resp):
            return _Answer(resp.status, headers, await resp.read())
        return _Answer(resp.status, headers, await self._read(resp, call))

    async def _follow(
        self, session: aiohttp.ClientSession, call: _Call, url: URL, hops: int
    ) -> _Answer:
        """Send to ``url`` and on along redirects, ``hops`` requests at most."""
        for _ in range(hops):
            async with self._open(session, call, url) as resp:
                answer = await self._take(resp, call, url)
            if isinstance(answer, _Answer):
                return answer
            url = answer
        raise APIResponseValidationError(
            f"more than {_MAX_REDIRECTS} redirects", status_code=resp.status, method=call.method
        )

    def _failure(
        self, exc: BaseException, call: _Call, task: asyncio.Task[Any]
    ) -> APIConnectionError:
        """Count an attempt that got no answer; return its error, or re-raise the exception.

        A connection error or timeout (the attempt's deadline included) is returned (the retry
        loop decides), and so is aiohttp's RuntimeError once the client closed mid-call; the
        caller's cancellation, a body or redirect the client refuses, and bugs propagate.
        """
        self.stats.counts[ERROR] += 1
        if isinstance(exc, asyncio.CancelledError) and self._shared.deadlines.expired(task):
            exc = TimeoutError()  # the attempt's deadline, not the caller's cancellation
        if isinstance(exc, aiohttp.ClientError | TimeoutError):
            return self._connection_error(exc, call)
        if isinstance(exc, RuntimeError) and self._shared.closed:
            # aiohttp: "Session is closed" after aclose()
            return APIConnectionError(
                f"the client was closed during the call ({exc})", method=call.method, path=call.path
            )
        raise exc

    async def _observe_headers(self, headers: Mapping[str, str]) -> None:
        budget = self.budget
        if budget is not None:
            limit, remaining, reset_after = _retry.parse_rate_limit(headers)
            await budget.observe(limit=limit, remaining=remaining, reset_after=reset_after)

    def _whole(self, resp: aiohttp.ClientResponse) -> bool:
        """Whether ``resp`` is read whole as it stands: no redirect, no encoding, length capped."""
        headers = resp.headers
        length = headers.get(hdrs.CONTENT_LENGTH)  # istr keys: a third of a str lookup's cost
        return (
            length is not None
            and not 300 <= resp.status < 400
            and hdrs.CONTENT_ENCODING not in headers
            and int(length) <= self.options.max_response_bytes
        )

    async def _read(self, resp: aiohttp.ClientResponse, call: _Call) -> bytes:
        """Read the body, counting the bytes after decompression against the cap.

        ``Content-Length`` counts compressed bytes: a 510 KiB gzip body can decode to 512 MiB.
        aiohttp decodes incrementally as the stream is read, so reading chunk by chunk and
        stopping at the cap bounds memory for every encoding it decodes (gzip, deflate, and br
        or zstd when installed). Only an unencoded body of a known, small length is read whole.
        """
        limit = self.options.max_response_bytes
        length = resp.content_length
        encoded = resp.headers.get("Content-Encoding", "identity").lower() != "identity"
        if length is not None and length <= limit and not encoded:
            return await resp.read()
        if length is None or length <= limit:
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.content.iter_any():
                size += len(chunk)
                if size > limit:
                    break
                chunks.append(chunk)
            else:
                return b"".join(chunks)
        raise APIResponseValidationError(
            f"response body is larger than max_response_bytes={limit}",
            status_code=resp.status,
            request_id=self._redact_optional(resp.headers.get("x-request-id")),
            method=call.method,
            path=call.path,
        )

    def _redirect_target(
        self, call: _Call, url: URL, status: int, headers: Mapping[str, str]
    ) -> URL:
        location = headers.get("Location")
        problem = "a redirect without Location"
        if location is not None:
            try:
                target = url.join(URL(location))
                origin = target.origin()
            except (ValueError, TypeError, UnicodeError):
                # yarl raises these for "http://[::1", a port over 65535, a bad IDNA host...
                problem = f"a redirect to an unusable Location {self._redact(location)[:200]!r}"
            else:
                if origin == self._origin:
                    return target
                # Never carry x-api-key to another host or scheme; the v3 API does not redirect.
                problem = (
                    f"refused a redirect to another origin ({origin}); "
                    "the API key is only sent to the configured base URL"
                )
        raise APIResponseValidationError(
            problem,
            status_code=status,
            request_id=self._redact_optional(headers.get("x-request-id")),
            method=call.method,
            path=call.path,
        )

    def _connection_error(self, exc: BaseException, call: _Call) -> APIConnectionError:
        if isinstance(exc, TimeoutError):
            return APITimeoutError(
                f"no response within timeout={self.options.timeout:g}s ({exc.__class__.__name__})",
                method=call.method,
                path=call.path,
            )
        text = self._redact(f"{exc.__class__.__name__}: {exc}")
        return APIConnectionError(text, method=call.method, path=call.path)

    def _redact(self, text: str) -> str:
        key = self._api_key
        return text.replace(key, _REDACTED) if len(key) >= _MIN_REDACT else text

    def _redact_optional(self, text: str | None) -> str | None:
        """`_redact` for the error fields a server may leave out (code, doc_url, request_id)."""
        return None if text is None else self._redact(text)

    def _excerpt(self, body: bytes) -> str:
        text = body[: _EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
        text = self._redact(" ".join(text.split()))
        return text[:_EXCERPT_CHARS] + ("…" if len(text) > _EXCERPT_CHARS else "")

    def _no_data(self, envelope: Envelope[Any], answer: _Answer, call: _Call) -> SentError:
        """The error for a 2xx envelope without ``data``: the API's own error, or a bad body."""
        status = answer.status
        request_id = answer.headers.get("x-request-id")
        if envelope.meta is not None and envelope.meta.request_id:
            request_id = envelope.meta.request_id
        detail = envelope.error
        if envelope.success is False and detail is not None:
            # A 2xx that says it failed: surface the API's error rather than "no data".
            return status_error_class(status if status >= 400 else 500)(
                self._redact(detail.message or "the API reported a failure"),
                status_code=status,
                code=self._redact_optional(detail.code),
                details=error_details(detail.details, self._redact),
                doc_url=self._redact_optional(detail.doc_url),
                request_id=self._redact_optional(request_id),
                method=call.method,
                path=call.path,
            )
        what = (
            "204 No Content where data was expected"
            if status == 204
            else "success response without data"
        )
        return self._invalid_body(what, answer, call, request_id)

    def _invalid_body(
        self, what: str, answer: _Answer, call: _Call, request_id: str | None
    ) -> APIResponseValidationError:
        return APIResponseValidationError(
            self._redact(what),
            status_code=answer.status,
            body_excerpt=self._excerpt(answer.body),
            request_id=self._redact_optional(request_id),
            method=call.method,
            path=call.path,
        )

    def _status_error(self, answer: _Answer, call: _Call) -> APIStatusError:
        status, headers, raw = answer.status, answer.headers, answer.body
        code = message = doc_url = request_id = None
        details: Any = None
        try:
            envelope = _ERROR_DECODER.decode(raw)
        except (msgspec.DecodeError, RecursionError):
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
            excerpt = self._excerpt(raw)
            message = f"HTTP {status}" + (f" with body: {excerpt}" if excerpt else " with no body")
        return status_error_class(status)(
            self._redact(message),
            status_code=status,
            retry_after=_retry.parse_retry_after(headers),
            code=self._redact_optional(code),
            details=error_details(details, self._redact),
            doc_url=self._redact_optional(doc_url),
            request_id=self._redact_optional(request_id or headers.get("x-request-id")),
            method=call.method,
            path=call.path,
        )
