"""Gap filling for push+poll watchers: the pure rule, and the watcher following the evidence.

The pure functions of `sentdm_async._watch.gapfill` are tested directly; the watcher is tested on
the simulator over a real socket, pushes arriving as a webhook sender would hand them over.
"""

from __future__ import annotations

import asyncio
import functools
import math
import random
import time

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentdm_async import AsyncSent, PollPolicy, Watcher, WatchEvent
from sentdm_async._watch.gapfill import (
    MIN_EVENTS,
    MISS_THRESHOLD,
    PushHealth,
    SilenceCurve,
    SilenceModel,
    expected_endings,
    next_poll,
)
from sentdm_async._watch.policy import STATUS_FACTORS, gap_fill_due
from sentdm_async.simulator import Simulator
from sentdm_async.webhooks import MessageEvent, MessageStatusPayload

from .conftest import API_KEY


def curve_of(ended: list[float], censored: list[float] = ()) -> SilenceCurve:  # type: ignore[assignment]
    return SilenceCurve([(t, 1.0, True) for t in ended] + [(t, 1.0, False) for t in censored])


def event(message_id: str, status: str) -> MessageEvent:
    """A verified message event, as a receiver hands it to `Watcher.push`."""
    payload = MessageStatusPayload(message_status=status, message_id=message_id)
    return MessageEvent(field="message", event=f"message.{status.lower()}", payload=payload)


# -- the pure rule -----------------------------------------------------------------------------


def test_curve_without_censoring_is_the_empirical_distribution() -> None:
    """With every silence seen to end, F is the share of silences up to t."""
    curve = curve_of([1.0, 2.0, 3.0, 4.0])
    assert [curve.cdf(t) for t in (0.5, 1.0, 2.5, 4.0)] == [0.0, 0.25, 0.5, 1.0]
    assert curve.quantile(0.5) == 2.0
    assert curve.quantile(1.0) == 4.0


def test_censored_silences_count_as_at_least_that_long() -> None:
    """Messages still waiting push the distribution later (Kaplan-Meier), not out of it."""
    plain = curve_of([1.0, 2.0])
    censored = curve_of([1.0, 2.0], censored=[1.5, 1.5, 10.0, 10.0])
    assert plain.cdf(1.0) == 0.5
    assert censored.cdf(1.0) == pytest.approx(1 / 6)
    # 5 at risk after 1.0; the two censored at 1.5 leave; 1 of the 3 left ends at 2.0.
    assert censored.cdf(2.0) == pytest.approx(1 - (5 / 6) * (2 / 3))


def test_tail_beyond_the_data_is_extrapolated_with_the_late_hazard() -> None:
    """Past the longest silence seen to end, F keeps rising (an exponential tail)."""
    curve = curve_of([1.0, 2.0, 3.0, 4.0], censored=[4.5] * 4)
    last = curve.cdf(4.0)
    assert last == pytest.approx(0.5)
    assert last < curve.cdf(8.0) < curve.cdf(16.0) < 1.0
    beyond = curve.quantile(0.9)
    assert beyond is not None
    assert beyond > 4.0
    assert curve.cdf(beyond) == pytest.approx(0.9)


@given(
    st.lists(st.floats(0.01, 1000.0), min_size=1, max_size=40),
    st.lists(st.floats(0.01, 1000.0), max_size=40),
)
def test_curve_is_a_distribution(ended: list[float], censored: list[float]) -> None:
    """F is non-decreasing within [0, 1], and its quantiles invert it."""
    curve = curve_of(ended, censored)
    points = [*sorted(ended + censored), 2000.0, 10_000.0]
    values = [curve.cdf(t) for t in points]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values == sorted(values)
    for share in (0.1, 0.5, 0.9):
        at = curve.quantile(share)
        if at is not None:
            assert curve.cdf(at) >= share - 1e-9


