"""`AsyncSent`: configuration, lifecycle, and the resources hung off it.

The composition root: it builds the transport and the budget, hangs the resources off the client,
and adds the bulk and watch entry points to ``client.messages``.
"""

from __future__ import annotations

import ipaddress
import os
import warnings
from typing import TYPE_CHECKING, Any, Final, Literal, Unpack

import aiohttp
import msgspec
from yarl import URL

from sentdm_async._bulk.activities import DEFAULT_BULK_CONCURRENCY, ActivityStream, activity_stream
from sentdm_async._core.checks import check_number, check_positive_int
from sentdm_async._http.hooks import Hooks
from sentdm_async._http.options import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_TIMEOUT,
    BaseRequestOptions,
    ClientOptions,
    RequestOptions,
    check_request_options,
)
from sentdm_async._http.stats import ClientStats, StatsRecorder
from sentdm_async._http.transport import Transport
from sentdm_async._ratelimit.budget import RateBudget, make_budget
from sentdm_async._ratelimit.gate import FairGate
from sentdm_async._watch.watcher import (
    DEFAULT_WATCH_CONCURRENCY,
    PollPolicy,
    Watcher,
    WatchSettings,
    new_watcher,
)
from sentdm_async.errors import SentError
from sentdm_async.resources import messages as message_endpoints
from sentdm_async.resources._raw import RawResponses
from sentdm_async.resources.channels import Channels
from sentdm_async.resources.contacts import Contacts
from sentdm_async.resources.conversations import Conversations
from sentdm_async.resources.me import MeResource
from sentdm_async.resources.numbers import Numbers
from sentdm_async.resources.profiles import Profiles
from sentdm_async.resources.templates import Templates
from sentdm_async.resources.users import Users
from sentdm_async.resources.voice import Voice
from sentdm_async.resources.webhooks import Webhooks
from sentdm_async.types.messages import TERMINAL_STATUSES, Activity

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
    from types import TracebackType

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RETRY_AFTER",
    "DEFAULT_TIMEOUT",
    "AsyncSent",
]

_NOT_GIVEN: Final = object()


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_api_key(api_key: object) -> str:
    if api_key is None:
        api_key = os.environ.get(API_KEY_ENV)
    if not api_key:
        raise SentError(
            f"no API key: pass AsyncSent(api_key=...) or set the {API_KEY_ENV} environment variable"
        )
    if not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str, got {type(api_key).__name__}")
    if any(c in api_key for c in "\r\n\0"):
        raise SentError("api_key contains a line break or NUL character")
    return api_key


def _check_session(session: object) -> aiohttp.ClientSession | None:
    if session is not None and not isinstance(session, aiohttp.ClientSession):
        raise TypeError(f"session must be an aiohttp.ClientSession, got {type(session).__name__}")
    return session


def _make_hooks(hooks: object) -> Hooks:
    """The client's listeners (`Hooks` brings the client's stats recorder)."""
    if hooks is None:
        given: list[object] = []
    elif isinstance(hooks, list | tuple):
        given = list(hooks)
    else:
        given = [hooks]
    return Hooks(given)


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


