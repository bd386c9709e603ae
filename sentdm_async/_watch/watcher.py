"""The public `Watcher`: a thin handle on the scheduler job (`sentdm_async._watch.scheduler`).

It checks and forwards: adding ids, pushes (webhook events become steps), checkpoints, and the
read-only view of the watch (its settings, polls sent, the pushes' mode and loss share).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentdm_async._bulk.engine import Handle
from sentdm_async._watch.policy import DEFAULT_WATCH_CONCURRENCY as DEFAULT_WATCH_CONCURRENCY
from sentdm_async._watch.policy import PollPolicy as PollPolicy
from sentdm_async._watch.policy import WatchSettings as WatchSettings
from sentdm_async._watch.scheduler import WatchJob
from sentdm_async.types.messages import WatchEvent
from sentdm_async.webhooks import MessageEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Iterable

    from sentdm_async._http.options import BaseRequestOptions
    from sentdm_async._http.transport import Transport
    from sentdm_async._watch.push import PushMode
    from sentdm_async.webhooks import WebhookEvent

__all__ = ["DEFAULT_WATCH_CONCURRENCY", "PollPolicy", "WatchSettings", "Watcher", "new_watcher"]


class Watcher(Handle[WatchEvent]):
    """Watches many messages through one scheduler and the client's one request budget.

    Obtain it from ``client.messages.watcher(...)`` (add ids yourself) or
    ``client.messages.watch_many(ids, ...)`` (ids from an iterable). Iterate it with
    ``async for`` to receive `WatchEvent` objects: one per new activity, in order per message,
    ``done=True`` on the one that ends the watch; or one with ``error`` set and ``done=True``
    when the message timed out (`WatchTimeoutError`) or failed permanently (e.g. `NotFoundError`
    after the grace period). Every added id gets exactly one ``done=True`` event.

    Use ``async with`` (or `aclose`) so polling stops when you leave: a watcher dropped while
    it still runs is cancelled and warns with `ResourceWarning`. Iteration ends once `finish`
    was called and every added message is done. Cancelling a read loses nothing; one task
    reads at a time (see `sentdm_async._bulk.engine`).
    """

    __slots__ = ()
    _job: WatchJob

    def __repr__(self) -> str:
        job = self._job
        return f"<Watcher active={job.active} polls={job.polls} closed={job.closed}>"

    @property
    def until(self) -> frozenset[str]:
        """Default statuses that end a message's watch (a failure status always does too)."""
        return self._job.settings.until

    @property
    def timeout(self) -> float | None:
        """Default seconds each message may be watched, counted from its `add`.

        Per watched message: not the watcher as a whole, nor one request (each poll's requests
        follow the client's own ``timeout``). A message still unfinished then ends with a
        `WatchTimeoutError`; ``None``: no limit.
        """
        return self._job.settings.timeout

    @property
    def poll(self) -> PollPolicy:
        """The polling cadence."""
        return self._job.settings.poll

    @property
    def active(self) -> int:
        """Messages added and not yet done."""
        return self._job.active

    @property
    def polls(self) -> int:
        """Polls sent so far (each one request, plus any retries the transport made)."""
        return self._job.polls

    @property
    def pushes(self) -> PushMode:
        """What the watcher makes of the pushes it gets (`sentdm_async._watch.push`).

        ``"none"``: none came (nor were they expected): it polls at its cadence.
        ``"flowing"``: polls only fill the gaps of lost deliveries (`PollPolicy.gap_fill`).
        ``"stopped"``: deliveries stopped while messages should have moved, or the first
        push of a watcher that did not expect any just came: it polls at its cadence until
        pushes arrive again (two of them).
        """
        return self._job.pushes.mode

    @property
    def push_loss(self) -> float | None:
        """The estimated share of steps whose push does not arrive (``None``: no pushes)."""
        health = self._job.pushes.health
        return None if health is None else health.loss

    def add(
        self,
        message_id: str,
        *,
        until: Iterable[str] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Start watching ``message_id``; its first poll comes within ``jitter x min_interval``.

        Idempotent: adding an id that is being watched changes nothing, except the ``until``
        and ``timeout`` given here (a new timeout counts from now), so an app can re-add its
        unfinished rows after a crash. An id whose watch ended is watched anew. Needs a
        running event loop (it starts polling).

        Args:
            message_id: The message to watch.
            until: Statuses that end this message's watch, instead of the watcher's default
                (a failure status always ends it): wait for READ on WhatsApp and DELIVERED on
                SMS with one watcher.
            timeout: Seconds this message may be watched, counted from this call, instead of
                the watcher's default: it bounds this message's watch only (then it ends with
                a `WatchTimeoutError`), not the watcher, nor any request.

        Raises:
            TypeError: ``message_id`` is not a string, or an option of the wrong type.
            InvalidIdError: The id is malformed (a `SentError` and a `ValueError`).
            ValueError: `finish` was already called, or a bad ``until``/``timeout``.
            SentError: The watcher is closed.
        """
        self._job.add(message_id, until=until, timeout=timeout)

    def __contains__(self, message_id: object) -> bool:
        """Whether ``message_id`` is being watched (added, not done yet)."""
        return message_id in self._job

    def finish(self) -> None:
        """Say that no more ids will be added: iteration ends when every message is done."""
        self._job.finish()

    def checkpoint(self) -> bytes:
        """Save the watch: every message still watched, and the events not read yet.

        Take it after you have handled the events you read (e.g. with your own commit); a
        watcher given it by `restore`, in this process or another, goes on without yielding
        again a step you already read, however it came (push or poll), nor one before it in
        the lifecycle, and yields the unread ones. Deadlines are kept as wall time, so the
        time a restart takes counts against them. msgpack, about 60 bytes a message.

        A crash without a checkpoint costs this: steps read since the last checkpoint come
        again after `restore`, and ids added since it are not in it (add them again: `add`
        is idempotent). What the silence curves and push health learned is not kept.
        """
        return self._job.checkpoint()

    def restore(self, data: bytes) -> int:
        """Watch every message of a `checkpoint` (this watcher's defaults for the rest).

        A message saved without its own ``until`` or deadline gets this watcher's ``until``
        and ``timeout`` (counted from now). A message this watcher already watches keeps
        its live watch.

        Returns:
            How many messages were restored.

        Raises:
            SentError: Not a checkpoint, or this watcher is closed.
            InvalidIdError: A message id in it is malformed.
        """
        return self._job.restore(data)

    def push(self, event: WebhookEvent) -> bool:
        """Take a webhook event: a watched message's new step is yielded at once.

        A plain method that never blocks; call it from the watcher's event loop (the receivers
        `webhooks.aiohttp_handler` and `webhooks.asgi_app` do, given the watcher as target).
        Each step is yielded once per message whether it came by push, poll or both, and never
        after a later step: a duplicated or late delivery, or a step a later push overtook, is
        dropped (Sent's own guide ranks statuses the same way). From the first push on, polls
        only fill gaps: a message is polled once its silence makes a lost delivery likely
        (`PollPolicy.gap_fill`), so a lost delivery, even the terminal one, is still found;
        if deliveries stop, the watcher polls at its plain cadence until they return.

        Returns:
            Whether the event yielded a step: ``False`` for other families, unwatched
            messages, duplicates and late steps.
        """
        if not isinstance(event, MessageEvent) or not event.payload.message_id:
            return False
        return self._job.push(event.payload.message_id, event.activity(), event.payload.channel)


def new_watcher(
    transport: Transport,
    settings: WatchSettings,
    options: BaseRequestOptions | None = None,
    ids: Iterable[str] | AsyncIterable[str] | None = None,
) -> Watcher:
    """Build a `Watcher`: fed by the caller (``ids=None``) or from ``ids`` by a task of its own."""
    return Watcher(WatchJob(transport, settings, options, ids))