def test_model_needs_enough_endings_before_it_has_a_curve() -> None:
    """A status's curve exists only once `MIN_EVENTS` endings were seen."""
    model = SilenceModel()
    for n in range(MIN_EVENTS - 1):
        model.observe("SENT", float(n + 1), ended=True)
    assert model.rebuild("SENT", []) is None
    model.observe("SENT", 5.0, ended=False)
    assert model.rebuild("SENT", []) is None
    model.observe("SENT", 5.0, ended=True)
    assert model.stale("SENT")
    assert model.rebuild("SENT", [(3.0, 2.0)]) is not None
    assert not model.stale("SENT")


def test_the_poll_comes_when_a_lost_ending_is_likely() -> None:
    """More measured loss: an earlier poll (P(ended and lost | silent) reaches the threshold)."""
    curve = curve_of([float(t) for t in range(1, 11)])  # F(t) = t / 10
    dues = []
    for loss in (0.05, 0.5, 1.0):
        due = next_poll(
            since=100.0, checked=100.0, curve=curve, loss=loss, ceiling=1000.0, floor=0.1
        )
        # P(lost | silent t) = loss F / (1 - F + loss F) >= theta  <=>  F >= this share
        share = MISS_THRESHOLD / (loss * (1 - MISS_THRESHOLD) + MISS_THRESHOLD)
        assert due == 100.0 + math.ceil(share * 10 - 1e-9)
        dues.append(due)
    assert dues == sorted(dues, reverse=True)
    assert dues[0] > dues[-1]


def test_after_an_empty_poll_only_what_is_left_counts() -> None:
    """A poll that found nothing moves the next one to the rest of the distribution."""
    curve = curve_of([float(t) for t in range(1, 101)])  # F(t) = t / 100
    first = next_poll(since=0.0, checked=0.0, curve=curve, loss=0.05, ceiling=1e6, floor=0.1)
    second = next_poll(since=0.0, checked=first, curve=curve, loss=0.05, ceiling=1e6, floor=0.1)
    assert 0 < first < second <= 100.0


def test_ceiling_floor_and_no_curve() -> None:
    """Without a curve: the fixed ceiling; with one: never before the floor, never after it."""
    curve = curve_of([1.0, 2.0])
    assert next_poll(since=0, checked=5, curve=None, loss=0.1, ceiling=60, floor=1) == 65
    assert next_poll(since=0, checked=5, curve=curve, loss=1.0, ceiling=60, floor=1) >= 6
    late = curve_of([1000.0] * 20)
    assert next_poll(since=0, checked=0, curve=late, loss=0.0, ceiling=60, floor=1) == 60


@pytest.mark.parametrize("status", ["", "QUEUED", "SENT", "DELIVERED"])
def test_fixed_gap_fill_waits_overdue_after_by_status(status: str) -> None:
    """The fixed rule polls ``overdue_after`` x the status factor after the last check."""
    policy = PollPolicy(overdue_after=10.0, gap_fill="fixed")
    rule = functools.partial(
        gap_fill_due, policy, status=status, since=0.0, checked=40.0, interval=1.0, now=50.0
    )
    due = rule(deadline=math.inf, curve=None, loss=0.5)
    assert due == 40.0 + 10.0 * STATUS_FACTORS.get(status, 1.0)
    assert rule(deadline=41.0, curve=None, loss=0.5) == 41.0


def test_adaptive_gap_fill_looks_again_before_the_silence_grows_by_half() -> None:
    """Without a curve the adaptive rule still looks again at half the silence, or the deadline."""
    policy = PollPolicy(min_interval=1.0, overdue_after=100.0)
    rule = functools.partial(
        gap_fill_due, policy, status="SENT", since=0.0, checked=0.0, interval=1.0, loss=0.1
    )
    assert rule(now=40.0, deadline=math.inf, curve=None) == 60.0
    assert rule(now=0.5, deadline=math.inf, curve=None) == 1.5
    assert rule(now=40.0, deadline=45.0, curve=None) == 45.0
    curve = curve_of([1.0, 2.0, 3.0, 4.0])  # 3 of 4 endings came within 3 s of silence
    assert rule(now=10.0, deadline=math.inf, curve=curve) == 3.0


