"""Watchers against the simulator on a real socket, with millisecond poll intervals."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections import Counter
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from sentdm_async import (
    FAILURE_STATUSES,
    TERMINAL_STATUSES,
    Activity,
    ActivityLog,
    AsyncSent,
    AuthenticationError,
    NotFoundError,
    PollPolicy,
    SentError,
    WatchEvent,
    WatchTimeoutError,
)
from sentdm_async._watch import watcher as _watch
from sentdm_async._watch.watcher import STATUS_FACTORS, WatchSettings, _Watched, _WatchJob
from sentdm_async.simulator import OutcomeMix, Simulator
from sentdm_async.types._decode import dec_hook

from .conftest import API_KEY, assert_no_new_requests, settled_requests

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from datetime import datetime

FAST = PollPolicy(min_interval=0.01, max_interval=0.05, not_found_grace=0.3)


def planned(
    sim: Simulator, message_id: str, until: frozenset[str] = TERMINAL_STATUSES
) -> list[str]:
    """The simulator's planned statuses of a message, up to the first that ends a watch."""
    stop = until | FAILURE_STATUSES
    out: list[str] = []
    for _, status in sim.lifecycle(message_id):
        out.append(status)
        if status in stop:
            break
    return out


@pytest.mark.parametrize(
    ("outcome", "channel", "until", "last"),
    [
        pytest.param("delivered", "sms", TERMINAL_STATUSES, "DELIVERED", id="delivered"),
        pytest.param("read", "whatsapp", frozenset({"READ"}), "READ", id="read-until-read"),
        pytest.param("read", "whatsapp", TERMINAL_STATUSES, "DELIVERED", id="read-stops-at-first"),
        pytest.param("failed", "sms", TERMINAL_STATUSES, "FAILED", id="failed"),
        pytest.param("blocked", "sms", TERMINAL_STATUSES, "BLOCKED", id="blocked"),
        pytest.param("filtered", "whatsapp", frozenset({"READ"}), "FILTERED", id="failure-ends"),
    ],
)
async def test_watch_yields_each_step_once_in_order(
    client: AsyncSent, sim: Simulator, outcome: str, channel: str, until: frozenset[str], last: str
) -> None:
    """Every lifecycle step is yielded once, oldest first, ending at the first stop status."""
    message_id = sim.create_message(outcome=outcome, channel=channel)
    seen = [a async for a in client.messages.watch(message_id, until=until, poll=FAST)]
    statuses = [a.status for a in seen]
    assert statuses == planned(sim, message_id, until)
    assert statuses[-1] == last
    assert statuses[0] == "QUEUED"
    stamps: list[datetime] = [a.timestamp for a in seen]
    assert stamps == sorted(stamps)


async def test_already_terminal_yields_everything_at_once(
    client: AsyncSent, sim: Simulator
) -> None:
    """A message finished before the first poll yields its whole log after one request."""
    message_id = sim.create_message(outcome="blocked")  # terminal within 2 simulated seconds
    terminal_at = sim.terminal_at(message_id)
    assert terminal_at is not None
    await asyncio.sleep(terminal_at - time.monotonic() + 0.01)
    sim.stats.reset()
    statuses = [a.status async for a in client.messages.watch(message_id, poll=FAST)]
    assert statuses == planned(sim, message_id) == ["QUEUED", "BLOCKED"]
    assert sim.stats.requests == 1


async def test_wait_until_terminal(client: AsyncSent, sim: Simulator) -> None:
    """wait_until_terminal returns the activity that ended the watch."""
    message_id = sim.create_message(outcome="failed")
    activity = await client.messages.wait_until_terminal(message_id, poll=FAST)
    assert isinstance(activity, Activity)
    assert activity.status == "FAILED"
    assert activity.is_failure
    assert activity.reason_code


