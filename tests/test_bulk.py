"""Bulk fetching (`retrieve_activities_many`) against the simulator on a real local socket."""

from __future__ import annotations

import asyncio
import gc
import itertools
import random
import re
import warnings
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING

import anyio
import pytest

from sentdm_async import (
    ActivityResult,
    AsyncSent,
    InternalServerError,
    NotFoundError,
    TokenBucket,
)
from sentdm_async._core.ids import message_path
from sentdm_async.simulator import Simulator

from .conftest import API_KEY, assert_no_new_requests, library_tasks, settled_requests

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from aioresponses import aioresponses

    from .conftest import RecordingSleep

MALFORMED = ["", "   ", "..", "bad\x00id", "x" * 300]


class CountingIds:
    """A lazy id source that counts how many ids were pulled from it."""

    def __init__(self, ids: Iterator[str]) -> None:
        self.pulled = 0
        self._ids = ids

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        message_id = next(self._ids)
        self.pulled += 1
        return message_id


async def test_one_result_per_id_through_5xx_404_and_malformed(
    client: AsyncSent, sim: Simulator, sleeps: RecordingSleep
) -> None:
    """Every id, repeated or not, gets exactly one answer: logs, NotFoundError or ValueError."""
    known = sim.create_messages(30)
    unknown = [f"no-such-message-{i}" for i in range(5)]
    ids = [*known, *unknown, *MALFORMED, known[0], known[0], unknown[0]]
    random.Random(3).shuffle(ids)
    sim.inject("status", status=503, times=4, route="activities")

    results = [r async for r in client.messages.retrieve_activities_many(ids, concurrency=8)]

    assert Counter(r.message_id for r in results) == Counter(ids)
    for result in results:
        assert (result.log is None) != (result.error is None)
        if result.message_id in known:
            assert result.ok
            assert result.log is not None
            assert result.log.message_id == result.message_id
        elif result.message_id in unknown:
            assert isinstance(result.error, NotFoundError)
            assert result.error.code == "RESOURCE_003"
        else:
            assert isinstance(result.error, ValueError)
    assert sim.stats.by_status[503] == 4
    assert len(sleeps.delays) == 4  # each 503 was retried after a (recorded) backoff
    assert sim.stats.requests == 30 + 5 + 3 + 4  # no request for a malformed id
    assert not set(MALFORMED) & set(sim.stats.by_message)


async def test_exhausted_retries_land_in_the_result(client: AsyncSent, sim: Simulator) -> None:
    """A 5xx that outlasts the retries is that id's error; the other ids still succeed."""
    ids = sim.create_messages(5)
    sim.inject("status", status=500, times=3, route="activities")
    results = [r async for r in client.messages.retrieve_activities_many(ids, concurrency=1)]
    assert [r.message_id for r in results] == ids
    assert isinstance(results[0].error, InternalServerError)
    assert all(r.ok for r in results[1:])


async def test_in_flight_never_exceeds_concurrency(client: AsyncSent, sim: Simulator) -> None:
    """At most `concurrency` requests are in flight, and the pool is actually used in full."""
    ids = sim.create_messages(60)
    sim.latency = 0.02
    sim.stats.reset()
    stream = client.messages.retrieve_activities_many(ids, concurrency=6)
    results = [r async for r in stream]
    assert len(results) == 60
    assert all(r.ok for r in results)
    assert sim.stats.peak_in_flight == 6


async def test_break_stops_a_huge_lazy_input(client: AsyncSent, sim: Simulator) -> None:
    """Breaking out of ten million lazy ids pulls only a few more and leaves nothing running."""
    known = sim.create_messages(20)
    source = CountingIds(known[i % 20] for i in range(10_000_000))
    concurrency = 8
    sim.latency = 0.005  # keep requests in flight when the loop breaks
    before = library_tasks()
    seen = 0
    stream = client.messages.retrieve_activities_many(source, concurrency=concurrency)
    async with stream:
        async for result in stream:
            assert result.ok
            seen += 1
            if seen == 50:
                break
    assert source.pulled <= 50 + 2 * concurrency
    await assert_no_new_requests(sim, await settled_requests(sim))
    assert sim.stats.requests <= 50 + 2 * concurrency
    assert library_tasks() == before


async def test_unbound_break_is_silent_and_stops(client: AsyncSent, sim: Simulator) -> None:
    """``break`` out of an unbound ``async for``: the work stops at once, with no warning.

    The README teaches this idiom first; warnings are errors in this suite, so a warning (even
    one raised inside ``__del__``, which pytest reports as unraisable) fails the test.
    """
    known = sim.create_messages(5)
    source = CountingIds(itertools.cycle(known))
    sim.latency = 0.005
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async for _ in client.messages.retrieve_activities_many(source, concurrency=4):
            break
        gc.collect()
    await assert_no_new_requests(sim, await settled_requests(sim))
    assert source.pulled <= 1 + 2 * 4


async def test_slow_reader_bounds_the_work_ahead(client: AsyncSent, sim: Simulator) -> None:
    """A reader that stops reading stops the requests: work ahead stays near 2 x concurrency."""
    source = CountingIds(f"id-{i}" for i in itertools.count())
    async with client.messages.retrieve_activities_many(source, concurrency=4) as stream:
        first = await anext(stream)
        assert isinstance(first.error, NotFoundError)
        await asyncio.sleep(0.2)  # the reader pauses; workers fill the buffer and wait
        assert source.pulled <= 1 + 2 * 4
        assert sim.stats.requests == source.pulled
    assert library_tasks() == set()


async def test_ordered_output_follows_input_order(client: AsyncSent, sim: Simulator) -> None:
    """With per-request delays, unordered output is shuffled and ordered output is not."""
    known = sim.create_messages(24)
    ids = [*known[:12], "", known[0], "unknown-id", *known[12:], known[0]]
    rng = random.Random(11)
    delays = [rng.choice([0.0, 0.01, 0.03, 0.06]) for _ in ids]

    async def run(*, ordered: bool) -> list[str]:
        for delay in delays:  # FIFO: each request in arrival order takes the next delay
            sim.inject("delay", delay=delay, route="activities")
        stream = client.messages.retrieve_activities_many(ids, concurrency=6, ordered=ordered)
        out = [r.message_id async for r in stream]
        sim.clear_faults()  # the malformed id made no request and left one delay unused
        return out

    unordered = await run(ordered=False)
    assert Counter(unordered) == Counter(ids)
    assert unordered != ids  # the delays really do reorder completions
    assert await run(ordered=True) == ids


async def test_async_iterable_source_is_read_and_closed(client: AsyncSent, sim: Simulator) -> None:
    """An async generator is read lazily, and closed when the stream is closed early."""
    known = sim.create_messages(10)
    state = {"pulled": 0, "closed": False}

    async def ids() -> AsyncIterator[str]:
        try:
            for message_id in itertools.cycle(known):
                await asyncio.sleep(0)
                state["pulled"] += 1
                yield message_id
        finally:
            state["closed"] = True

    stream = client.messages.retrieve_activities_many(ids(), concurrency=4)
    got = [await anext(stream) for _ in range(15)]
    assert all(r.ok for r in got)
    assert not state["closed"]
    await stream.aclose()
    assert state["closed"]
    assert state["pulled"] <= 15 + 2 * 4
    assert library_tasks() == set()


async def test_async_iterable_source_to_the_end(client: AsyncSent, sim: Simulator) -> None:
    """An async source that ends ends the stream after one result per id, in ordered mode too."""
    known = sim.create_messages(12)

    async def ids() -> AsyncIterator[str]:
        for message_id in known:
            yield message_id

    stream = client.messages.retrieve_activities_many(ids(), concurrency=5, ordered=True)
    assert [r.message_id async for r in stream] == known


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_source_error_propagates_after_fetched_results(
    client: AsyncSent, sim: Simulator, kind: str
) -> None:
    """An exception from the id source reaches the caller after the answers already fetched."""
    known = sim.create_messages(10)

    def sync_ids() -> Iterator[str]:
        yield from known
        raise RuntimeError("id source broke")

    async def async_ids() -> AsyncIterator[str]:
        for message_id in known:
            yield message_id
        raise RuntimeError("id source broke")

    source = sync_ids() if kind == "sync" else async_ids()
    results: list[ActivityResult] = []

    async def consume() -> None:
        async for result in client.messages.retrieve_activities_many(source, concurrency=1):
            results.append(result)  # noqa: PERF401 - kept up to the error

    with pytest.raises(RuntimeError, match="id source broke"):
        await consume()
    assert [r.message_id for r in results] == known
    assert library_tasks() == set()


async def test_programming_error_propagates(client: AsyncSent) -> None:
    """A non-string id is a TypeError for the caller, not a per-id result."""
    ids: list[object] = ["fine-id", 42]
    with pytest.raises(TypeError, match="must be a str"):
        async for _ in client.messages.retrieve_activities_many(ids, concurrency=1):  # type: ignore[arg-type]
            pass
    assert library_tasks() == set()


@pytest.mark.parametrize("how", ["anyio", "wait_for"])
async def test_cancelling_the_reader_leaves_nothing_behind(
    client: AsyncSent, sim: Simulator, how: str
) -> None:
    """Cancelling the iterating task cancels the in-flight requests and starts no more."""
    known = sim.create_messages(10)
    sim.latency = 0.05
    source = CountingIds(itertools.cycle(known))
    got: list[ActivityResult] = []

    async def consume() -> None:
        async with client.messages.retrieve_activities_many(source, concurrency=8) as stream:
            async for result in stream:
                got.append(result)  # noqa: PERF401 - consumed until cancelled

    if how == "anyio":
        with anyio.move_on_after(0.12):
            await consume()
    else:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(consume(), 0.12)
    assert library_tasks() == set()  # already gone when the cancellation reaches us
    assert got
    assert source.pulled <= len(got) + 2 * 8
    await assert_no_new_requests(sim, await settled_requests(sim))


async def test_async_with_and_aclose(client: AsyncSent, sim: Simulator) -> None:
    """`async with` closes the stream on exit; aclose is idempotent and ends iteration."""
    known = sim.create_messages(30)
    sim.latency = 0.02
    async with client.messages.retrieve_activities_many(known, concurrency=4) as stream:
        async for result in stream:
            assert result.ok
            break
    assert library_tasks() == set()
    seen = await settled_requests(sim)
    assert seen <= 1 + 2 * 4
    await stream.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
    await assert_no_new_requests(sim, seen)

    unstarted = client.messages.retrieve_activities_many(known)
    await unstarted.aclose()
    assert [r async for r in unstarted] == []
    assert sim.stats.requests == seen


@pytest.mark.parametrize(
    ("ids", "kwargs", "error"),
    [
        pytest.param(["a"], {"concurrency": 0}, ValueError, id="concurrency-0"),
        pytest.param(["a"], {"concurrency": -3}, ValueError, id="concurrency-negative"),
        pytest.param(["a"], {"concurrency": 2.0}, TypeError, id="concurrency-float"),
        pytest.param(["a"], {"concurrency": True}, TypeError, id="concurrency-bool"),
        pytest.param("abc-123", {}, TypeError, id="ids-plain-string"),
        pytest.param(b"abc-123", {}, TypeError, id="ids-bytes"),
        pytest.param(42, {}, TypeError, id="ids-not-iterable"),
    ],
)
async def test_bad_arguments_raise_before_any_request(
    client: AsyncSent, sim: Simulator, ids: object, kwargs: dict[str, object], error: type
) -> None:
    """Bad arguments raise at the call, before any request is made."""
    with pytest.raises(error):
        client.messages.retrieve_activities_many(ids, **kwargs)  # type: ignore[arg-type]
    assert sim.stats.requests == 0


async def test_shared_budget_keeps_bulk_and_other_calls_under_the_limit() -> None:
    """A bulk job and concurrent single calls through one budget see no 429 from the server."""
    async with Simulator(api_key=API_KEY, rate_limit=6000, burst=20) as sim:
        ids = sim.create_messages(45)
        budget = TokenBucket(3000, burst=10)  # half the server's rate and burst: jitter-proof
        async with (
            AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=budget) as client,
            anyio.create_task_group() as tg,
        ):
            for message_id in ids[:15]:
                tg.start_soon(client.messages.retrieve_status, message_id)
            stream = client.messages.retrieve_activities_many(ids, concurrency=32)
            results = [r async for r in stream]
        assert all(r.ok for r in results)
        assert len(results) == 45
        assert sim.stats.requests == 60
        assert sim.stats.rate_limited == 0


async def test_request_urls_and_headers(mock_http: aioresponses) -> None:
    """Plain and quoted ids, under a base URL with a path, go to the same URLs as single calls."""
    ok_log = {"success": True, "data": {"message_id": "m", "activities": []}, "meta": {}}
    mock_http.get(re.compile(r".*"), payload=ok_log, repeat=True)
    ids = ["0c8e4f0e-2b9a-4c1e-9a8f-1a2b3c4d5e6f", "Ab_9~-", "a.b", "../x?y=1#z", "caf\u00e9 1"]
    base = "https://api.example.test/prefix/"
    async with AsyncSent(api_key=API_KEY, base_url=base, profile_id="p-client") as client:
        stream = client.messages.retrieve_activities_many(ids, concurrency=2, profile_id="p-bulk")
        results = [r async for r in stream]
    assert all(r.ok for r in results)
    calls = [(url, call.kwargs) for (_, url), made in mock_http.requests.items() for call in made]
    assert sorted(str(url) for url, _ in calls) == sorted(
        f"https://api.example.test/prefix{message_path(i, '/activities')}" for i in ids
    )
    for url, kwargs in calls:
        assert not url.query
        headers = kwargs["headers"]
        assert isinstance(headers, Mapping)  # aiohttp merges the session's headers in
        assert headers["x-api-key"] == API_KEY
        assert headers["x-profile-id"] == "p-bulk"