def test_loss_share_and_stopped_deliveries() -> None:
    """The loss share follows missed steps; a long silence is what makes deliveries suspect."""
    health = PushHealth(0.0, expected_gap=1.0)
    assert health.loss == pytest.approx(0.05)  # the prior
    for n in range(200):
        health.pushed(float(n) * 0.1, counted=True)
    low = health.loss
    health.missed_steps(20.0, 50)
    assert health.loss > low
    health.pushed(20.0, counted=True, confirms_poll=True)  # a late push, not a lost one
    assert health.quiet_since(floor=5.0) >= 25.0
    assert health.quiet_since(floor=0.0) < 25.0  # ten usual gaps after the last push


def test_expected_endings() -> None:
    """The chance a message ended since the last push, from its curve."""
    curve = curve_of([float(t) for t in range(1, 11)])
    assert expected_endings(curve, 0.0, 5.0) == pytest.approx(0.5)
    assert expected_endings(curve, 5.0, 10.0) == pytest.approx(1.0)
    assert expected_endings(curve, 10.0, 20.0) == 0.0
    # Half the pushes lost: a message silent at F = 0.5 may have moved already, unseen.
    assert expected_endings(curve, 5.0, 10.0, loss=0.5) == pytest.approx(0.5 * 0.5 / 0.75)


# -- the watcher -------------------------------------------------------------------------------


async def push_lifecycles(
    sim: Simulator,
    watcher: object,
    ids: list[str],
    *,
    drop: float,
    stop_after: float | None = None,
    seed: int = 3,
) -> None:
    """Act as Sent: push each step when the simulator reaches it; some lost, or all after a time.

    ``stop_after`` is in real seconds from the start, as the simulator's `lifecycle` offsets are.
    """
    rng = random.Random(seed)
    started = time.monotonic()
    plan = sorted(
        (offset, message_id, status)
        for message_id in ids
        for offset, status in sim.lifecycle(message_id)
        if status != "PROCESSED"
    )
    for offset, message_id, status in plan:
        await asyncio.sleep(max(0.0, started + offset - time.monotonic()))
        if stop_after is not None and offset > stop_after:
            return
        if rng.random() >= drop:
            watcher.push(event(message_id, status))  # type: ignore[attr-defined]


async def watch_with_pushes(
    sim: Simulator,
    client: AsyncSent,
    ids: list[str],
    *,
    drop: float,
    stop_after: float | None = None,
    policy: PollPolicy,
    states: set[str] | None = None,
) -> tuple[list[WatchEvent], int]:
    """Watch ``ids`` with pushes; return the events and the polls sent.

    ``states`` collects the watcher's `Watcher.pushes` as seen along the way.
    """
    before = sim.stats.by_route["activities"]
    seen: set[str] = set() if states is None else states

    async def sample(watcher: Watcher) -> None:
        while True:
            seen.add(watcher.pushes)
            await asyncio.sleep(0.005)

    async with (
        client.messages.watcher(poll=policy, timeout=60.0, expect_pushes=True) as watcher,
        anyio.create_task_group() as tg,
    ):
        for message_id in ids:
            watcher.add(message_id)
        watcher.finish()
        tg.start_soon(sample, watcher)
        feed = functools.partial(push_lifecycles, drop=drop, stop_after=stop_after)
        tg.start_soon(feed, sim, watcher, ids)
        with anyio.fail_after(60):
            events = [e async for e in watcher]
        tg.cancel_scope.cancel()
    return events, sim.stats.by_route["activities"] - before


POLICY = PollPolicy(min_interval=0.02, max_interval=0.2, overdue_after=2.0)


@pytest.fixture
async def lognormal_sim() -> Simulator:  # type: ignore[misc]
    from sentdm_async.simulator import OutcomeMix

    mix = OutcomeMix(
        delivered=1.0,
        read=0.0,
        failed=0.0,
        blocked=0.0,
        filtered=0.0,
        no_receipt=0.0,
        delivery_median=10.0,
        delivery_sigma=1.0,
    )
    async with Simulator(api_key=API_KEY, seed=11, speed=100.0, mix=mix) as simulator:
        yield simulator


