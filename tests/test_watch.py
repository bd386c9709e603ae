"""Watchers against the simulator on a real socket, with millisecond poll intervals."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentdm_async import (
    FAILURE_STATUSES,
    TERMINAL_STATUSES,
    Activity,
    AsyncSent,
    AuthenticationError,
    NotFoundError,
    PollPolicy,
    SentError,
    WatchEvent,
    WatchTimeoutError,
)
from sentdm_async._watch import scheduler
from sentdm_async._watch.policy import STATUS_FACTORS, first_poll_delay, jittered, next_interval
from sentdm_async._watch.watched import ActivityInterner
from sentdm_async.simulator import OutcomeMix, Simulator

from .conftest import API_KEY, assert_no_new_requests, settled_requests

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

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


def test_first_poll_delay_spreads_over_the_jitter_window() -> None:
    """The first poll comes within ``jitter x min_interval``, placed by the random draw."""
    policy = PollPolicy(min_interval=2.0, jitter=0.5)
    delays = [first_poll_delay(policy, draw) for draw in (0.0, 0.25, 0.5, 0.999)]
    assert delays == pytest.approx([0.0, 0.25, 0.5, 0.999])
    assert first_poll_delay(PollPolicy(min_interval=2.0, jitter=0.0), 0.999) == 0.0


async def test_first_polls_are_spread(client: AsyncSent, sim: Simulator) -> None:
    """Messages added together are not polled in lock-step: the first polls trickle in."""
    spread = PollPolicy(min_interval=60.0, max_interval=60.0, jitter=0.5)  # over 30 s
    async with client.messages.watcher(poll=spread, concurrency=100) as watcher:
        for message_id in sim.create_messages(100):
            watcher.add(message_id)
        with anyio.fail_after(30):
            while True:
                await asyncio.sleep(0.005)
                if watcher.polls:
                    break
        # In lock-step all 100 would go out together; spread, about one poll per 0.3 s.
        assert watcher.polls < 50


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


def test_cadence_grows_and_resets_by_status() -> None:
    """The interval grows by `multiplier` while nothing changes and restarts on a change."""
    policy = PollPolicy(min_interval=1.0, max_interval=10.0, multiplier=2.0)
    interval = policy.min_interval
    grown = []
    for _ in range(5):  # nothing new, five times
        interval = next_interval(policy, interval)
        grown.append(interval)
    assert grown == [2.0, 4.0, 8.0, 10.0, 10.0]  # capped at max_interval
    for status, factor in STATUS_FACTORS.items():  # a change restarts it by the status reached
        assert next_interval(policy, 10.0, found=status) == pytest.approx(factor)
    assert next_interval(policy, 10.0, found="MYSTERY") == 1.0
    # SCHEDULED waits for its release, but never less than the status cadence.
    assert next_interval(policy, 1.0, found="SCHEDULED", scheduled_in=90.0) == 90.0
    assert next_interval(policy, 1.0, found="SCHEDULED", scheduled_in=-5.0) == 1.0
    assert next_interval(policy, 1.0, found="SENT", scheduled_in=90.0) == 3.0


@given(
    min_interval=st.floats(0.01, 10.0),
    spread=st.floats(1.0, 100.0),
    multiplier=st.floats(1.0, 4.0),
    previous=st.floats(0.01, 1000.0),
)
def test_quiet_interval_grows_but_stays_bounded(
    min_interval: float, spread: float, multiplier: float, previous: float
) -> None:
    """With nothing new the interval never shrinks and never passes ``max_interval``."""
    policy = PollPolicy(
        min_interval=min_interval, max_interval=min_interval * spread, multiplier=multiplier
    )
    interval = next_interval(policy, previous)
    assert interval <= policy.max_interval
    assert interval >= min(previous, policy.max_interval)


@pytest.mark.parametrize(
    ("draw", "expected"),
    [
        pytest.param(0.0, 8.0, id="low-end"),
        pytest.param(0.5, 10.0, id="middle"),
        pytest.param(1.0, 12.0, id="high-end"),
    ],
)
def test_jitter_spreads_an_interval(draw: float, expected: float) -> None:
    """An interval is spread by up to ±jitter of itself, by the random draw."""
    assert jittered(PollPolicy(jitter=0.2), 10.0, draw) == pytest.approx(expected)


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
    monkeypatch.setattr(scheduler, "MAX_BUFFERED_EVENTS", 4)
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


async def test_shared_strings_in_last_activities(client: AsyncSent, sim: Simulator) -> None:
    """The activities kept per message share equal strings (seen in their timeout errors)."""
    ids = sim.create_messages(2, outcome="no_receipt", channel="sms")
    await asyncio.sleep(max(sim.lifecycle(i)[-1][0] for i in ids))  # both at SENT, for good
    events = [e async for e in client.messages.watch_many(ids, poll=FAST, timeout=0.5)]
    first, second = (
        e.error.last_activity for e in events if isinstance(e.error, WatchTimeoutError)
    )
    assert first is not None
    assert second is not None
    assert first is not second
    assert first.status == second.status == "SENT"
    assert first.status is second.status
    assert first.description == second.description
    assert first.description is second.description


def _built(status: str, description: str) -> Activity:
    """An activity whose strings are fresh objects, as each decoded answer's are."""
    return Activity(
        status="".join(status),
        timestamp=datetime.fromisoformat("2026-01-01T00:00:00+00:00"),
        description="".join(description),
    )


def test_interner_shares_values_up_to_its_limit() -> None:
    """Equal strings become one object; past the limit an activity is kept as decoded."""
    one, two = _built("SENT", "Sent to carrier"), _built("SENT", "Sent to carrier")
    assert one.description is not two.description
    interner = ActivityInterner()
    first, second = interner.compact(one), interner.compact(two)
    assert second == two
    assert first.status is second.status
    assert first.description is second.description
    assert ActivityInterner(limit=0).compact(one) is one


async def test_programming_error_reaches_the_reader(sim: Simulator) -> None:
    """An unexpected exception inside a poll is raised to the reader, not swallowed."""
    import aiohttp

    async def broken_hook(*_: object) -> None:
        raise ZeroDivisionError("bug")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(broken_hook)
    async with (
        aiohttp.ClientSession(trace_configs=[trace]) as session,
        AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None, session=session) as sent,
    ):
        with anyio.fail_after(10), pytest.raises(ZeroDivisionError):
            await sent.messages.wait_until_terminal(sim.create_message(), poll=FAST)


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