class Messages(message_endpoints.Messages):
    """``client.messages``: the message endpoints, plus bulk fetching and watchers.

    The endpoints live in `sentdm_async.resources.messages`; the bulk and watch entry points
    are added here, above the orchestration layer they start (the resources layer may not
    import it).
    """

    def retrieve_activities_many(
        self,
        ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int = DEFAULT_BULK_CONCURRENCY,
        ordered: bool = False,
        **options: Unpack[RequestOptions],
    ) -> ActivityStream:
        """Fetch the activity logs of many messages, streaming, with bounded concurrency.

        ``ids`` is read lazily (a generator of millions of ids is fine): at most about
        ``2 x concurrency`` ids and answers are held at once. Every input id yields exactly one
        `ActivityResult`, a repeated id once per occurrence. Anything that goes wrong with one
        id or its response (an API or connection failure after the retries, a malformed id, a
        body that cannot be read) lands in ``result.error`` and the job goes on; an exception
        from the id source, a bug or cancellation propagates. Every request draws on the
        client's budget, through the job's own fair share.

        Args:
            ids: Message ids, an iterable or async iterable.
            concurrency: Most requests in flight at once (default 32); workers start only as
                ids arrive.
            ordered: Yield in input order (holding back answers that finish early, within a
                window of ``4 x concurrency`` ids) instead of as they complete.
            **options: Per-call `RequestOptions` for every request (``timeout`` bounds each).

        Returns:
            An `ActivityStream`; use ``async with`` so leaving stops every request.

        Raises:
            TypeError: ``ids`` is not iterable (a single string is refused too).
            ValueError: ``concurrency`` below 1.
        """
        check_request_options(options)
        return activity_stream(
            self._transport,
            ids,
            concurrency=check_positive_int("concurrency", concurrency),
            ordered=bool(ordered),
            options=options or None,
        )

    def watcher(
        self,
        *,
        until: Iterable[str] = TERMINAL_STATUSES,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        concurrency: int = DEFAULT_WATCH_CONCURRENCY,
        expect_pushes: bool = False,
        **options: Unpack[BaseRequestOptions],
    ) -> Watcher:
        """Create a `Watcher` to which ids can be added at any time (web apps, workers).

        Use it as ``async with client.messages.watcher() as w:``, call ``w.add(message_id)``
        whenever you have an id (with ``until=``/``timeout=`` of its own if it needs them) and
        ``w.finish()`` once you have no more, and read `WatchEvent` objects with
        ``async for event in w``.

        Args:
            until: Statuses that end a message's watch (a failure status always does).
            timeout: Seconds each message may be watched from when it is added; ``None`` means
                no limit. A message that runs out ends with a `WatchTimeoutError` event.
            poll: The polling cadence (default `PollPolicy()`).
            concurrency: Most polls in flight at once (the budget is usually the tighter bound).
            expect_pushes: A webhook receiver will push into this watcher (`Watcher.push`):
                messages wait for pushes from the start instead of being polled until the first
                one arrives. If none comes, the watcher polls as usual.
            **options: Per-call `RequestOptions` for the polls (``timeout`` is per message
                here; the polls are bounded by it).
        """
        settings = WatchSettings.build(
            until=until,
            timeout=timeout,
            poll=poll,
            concurrency=concurrency,
            expect_pushes=expect_pushes,
        )
        check_request_options(options)
        return new_watcher(self._transport, settings, options or None)

    def watch_many(
        self,
        ids: Iterable[str] | AsyncIterable[str],
        *,
        until: Iterable[str] = TERMINAL_STATUSES,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        concurrency: int = DEFAULT_WATCH_CONCURRENCY,
        expect_pushes: bool = False,
        **options: Unpack[BaseRequestOptions],
    ) -> Watcher:
        """Watch many messages through one scheduler and the client's one request budget.

        Yields `WatchEvent` objects: one per new activity of each message, in order
        (``done=True`` on the one that ends its watch), or one with ``error`` set and
        ``done=True`` when a message times out, fails permanently or is malformed. Every input
        id ends with exactly one ``done=True`` event. ``ids`` may be an async iterable that
        keeps producing while the watch runs; ``timeout`` counts for each message from when it
        is read.

        Args:
            ids: Message ids, an iterable or async iterable.
            until: Statuses that end a message's watch (a failure status always does).
            timeout: Seconds per message; ``None`` means no limit.
            poll: The polling cadence (default `PollPolicy()`).
            concurrency: Most polls in flight at once.
            expect_pushes: A webhook receiver will push into this watcher (see `watcher`).
            **options: Per-call `RequestOptions` for the polls.

        Returns:
            A `Watcher`; use ``async with`` so leaving stops the polling.
        """
        settings = WatchSettings.build(
            until=until,
            timeout=timeout,
            poll=poll,
            concurrency=concurrency,
            expect_pushes=expect_pushes,
        )
        check_request_options(options)
        return new_watcher(self._transport, settings, options or None, ids)

    async def watch(
        self,
        message_id: str,
        *,
        until: Iterable[str] = TERMINAL_STATUSES,
        timeout: float | None = None,  # noqa: ASYNC109 - the contract's name; we enforce it
        poll: PollPolicy | None = None,
        **options: Unpack[BaseRequestOptions],
    ) -> AsyncIterator[Activity]:
        """Yield each new activity of a message, oldest first, until its watch ends.

        The first poll comes promptly; later ones follow `PollPolicy` and the message's status.
        Ends after the first activity whose status is in ``until`` (or is a failure); if the
        log is already final at the first poll, yields what is there and ends. A 404 within
        ``poll.not_found_grace`` of the start means "not visible yet". Transient failures are
        retried; leaving the loop stops polling (use ``contextlib.aclosing`` to stop at once).

        Args:
            message_id: The message to watch.
            until: Statuses that end the watch (default `TERMINAL_STATUSES`).
            timeout: Seconds for the whole watch, a wall-clock bound; ``None`` means no limit.
            poll: The polling cadence (default `PollPolicy()`).
            **options: Per-call `RequestOptions` for the polls.

        Raises:
            WatchTimeoutError: ``timeout`` passed first (carries ``last_activity``).
            NotFoundError: Still unknown after the grace period.
            InvalidIdError: ``message_id`` is malformed (before any request).
            SentError: A permanent failure (e.g. `AuthenticationError`).
        """
        settings = WatchSettings.build(until=until, timeout=timeout, poll=poll, concurrency=1)
        check_request_options(options)
        async with new_watcher(self._transport, settings, options or None) as watcher:
            watcher.add(message_id)
            watcher.finish()
            async for event in watcher:
                if event.error is not None:
                    raise event.error
                if event.activity is not None:
                    yield event.activity

    async def wait_until_terminal(
        self,
        message_id: str,
        *,
        until: Iterable[str] = TERMINAL_STATUSES,
        timeout: float | None = None,  # noqa: ASYNC109 - as in watch()
        poll: PollPolicy | None = None,
        **options: Unpack[BaseRequestOptions],
    ) -> Activity:
        """Wait for a message to reach a status in ``until`` (or a failure) and return it.

        Takes the same arguments as `watch` and raises the same errors.
        """
        last: Activity | None = None
        async for activity in self.watch(
            message_id, until=until, timeout=timeout, poll=poll, **options
        ):
            last = activity
        if last is None:  # pragma: no cover - a watch always ends with an activity or raises
            raise SentError(f"watch of {message_id!r} ended without an activity")
        return last