async def test_rare_losses_cost_few_polls_and_are_found(lognormal_sim: Simulator) -> None:
    """5% of pushes lost: every message ends DELIVERED, with fewer polls than messages."""
    sim = lognormal_sim
    ids = sim.create_messages(120)
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client:
        events, polls = await watch_with_pushes(sim, client, ids, drop=0.05, policy=POLICY)
    finals = {e.message_id: e for e in events if e.done}
    assert set(finals) == set(ids)
    assert all(e.activity is not None and e.activity.status == "DELIVERED" for e in finals.values())
    assert polls < len(ids)  # polling alone needs at least one a message


async def test_stopped_deliveries_fall_back_to_polling(lognormal_sim: Simulator) -> None:
    """Pushes stop early (the endpoint died): the watcher sees it, polls, finds every ending.

    With the old fixed rule each message then waited ``overdue_after`` x 3 between polls,
    whatever the pushes did; here the silence after many pushes switches it to plain polling.
    """
    sim = lognormal_sim
    ids = sim.create_messages(60)
    states: set[str] = set()
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client:
        events, polls = await watch_with_pushes(
            sim, client, ids, drop=0.0, stop_after=0.05, policy=POLICY, states=states
        )
    finals = {e.message_id: e for e in events if e.done}
    assert set(finals) == set(ids)
    assert all(e.activity is not None and e.activity.status == "DELIVERED" for e in finals.values())
    assert states >= {"flowing", "stopped"}
    assert polls >= len(ids) // 2  # most endings came after the pushes stopped


async def test_pushes_that_all_arrive_cost_a_fraction_of_a_poll(lognormal_sim: Simulator) -> None:
    """Every push arrives: only the slowest messages' silences are checked by a poll."""
    sim = lognormal_sim
    ids = sim.create_messages(40)
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client:
        events, polls = await watch_with_pushes(sim, client, ids, drop=0.0, policy=POLICY)
    assert {e.message_id for e in events if e.done} == set(ids)
    assert polls < len(ids) / 2


async def test_fixed_rule_still_available(client: AsyncSent, sim: Simulator) -> None:
    """``gap_fill="fixed"``: a lost terminal push is found after ``overdue_after`` of silence."""
    message_id = sim.create_message(outcome="delivered")
    policy = PollPolicy(min_interval=0.01, max_interval=0.05, overdue_after=0.1, gap_fill="fixed")
    async with client.messages.watcher(poll=policy, expect_pushes=True) as watcher:
        watcher.add(message_id)
        watcher.push(event(message_id, "QUEUED"))
        watcher.push(event(message_id, "SENT"))
        watcher.finish()
        with anyio.fail_after(10):
            events = [e async for e in watcher]
    assert events[-1].activity is not None
    assert events[-1].activity.status == "DELIVERED"


async def test_expect_pushes_waits_then_polls_if_none_come(
    client: AsyncSent, sim: Simulator
) -> None:
    """``expect_pushes=True`` and no push ever: the watcher soon polls as usual."""
    message_id = sim.create_message(outcome="blocked")
    policy = PollPolicy(min_interval=0.02, max_interval=0.1)
    async with client.messages.watcher(poll=policy, expect_pushes=True) as watcher:
        watcher.add(message_id)
        watcher.finish()
        with anyio.fail_after(10):
            events = [e async for e in watcher]
    assert events[-1].done
    assert events[-1].activity is not None
    assert events[-1].activity.status == "BLOCKED"


def test_expect_pushes_must_be_a_bool(client: AsyncSent) -> None:
    """A non-bool ``expect_pushes`` is refused before anything starts."""
    with pytest.raises(TypeError, match="expect_pushes"):
        client.messages.watcher(expect_pushes="yes")  # type: ignore[arg-type]