async def test_timeout_carries_last_activity(client: AsyncSent, sim: Simulator) -> None:
    """A message stuck at SENT times out with WatchTimeoutError carrying the last activity."""
    message_id = sim.create_message(outcome="no_receipt")
    seen: list[str] = []

    async def watch() -> None:
        seen.extend(
            [a.status async for a in client.messages.watch(message_id, timeout=0.6, poll=FAST)]
        )

    with pytest.raises(WatchTimeoutError) as info:
        await watch()
    error = info.value
    assert isinstance(error, TimeoutError)
    assert error.message_id == message_id
    assert error.last_activity is not None
    assert error.last_activity.status == "SENT"
    assert message_id in str(error)


async def test_not_found_grace_recovers(client: AsyncSent, sim: Simulator) -> None:
    """A message not visible yet (404) is waited for within the grace period."""
    message_id = sim.create_message(outcome="delivered", visible_after=0.1 * sim.speed)
    activity = await client.messages.wait_until_terminal(
        message_id, poll=PollPolicy(min_interval=0.01, max_interval=0.05, not_found_grace=5.0)
    )
    assert activity.status == "DELIVERED"
    assert sim.stats.by_status[404] >= 1


async def test_not_found_grace_expires(client: AsyncSent, sim: Simulator) -> None:
    """An id still unknown after the grace ends the watch with NotFoundError."""
    with pytest.raises(NotFoundError):
        await client.messages.wait_until_terminal("never-existed", poll=FAST)
    assert sim.stats.by_status[404] >= 2


async def test_transient_5xx_does_not_end_a_watch(client: AsyncSent, sim: Simulator) -> None:
    """5xx answers beyond the transport's retries are polled through."""
    message_id = sim.create_message(outcome="delivered")
    sim.inject("status", status=503, times=7, route="activities")
    sim.inject("drop", times=2, route="activities")
    statuses = [a.status async for a in client.messages.watch(message_id, poll=FAST)]
    assert statuses == planned(sim, message_id)
    assert sim.stats.by_status[503] == 7


async def test_permanent_error_ends_the_watch(sim: Simulator) -> None:
    """A 401 is not retried by the watcher: it is raised."""
    message_id = sim.create_message()
    async with AsyncSent(api_key="sk_wrong", base_url=sim.base_url, rate_limit=None) as client:
        with pytest.raises(AuthenticationError):
            await client.messages.wait_until_terminal(message_id, poll=FAST)
    assert sim.stats.requests == 1


async def _arrive_over_time(ids: list[str], gap: float) -> AsyncIterator[str]:
    for message_id in ids:
        yield message_id
        await asyncio.sleep(gap)


async def test_watch_many_ids_arriving_over_time(client: AsyncSent, sim: Simulator) -> None:
    """Ids from a slow async source are all watched; each ends with exactly one done event."""
    ids = sim.create_messages(30, channel="sms")
    ids += ["bad\nid", "missing-id"]
    source = _arrive_over_time(ids, 0.01)
    events = [e async for e in client.messages.watch_many(source, poll=FAST, timeout=1.5)]
    done = Counter(e.message_id for e in events if e.done)
    assert done == Counter(ids)
    per_message: dict[str, list[str]] = {}
    for event in events:
        if event.activity is not None:
            per_message.setdefault(event.message_id, []).append(event.activity.status)
    finished = {e.message_id for e in events if e.done and e.activity is not None}
    for message_id in ids[:30]:
        expected = planned(sim, message_id)
        if message_id in finished:
            assert per_message[message_id] == expected
        else:  # timed out first (no receipt, or a long tail): the steps so far, in order
            assert per_message[message_id] == expected[: len(per_message[message_id])]
    errors = {e.message_id: e.error for e in events if e.error is not None}
    assert isinstance(errors["bad\nid"], ValueError)
    assert isinstance(errors["missing-id"], NotFoundError)


async def test_watch_many_duplicate_ids_are_watched_once(client: AsyncSent, sim: Simulator) -> None:
    """An id given twice while it is watched is watched once: each step once, one end."""
    message_id = sim.create_message(outcome="blocked")
    events = [e async for e in client.messages.watch_many([message_id, message_id], poll=FAST)]
    statuses = [e.activity.status for e in events if e.activity is not None]
    assert statuses == ["QUEUED", "BLOCKED"]
    assert sum(e.done for e in events) == 1