class AsyncSent:
    """Asyncio client of the Sent v3 API.

    One client holds one aiohttp session (a pool of keep-alive connections) and one request
    budget shared by every request it makes: calls from a web app, bulk jobs and watchers all
    draw on it, each with a fair share. Create one per process and event loop, use it as
    ``async with``, or call `aclose`.

    Args:
        api_key: The account's API key; defaults to ``$SENT_DM_API_KEY``.
        base_url: Defaults to ``$SENT_BASE_URL``, else ``https://api.sent.dm``. Plain ``http://``
            is refused unless the host is loopback.
        profile_id: Sent as ``x-profile-id`` on every call (each method also takes
            ``profile_id=``).
        timeout: Seconds per attempt, whole response included (default 30). Each method also
            takes ``timeout=``, a bound on the whole call (budget wait and retries included).
        max_retries: Retries after the first attempt (default 2).
        max_retry_after: Longest server-requested wait (``Retry-After``) slept through, in
            seconds (default 60); a longer one raises at once with ``.retry_after`` set.
        max_connections: Size of the connection pool (default 100).
        max_response_bytes: Largest response body read, counted after decompression
            (default 10 MiB).
        rate_limit: The shared request budget: ``"auto"`` (default) starts at 200/min burst 50
            and follows the server's ``X-RateLimit-*`` headers; a number fixes requests per
            minute; ``None`` means no client-side limit; a `RateBudget` is used as given (e.g.
            `sentdm_async.redis.RedisRateBudget`, shared by several processes). Any 429 pauses
            every caller of the client.
        trust_env: Use ``HTTP(S)_PROXY``/``NO_PROXY`` and ``.netrc`` as the official SDK does
            (default ``True``).
        default_headers: Headers sent on every request.
        session: An ``aiohttp.ClientSession`` you own and close; ``max_connections`` and
            ``trust_env`` then do not apply.
        hooks: A listener, or a list of them: objects with any of the methods ``on_request``,
            ``on_response``, ``on_retry``, ``on_throttle`` and ``on_status``, each called with
            a small frozen Struct (`RequestEvent`, `ResponseEvent`, ...). A listener that
            raises is logged and never breaks a request. ``client.hooks.add`` adds one later.

    Raises:
        SentError: No API key, or an unusable ``base_url``.
        TypeError: An argument of the wrong type, or a listener without any ``on_*`` method.
        ValueError: A negative or non-finite number, or a header value with a line break.
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
        trust_env: bool = True,
        default_headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        hooks: object | list[object] | None = None,
    ) -> None:
        api_key = _check_api_key(api_key)
        if base_url is None:
            base_url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        if isinstance(rate_limit, int | float) and not isinstance(rate_limit, bool):
            check_number("rate_limit", rate_limit, positive=True)
        session = _check_session(session)
        options = ClientOptions(
            base_url=_check_base_url(base_url),
            profile_id=profile_id,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_after=max_retry_after,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            trust_env=trust_env,
            default_headers=dict(default_headers or {}),
        )
        budget = make_budget(rate_limit)
        gate = FairGate(budget) if budget is not None else None
        transport = Transport(
            api_key=api_key, options=options, gate=gate, session=session, hooks=_make_hooks(hooks)
        )
        self._attach(transport)

    def _attach(self, transport: Transport) -> None:
        self._transport = transport
        #: Message endpoints, bulk fetching and watchers.
        self.messages = Messages(transport)
        #: Contact endpoints.
        self.contacts = Contacts(transport)
        #: Webhook endpoint management (receiving them: `sentdm_async.webhooks`).
        self.webhooks = Webhooks(transport)
        #: Messages across conversations, or of one conversation.
        self.conversations = Conversations(transport)
        #: Message templates.
        self.templates = Templates(transport)
        #: Profiles, and their campaigns (``profiles.campaigns``).
        self.profiles = Profiles(transport)
        #: Users of the organization or profile.
        self.users = Users(transport)
        #: Who the API key belongs to.
        self.me = MeResource(transport)
        #: Phone number look-up.
        self.numbers = Numbers(transport)
        #: Senders (``channels.voice``).
        self.channels = Channels(transport)
        #: Voice calls (``voice.calls``, with recordings and participants) and ``voice.tokens``.
        self.voice = Voice(transport)

    def with_options(
        self,
        *,
        profile_id: str | object | None = _NOT_GIVEN,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_retry_after: float | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> AsyncSent:
        """Return a client with some options changed, sharing this one's session and budget.

        The copy draws on the same connection pool and the same rate budget (the account has
        one limit), so it costs nothing to make one per call site. Closing either closes the
        shared session; close the original.

        Args:
            profile_id: A new default ``x-profile-id`` (``None`` to send none).
            timeout: Seconds per attempt.
            max_retries: Retries after the first attempt.
            max_retry_after: Longest ``Retry-After`` slept through.
            default_headers: Headers added to (and overriding) this client's default headers.
        """
        current = self._transport.options
        given = {"timeout": timeout, "max_retries": max_retries, "max_retry_after": max_retry_after}
        changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        if profile_id is not _NOT_GIVEN:
            changes["profile_id"] = profile_id
        if default_headers is not None:
            changes["default_headers"] = {**current.default_headers, **default_headers}
        options = msgspec.structs.replace(current, **changes)
        copy = object.__new__(AsyncSent)
        copy._attach(self._transport.derive(options))
        copy._derived = True
        return copy

    _derived = False

    def __repr__(self) -> str:
        # Never the API key.
        profile = f", profile_id={self.profile_id!r}" if self.profile_id else ""
        return f"AsyncSent(base_url={self.base_url!r}{profile}, rate_limit={self.budget!r})"

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self._transport.options.base_url

    @property
    def profile_id(self) -> str | None:
        """The default ``x-profile-id``."""
        return self._transport.options.profile_id

    @property
    def budget(self) -> RateBudget | None:
        """The shared request budget (``None``: no client-side limit)."""
        return self._transport.budget

    @property
    def timeout(self) -> float:
        """Seconds per attempt."""
        return self._transport.options.timeout

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._transport.options.max_retries

    @property
    def hooks(self) -> Hooks:
        """The client's listeners (shared with its `with_options` copies); ``.add`` one more."""
        return self._transport.hooks

    def stats(self) -> ClientStats:
        """What this client (and its `with_options` copies) did so far: a `ClientStats`.

        Requests by status class, 429s, retries, the budget wait's p50/p95, and for watchers
        the messages watched and finished and their steps by push and by poll.
        """
        found = (h for h in self.hooks.listeners if isinstance(h, StatsRecorder))
        return next(found, StatsRecorder()).snapshot()  # nothing counted if it was removed

    @property
    def with_raw_response(self) -> Any:
        """The same resources, each single-call method answering an `AsyncAPIResponse`.

        ``raw = await client.with_raw_response.messages.retrieve_status(message_id)`` gives
        ``raw.status_code``, ``raw.headers``, ``raw.request_id``, ``raw.http_request`` and
        ``await raw.parse()`` (the `Message`), as in the official SDK. The call draws on the
        same budget and retries; an error status raises as usual.
        """
        return RawResponses(self)

    @property
    def closed(self) -> bool:
        """Whether the client (or the one it was derived from) was closed."""
        return self._transport.closed

    async def aclose(self) -> None:
        """Fail calls still waiting for the budget, close the connection pool. Idempotent.

        A caller-owned ``session`` is left open.
        """
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
        if transport is not None and not self._derived and transport.session_open:
            _warn(
                f"unclosed {self!r}: use 'async with AsyncSent()' or 'await client.aclose()'",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )
