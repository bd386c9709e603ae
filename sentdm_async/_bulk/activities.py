"""Bulk activity-log fetches: the fan-out engine with one ``fetch`` per message id.

Every id becomes exactly one result: an `ActivityOk`, or an `ActivityFailure` whose ``error`` is
whatever went wrong with that id or its response (an API error, a connection error or timeout
that outlasted the retries, a malformed id, a body that could not be read). Only the id source's
own exceptions, cancellation and bugs end the job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from sentdm_async._bulk.engine import FanOut, Handle
from sentdm_async._core.ids import ACTIVITIES_TEMPLATE, message_path
from sentdm_async._ratelimit.gate import BULK_WEIGHT
from sentdm_async.errors import SentError
from sentdm_async.resources.messages import ACTIVITIES
from sentdm_async.types.messages import ActivityFailure, ActivityLog, ActivityOk, ActivityResult

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Awaitable, Callable, Iterable

    from sentdm_async._http.options import RequestOptions
    from sentdm_async._http.transport import Transport

__all__ = [
    "ActivityStream",
    "activity_failure",
    "activity_fetcher",
    "activity_result",
    "activity_stream",
]

#: The one decoder of activity logs (single calls, bulk jobs and watchers).


#: Requests in flight of one `retrieve_activities_many` by default.
DEFAULT_BULK_CONCURRENCY: Final = 32


class ActivityStream(Handle[ActivityResult]):
    """Async iterator of `ActivityResult`, one per input id (`retrieve_activities_many`).

    Use it as ``async with`` so every request stops when you leave (a stream dropped while it
    still runs is cancelled and warns with `ResourceWarning`). The reading contract (cancelled
    reads, one reader) is the engine's, see `sentdm_async._bulk.engine`.
    """

    __slots__ = ()


def activity_fetcher(
    transport: Transport, options: RequestOptions | None, *, lane_name: str
) -> Callable[[str], Awaitable[ActivityLog]]:
    """Return ``fetch(message_id)``: the request of one log, drawing on one fair-share lane.

    Not a coroutine function: it returns the transport's awaitable (a malformed id raises
    `InvalidIdError` at once), and the engine makes the result (`activity_result`,
    `activity_failure`), one coroutine fewer per id.
    """
    request = transport.request
    lane = transport.lane(lane_name, BULK_WEIGHT)

    def fetch(message_id: str) -> Awaitable[ActivityLog]:
        return request(
            "GET",
            message_path(message_id, "/activities"),
            ACTIVITIES,
            options=options,
            lane=lane,
            template=ACTIVITIES_TEMPLATE,
        )

    return fetch


def activity_result(message_id: str, log: ActivityLog) -> ActivityResult:
    """The result of an id whose log was fetched."""
    return ActivityOk(message_id=message_id, log=log)


def activity_failure(message_id: str, error: BaseException) -> ActivityResult:
    """The result of an id that failed: any `SentError` (`InvalidIdError` included)."""
    return ActivityFailure(message_id=message_id, error=error)  # type: ignore[arg-type]


def activity_stream(
    transport: Transport,
    ids: Iterable[str] | AsyncIterable[str],
    *,
    concurrency: int,
    ordered: bool,
    options: RequestOptions | None,
) -> ActivityStream:
    """Build the stream; its workers start at ``async with`` or the first ``__anext__``."""
    job = FanOut(
        activity_fetcher(transport, options, lane_name="bulk"),
        ids,
        concurrency=concurrency,
        ordered=ordered,
        done=activity_result,
        failed=activity_failure,
        errors=(SentError,),  # a non-str id (TypeError) is a bug: it ends the job
    )
    job.kind = "ActivityStream"
    return ActivityStream(job)