async def test_watcher_object_add_at_any_time(client: AsyncSent, sim: Simulator) -> None:
    """A Watcher takes ids while it runs and ends after finish() once all are done."""
    first, second = sim.create_message(outcome="blocked"), sim.create_message(outcome="failed")
    events: list[WatchEvent] = []
    async with client.messages.watcher(poll=FAST) as watcher:
        watcher.add(first)
        async for event in watcher:
            events.append(event)
            if event.done and event.message_id == first:
                watcher.add(second)
                watcher.finish()
        with pytest.raises(ValueError, match="finish"):
            watcher.add(first)
    assert [e.activity.status for e in events if e.done and e.activity] == ["BLOCKED", "FAILED"]
    assert watcher.active == 0
    assert watcher.polls >= 2


async def test_budget_honoured_with_rate_limit_on() -> None:
    """With the simulator's rate limit on, watch_many through the auto budget gets no 429."""
    mix = OutcomeMix(no_receipt=0.0)  # every message finishes: the run ends by itself
    async with Simulator(
        api_key=API_KEY, seed=3, speed=600.0, rate_limit=1200, burst=10, mix=mix
    ) as sim:
        ids = sim.create_messages(40, channel="sms")
        async with AsyncSent(api_key=API_KEY, base_url=sim.base_url) as client:
            events = [
                e
                async for e in client.messages.watch_many(
                    ids, poll=PollPolicy(min_interval=0.05, max_interval=0.5), timeout=8.0
                )
            ]
    assert sim.stats.rate_limited == 0
    assert Counter(e.message_id for e in events if e.done) == Counter(ids)


async def test_break_stops_polling(client: AsyncSent, sim: Simulator) -> None:
    """Leaving the loop early stops every poll: the simulator sees no request afterwards."""
    ids = sim.create_messages(20, outcome="no_receipt")
    async with client.messages.watch_many(ids, poll=FAST) as watcher:
        async for _ in watcher:
            break
    await assert_no_new_requests(sim, await settled_requests(sim))


async def test_unbound_break_is_silent_and_stops_polling(client: AsyncSent, sim: Simulator) -> None:
    """``break`` out of an unbound ``async for`` drops the watcher: it stops, with no warning."""
    ids = sim.create_messages(20, outcome="no_receipt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async for _ in client.messages.watch_many(ids, poll=FAST):
            break
        gc.collect()
    await assert_no_new_requests(sim, await settled_requests(sim))


async def test_break_out_of_watch_stops_polling(client: AsyncSent, sim: Simulator) -> None:
    """Leaving a single watch early stops its polling too."""
    message_id = sim.create_message(outcome="no_receipt")
    async for _ in client.messages.watch(message_id, poll=FAST):
        break
    await assert_no_new_requests(sim, await settled_requests(sim))


async def test_cancellation_stops_polling(client: AsyncSent, sim: Simulator) -> None:
    """Cancelling the task running a watch stops polling."""
    message_id = sim.create_message(outcome="no_receipt")

    async def run() -> None:
        async for _ in client.messages.watch(message_id, poll=FAST):
            pass

    task = asyncio.create_task(run())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    seen = await settled_requests(sim)
    assert seen > 0
    await assert_no_new_requests(sim, seen)


async def test_id_source_error_propagates(client: AsyncSent, sim: Simulator) -> None:
    """An exception raised by the id source reaches the reader."""

    def ids() -> Iterator[str]:
        yield sim.create_message(outcome="no_receipt")
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        async for _ in client.messages.watch_many(ids(), poll=FAST):
            pass


async def test_first_polls_are_spread(client: AsyncSent, sim: Simulator) -> None:
    """Messages added together get first polls spread over the jitter window."""
    watcher = client.messages.watcher(poll=PollPolicy(min_interval=1.0, jitter=0.5))
    async with watcher:
        for message_id in sim.create_messages(50):
            watcher.add(message_id)
        dues = sorted(w.due for w in watcher._job._heap)
    assert dues[-1] - dues[0] > 0.2  # spread over up to 0.5 s, not all at once


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"until": "DELIVERED"}, TypeError, id="until-string"),
        pytest.param({"until": set()}, ValueError, id="until-empty"),
        pytest.param({"timeout": 0}, ValueError, id="timeout-zero"),
        pytest.param({"timeout": "5"}, TypeError, id="timeout-str"),
        pytest.param({"poll": {"min_interval": 1}}, TypeError, id="poll-dict"),
        pytest.param({"concurrency": 0}, ValueError, id="concurrency-zero"),
    ],
)
def test_bad_watch_arguments(
    client: AsyncSent, kwargs: dict[str, object], error: type[Exception]
) -> None:
    """Bad options fail when the watcher is created."""
    with pytest.raises(error):
        client.messages.watcher(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_interval": 0},
        {"min_interval": 2, "max_interval": 1},
        {"multiplier": 0.5},
        {"jitter": 1.0},
        {"not_found_grace": -1},
        {"max_interval": float("inf")},
        {"gap_fill": "sometimes"},
    ],
)
def test_bad_poll_policy(kwargs: dict[str, Any]) -> None:
    """PollPolicy refuses nonsensical numbers and an unknown gap-filling rule."""
    with pytest.raises(ValueError, match="PollPolicy"):
        PollPolicy(**kwargs)


async def test_bad_ids(client: AsyncSent) -> None:
    """Malformed ids are refused before any request."""
    with pytest.raises(ValueError, match="empty"):
        async for _ in client.messages.watch("", poll=FAST):
            pass  # pragma: no cover
    with pytest.raises(TypeError):
        client.messages.watch_many("one-id-as-a-string")


class _NoTransport:
    budget = None
    hooks = None  # no listeners

    def lane(self, name: str, weight: int) -> None:
        return None


def _job(**settings: object) -> _WatchJob:
    return _WatchJob(_NoTransport(), WatchSettings.build(**settings), None, rand=lambda: 0.5)  # type: ignore[arg-type]


def _log(*statuses: str) -> ActivityLog:
    import msgspec

    activities = [{"status": s, "timestamp": "2026-01-01T00:00:00Z"} for s in reversed(statuses)]
    return msgspec.convert(
        {"message_id": "m", "activities": activities}, ActivityLog, dec_hook=dec_hook
    )


async def test_cadence_grows_and_resets_by_status() -> None:
    """The interval grows by `multiplier` while nothing changes and restarts on a change."""
    policy = PollPolicy(min_interval=1.0, max_interval=10.0, multiplier=2.0, jitter=0.0)
    watcher = _job(poll=policy)
    now = [anyio.current_time()]  # the scheduler's clock; a test step takes far under 0.05 s
    watched = _Watched("m", added=now[0], due=now[0], interval=policy.min_interval)
    watcher.active = 1
    watcher._after_log(watched, _log("QUEUED"))
    assert watched.due - now[0] == pytest.approx(1.0, abs=0.05)
    watcher._after_log(watched, _log("QUEUED"))  # nothing new
    assert watched.due - now[0] == pytest.approx(2.0, abs=0.05)
    watcher._after_log(watched, _log("QUEUED"))
    watcher._after_log(watched, _log("QUEUED"))
    watcher._after_log(watched, _log("QUEUED"))
    assert watched.due - now[0] == pytest.approx(10.0, abs=0.05)  # capped at max_interval
    watcher._after_log(watched, _log("QUEUED", "PROCESSED", "SENT"))
    assert watched.due - now[0] == pytest.approx(STATUS_FACTORS["SENT"], abs=0.05)
    assert [e.activity.status for e in watcher.outbox._items if e.activity] == [
        "QUEUED",
        "PROCESSED",
        "SENT",
    ]


async def test_scheduled_message_waits_for_its_release() -> None:
    """A SCHEDULED message is polled again at its scheduled_at, not on the short cadence."""
    from datetime import UTC, datetime, timedelta

    async with Simulator(api_key=API_KEY, seed=5, speed=1.0) as sim:
        hold = 1.2
        message_id = sim.create_message(
            outcome="blocked", scheduled_at=datetime.now(UTC) + timedelta(seconds=hold)
        )
        polls_at: dict[str, int] = {}

        async def sample_before_release() -> None:
            await asyncio.sleep(hold - 0.1)
            polls_at["just before release"] = sim.stats.by_message[message_id]

        async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client:
            sampler = asyncio.create_task(sample_before_release())
            async for activity in client.messages.watch(message_id, poll=FAST):
                polls_at[activity.status] = sim.stats.by_message[message_id]
            await sampler
    assert [s for s in polls_at if s != "just before release"] == ["QUEUED", "SCHEDULED", "BLOCKED"]
    # Once SCHEDULED is seen, the next poll waits for scheduled_at: on the 10-50 ms cadence
    # the rest of the hold would have cost a poll every 50 ms at least.
    assert polls_at["just before release"] - polls_at["SCHEDULED"] <= 1


async def test_backpressure_when_nobody_reads(
    client: AsyncSent, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unread events stop the polling at a bound; reading resumes it and nothing is lost."""
    monkeypatch.setattr(_watch, "MAX_BUFFERED_EVENTS", 4)
    ids = sim.create_messages(10, outcome="blocked")
    events: list[WatchEvent] = []
    async with client.messages.watch_many(ids, poll=FAST, concurrency=1) as watcher:
        await asyncio.sleep(0.3)  # nobody reads: the scheduler must stop at the bound
        assert watcher.polls <= 4
        events = [e async for e in watcher]
    assert Counter(e.message_id for e in events if e.done) == Counter(ids)
    assert "Watcher" in repr(watcher)
    assert watcher.until == TERMINAL_STATUSES
    assert watcher.timeout is None
    assert watcher.poll is FAST


async def test_many_malformed_ids_fed_in_chunks(client: AsyncSent, sim: Simulator) -> None:
    """A long iterable is fed in chunks; malformed ids each end with an error, no request."""
    events = [e async for e in client.messages.watch_many([""] * 2500, poll=FAST)]
    assert len(events) == 2500
    assert all(isinstance(e.error, ValueError) and e.done for e in events)
    assert sim.stats.requests == 0


async def test_shared_strings_in_last_activities(
    client: AsyncSent, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept activities share equal strings; past the intern limit they are kept as decoded."""
    first, second = sim.create_messages(2, outcome="no_receipt", channel="sms")
    async with client.messages.watcher(poll=FAST) as watcher:
        watcher.add(first)
        watcher.add(second)
        seen = 0
        async for _ in watcher:
            seen += 1
            if seen == 6:  # QUEUED, PROCESSED, SENT or with ROUTED: enough to have polled both
                break
        lasts = [w.last for w in watcher._job._heap if w.last is not None]
    if len(lasts) == 2 and lasts[0].status == lasts[1].status:
        assert lasts[0].status is lasts[1].status
    monkeypatch.setattr(_watch, "_INTERN_LIMIT", 0)
    core = _job()
    activity = _log("SENT").chronological()[-1]
    assert core._compact(activity) is activity


async def test_programming_error_reaches_the_reader(
    client: AsyncSent, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception inside a poll is raised to the reader, not swallowed."""

    def broken(self: _WatchJob, watched: _Watched, log: ActivityLog) -> None:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(_WatchJob, "_after_log", broken)
    with pytest.raises(ZeroDivisionError):
        await client.messages.wait_until_terminal(sim.create_message(), poll=FAST)


async def test_add_to_a_closed_watcher(client: AsyncSent) -> None:
    """A closed watcher refuses new ids and ends iteration at once."""
    watcher = client.messages.watcher()
    await watcher.aclose()
    with pytest.raises(SentError, match="closed"):
        watcher.add("m")
    assert [e async for e in watcher] == []


def test_bad_types(client: AsyncSent) -> None:
    """Wrong types for options are TypeErrors."""
    with pytest.raises(TypeError):
        PollPolicy(min_interval="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.messages.watcher(concurrency="2")  # type: ignore[arg-type]
