"""Hostile servers and careless callers: nothing one response or one id does may end a job.

Every HTTP test here runs against the simulator on a real local socket; ``raw`` faults send
exact bytes, statuses and headers (a gzip bomb, JSON nested 1,000 deep, a hostile Location).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import json
import zlib
from typing import TYPE_CHECKING, Any

import anyio
import brotli
import pytest
from backports import zstd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentdm_async import (
    ActivityFailure,
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    AsyncSent,
    InvalidIdError,
    PollPolicy,
    SentError,
    WatchTimeoutError,
)
from sentdm_async._bulk.engine import SILENT_DROP_WINDOW
from sentdm_async.simulator import Simulator
from sentdm_async.testing import no_retry_waits

from .conftest import API_KEY, assert_no_new_requests, settled_requests
from .test_cli import run as run_cli

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from .conftest import RecordingSleep

FAST = PollPolicy(min_interval=0.01, max_interval=0.05, not_found_grace=0.3)
STAMP = "2026-01-01T00:00:00Z"
MIB = 1024 * 1024


def deep(levels: int = 1000) -> bytes:
    return b"[" * levels + b"]" * levels


def activities_body(message_id: str, activity_extra: bytes = b"") -> bytes:
    activity = b'{"status":"QUEUED","timestamp":"%s"%s}' % (STAMP.encode(), activity_extra)
    return b'{"success":true,"data":{"message_id":"%s","activities":[%s]}}' % (
        message_id.encode(),
        activity,
    )


@pytest.fixture
async def capped(sim: Simulator, sleeps: RecordingSleep) -> AsyncIterator[AsyncSent]:
    """A client of ``sim`` with a 1 MiB response cap and one retry."""
    del sleeps
    async with AsyncSent(
        api_key=API_KEY,
        base_url=sim.base_url,
        rate_limit=None,
        timeout=5.0,
        max_retries=1,
        max_response_bytes=MIB,
    ) as client:
        yield client


# -- 1. decompression bombs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        pytest.param("gzip", gzip.compress, id="gzip"),
        pytest.param("deflate", zlib.compress, id="deflate"),
        pytest.param("br", brotli.compress, id="brotli"),
        pytest.param("zstd", zstd.compress, id="zstd"),
    ],
)
async def test_decompression_bomb_is_capped_after_decoding(
    capped: AsyncSent, sim: Simulator, encoding: str, compress: Any
) -> None:
    """A small compressed body that decodes past the cap is refused for that id only."""
    ids = sim.create_messages(3)
    padding = b" " * (64 * MIB)  # JSON whitespace: a valid body once decoded, 64x the cap
    bomb = compress(activities_body(ids[0])[:-1] + padding + b"}")
    assert len(bomb) < MIB // 4  # its Content-Length passes the cap easily
    sim.inject(
        "raw",
        route="activities",
        status=200,
        body=bomb,
        headers={"Content-Encoding": encoding, "Content-Type": "application/json"},
    )
    results = [
        r async for r in capped.messages.retrieve_activities_many(ids, concurrency=1, ordered=True)
    ]
    assert [r.message_id for r in results] == ids
    first = results[0]
    assert isinstance(first, ActivityFailure)
    assert isinstance(first.error, APIResponseValidationError)
    assert "max_response_bytes" in str(first.error)
    assert all(r.ok for r in results[1:])


async def test_small_compressed_body_still_decodes(capped: AsyncSent, sim: Simulator) -> None:
    """A gzip body under the cap is read and decoded normally (the cap is not a refusal)."""
    message_id = sim.create_message()
    sim.inject(
        "raw",
        route="activities",
        status=200,
        body=gzip.compress(activities_body(message_id)),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    log = await capped.messages.retrieve_activities(message_id)
    assert [a.status for a in log.chronological()] == ["QUEUED"]


# -- 2. deep nesting ---------------------------------------------------------------------------


DEEP_BODIES = [
    pytest.param(
        200, lambda mid: activities_body(mid, b',"unknown":' + deep()), id="unknown-field"
    ),
    pytest.param(
        200,
        lambda mid: (
            b'{"success":true,"data":{"message_id":"%s","activities":%s}}' % (mid.encode(), deep())
        ),
        id="activities",
    ),
    pytest.param(
        400,
        lambda mid: b'{"success":false,"error":{"code":"VALIDATION_001","details":%s}}' % deep(),
        id="error-details",
    ),
    pytest.param(200, lambda mid: deep(5000), id="bare-array"),
]


@pytest.mark.parametrize(("status", "make"), DEEP_BODIES)
async def test_deep_nesting_is_one_ids_error_in_bulk(
    capped: AsyncSent, sim: Simulator, status: int, make: Any
) -> None:
    """A body nested 1,000+ deep is a SentError for its id; the bulk job answers every id."""
    ids = sim.create_messages(20)
    sim.inject("raw", route="activities", status=status, body=make(ids[0]))
    results = [
        r async for r in capped.messages.retrieve_activities_many(ids, concurrency=1, ordered=True)
    ]
    assert [r.message_id for r in results] == ids
    assert isinstance(results[0], ActivityFailure)
    assert isinstance(results[0].error, SentError)
    assert all(r.ok for r in results[1:])


@pytest.mark.parametrize(("status", "make"), DEEP_BODIES)
async def test_deep_nesting_is_one_ids_error_in_watch_many(
    capped: AsyncSent, sim: Simulator, status: int, make: Any
) -> None:
    """The same bodies in a watch: the hostile id ends with an error, the others complete."""
    ids = sim.create_messages(6, outcome="delivered")
    hostile = make(ids[0])
    sim.inject("raw", route="activities", status=status, body=hostile, times=50)
    errors: dict[str, BaseException] = {}
    done: set[str] = set()
    async with capped.messages.watch_many(ids, poll=FAST, timeout=3.0, concurrency=1) as w:
        async for event in w:
            if event.error is not None:
                errors[event.message_id] = event.error
            if event.done:
                done.add(event.message_id)
    assert done == set(ids)  # every id ended exactly once, none took the job down
    assert all(isinstance(e, SentError) for e in errors.values())


async def test_persistently_invalid_body_ends_that_watch(capped: AsyncSent, sim: Simulator) -> None:
    """A body that never decodes (a naive timestamp) ends that message's watch, not the job."""
    message_id = sim.create_message(outcome="delivered")
    naive = activities_body(message_id).replace(b"Z", b"")
    sim.inject("raw", route="activities", status=200, body=naive, times=100)
    events = [e async for e in capped.messages.watch_many([message_id], poll=FAST)]
    assert len(events) == 1
    assert events[0].done
    assert isinstance(events[0].error, APIResponseValidationError)
    assert sim.stats.by_route["activities"] <= 5  # a few tries, not a poll loop forever


# -- 3. malformed Location ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "http://[::1",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://127.0.0.1:99999/v3/x",
        "http://bücher.example/",
        "http://xn--a.example\udcff/",
        "//evil.example/v3/messages",
        None,
    ],
)
async def test_hostile_location_is_one_ids_error(
    capped: AsyncSent, sim: Simulator, location: str | None
) -> None:
    """A 3xx with an unusable, foreign or missing Location is a SentError for that id only."""
    ids = sim.create_messages(3)
    headers = {}
    if location is not None:
        headers["Location"] = location.encode("utf-8", "surrogateescape").decode("latin-1")
    sim.inject("raw", route="activities", status=302, headers=headers)
    results = [
        r async for r in capped.messages.retrieve_activities_many(ids, concurrency=1, ordered=True)
    ]
    assert [r.message_id for r in results] == ids
    assert isinstance(results[0], ActivityFailure)
    assert isinstance(results[0].error, APIResponseValidationError)
    assert all(r.ok for r in results[1:])


# -- 5. ids checked once, the same way everywhere ----------------------------------------------


SURROGATE_ID = b"id-\xff".decode(errors="surrogateescape")


@pytest.mark.parametrize("bad", [SURROGATE_ID, "", "..", "a\x00b", "x" * 300])
async def test_malformed_ids_are_refused_alike(client: AsyncSent, sim: Simulator, bad: str) -> None:
    """watcher.add, watch_many and bulk refuse the same ids with the same InvalidIdError."""
    good = sim.create_message(outcome="delivered")
    async with client.messages.watcher(poll=FAST) as watcher:
        with pytest.raises(InvalidIdError):
            watcher.add(bad)
        watcher.add(good)
        watcher.finish()
        events = [e async for e in watcher]
    assert events[-1].done
    assert events[-1].error is None
    many = [e async for e in client.messages.watch_many([bad, good], poll=FAST)]
    failed = [e for e in many if e.error is not None]
    assert [e.message_id for e in failed] == [bad]
    assert isinstance(failed[0].error, InvalidIdError)
    bulk = [r async for r in client.messages.retrieve_activities_many([bad, good])]
    assert sorted(r.ok for r in bulk) == [False, True]
    assert all(isinstance(r.error, InvalidIdError) for r in bulk if not r.ok)
    assert sim.stats.by_message.get(bad, 0) == 0  # a malformed id never costs a request


# -- 6. the watch timeout is a wall-clock bound ------------------------------------------------


async def test_timeout_fires_while_the_poll_hangs(sim: Simulator) -> None:
    """Against a server that never answers, a 1 s watch timeout fires within about a second."""
    sim.inject("delay", delay=60.0, route="activities", times=5)
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client:
        with anyio.fail_after(10):  # a safety net only: the real bound is asserted below
            start = anyio.current_time()
            with pytest.raises(WatchTimeoutError):
                await client.messages.wait_until_terminal(sim.create_message(), timeout=1.0)
            took = anyio.current_time() - start
    assert took < 5.0  # the pre-fix behaviour waited for the 60 s answer (or 95 s of retries)


async def test_timeout_fires_during_a_429_pause(sim: Simulator, sleeps: RecordingSleep) -> None:
    """A 429 with Retry-After: 30 pauses the budget, yet 2 s timeouts fire near 2 s."""
    del sleeps
    ids = sim.create_messages(3, outcome="no_receipt")
    sim.inject("status", status=429, route="activities", headers={"Retry-After": "30"})
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url) as client:
        with anyio.fail_after(15):
            start = anyio.current_time()
            events = [e async for e in client.messages.watch_many(ids, poll=FAST, timeout=2.0)]
            took = anyio.current_time() - start
    timeouts = [e for e in events if isinstance(e.error, WatchTimeoutError)]
    assert sorted(e.message_id for e in timeouts) == sorted(ids)
    assert took < 8.0  # not the 30 s pause


# -- 7. a cancelled read resumes; two readers are an error -------------------------------------


async def test_cancelled_watcher_read_resumes(client: AsyncSent, sim: Simulator) -> None:
    """After a read times out, the next read goes on where it left off; nothing is lost."""
    ids = sim.create_messages(5, outcome="delivered")
    sim.latency = 0.05
    async with client.messages.watch_many(ids, poll=FAST) as watcher:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(watcher), 0.001)
        with anyio.move_on_after(0.001):
            await anext(watcher)
        got = [e async for e in watcher]
    # A cancelled read takes nothing: every message still ends exactly once, error-free.
    assert sorted(e.message_id for e in got if e.done) == sorted(ids)
    assert all(e.error is None for e in got)


async def test_cancelled_bulk_read_resumes_without_loss(client: AsyncSent, sim: Simulator) -> None:
    """A bulk read cancelled by a timeout loses nothing: every id still comes out once."""
    ids = sim.create_messages(20)
    sim.latency = 0.02
    out: list[str] = []
    async with client.messages.retrieve_activities_many(ids, concurrency=4) as stream:
        for _ in range(3):
            try:
                async with asyncio.timeout(0.001):
                    out.append((await anext(stream)).message_id)
            except TimeoutError:
                pass
        out.extend([r.message_id async for r in stream])
    assert sorted(out) == sorted(ids)


async def test_two_readers_is_a_runtime_error(client: AsyncSent, sim: Simulator) -> None:
    """A second task reading a watcher or a stream at once gets RuntimeError, not a hang."""
    ids = sim.create_messages(3, outcome="no_receipt")
    sim.latency = 0.05
    async with client.messages.watch_many(ids, poll=FAST) as watcher:
        first = asyncio.ensure_future(anext(watcher))
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already reading"):
            await anext(watcher)
        await first
    async with client.messages.retrieve_activities_many(ids) as stream:
        first_r = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already reading"):
            await anext(stream)
        assert (await first_r).message_id in ids


# -- 8. a bound handle abandoned after break ---------------------------------------------------


async def test_bound_handle_abandoned_after_break_warns_and_stops(
    client: AsyncSent, sim: Simulator
) -> None:
    """``w = watch_many(...)``, ``break``, ``w`` left unread, then dropped: a warning, no polling.

    It kept polling while nobody read it, so unlike a drop right after the loop this one warns.
    """
    ids = sim.create_messages(10, outcome="no_receipt")
    w = client.messages.watch_many(ids, poll=FAST)
    async for _ in w:
        break
    await asyncio.sleep(SILENT_DROP_WINDOW + 0.2)  # alive and unread past the silent window
    with pytest.warns(ResourceWarning, match="async with"):  # noqa: PT031 - drop, then collect
        del w
        gc.collect()
    await assert_no_new_requests(sim, await settled_requests(sim))


# -- the client's own lifecycle ----------------------------------------------------------------


async def test_close_fails_queued_callers_with_sent_error(sim: Simulator) -> None:
    """Callers waiting for the budget when the client closes get a SentError, not a hang."""
    client = AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=60)
    ids = sim.create_messages(30)
    results: list[BaseException | object] = []

    async def call(message_id: str) -> None:
        try:
            results.append(await client.messages.retrieve_status(message_id))
        except SentError as exc:
            results.append(exc)

    async with anyio.create_task_group() as tg:
        for message_id in ids:
            tg.start_soon(call, message_id)
        await asyncio.sleep(0.2)  # the burst went out; the rest wait for tokens
        with anyio.fail_after(5):
            await client.aclose()
    assert len(results) == len(ids)
    assert any(isinstance(r, SentError) for r in results)


async def test_second_event_loop_is_a_sent_error(sim: Simulator) -> None:
    """A client used from a second event loop says so, instead of failing inside aiohttp."""
    client = AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None)
    await client.messages.retrieve_status(sim.create_message())

    def other_loop() -> BaseException | None:
        async def use() -> None:
            await client.messages.retrieve_status("m")

        try:
            asyncio.run(use())
        except BaseException as exc:
            return exc
        return None

    error = await asyncio.to_thread(other_loop)
    await client.aclose()
    assert isinstance(error, SentError)
    assert "event loop" in str(error)


async def test_key_never_in_errors(sim: Simulator, sleeps: RecordingSleep) -> None:
    """A server that echoes the API key back gets it redacted from the error."""
    del sleeps
    body = b'{"success":false,"error":{"code":"AUTH_001","message":"bad key %s"}}' % (
        API_KEY.encode()
    )
    sim.inject("raw", route="status", status=401, body=body)
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client:
        with pytest.raises(SentError) as info:
            await client.messages.retrieve_status("m")
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value)
    assert "[redacted]" in str(info.value)


# -- the command line: one hostile answer is one error line ------------------------------------


async def test_cli_reports_a_deep_body_as_one_error_line(
    capsys: pytest.CaptureFixture[str],
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CLI writes an error line for the hostile id, no traceback; --resume gets past it."""
    monkeypatch.setenv("SENT_DM_API_KEY", API_KEY)
    ids = sim.create_messages(5)
    sim.inject("raw", route="activities", status=200, body=deep())
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(ids))
    out = tmp_path / "out.jsonl"
    argv = ["activities", "--ids-file", str(ids_file), "--concurrency", "1", "--resume", str(out)]
    code, _, err = await run_cli(capsys, sim, *argv)
    assert code == 1, err
    assert "Traceback" not in err
    assert "4 ok, 1 failed (APIResponseValidationError x1)" in err
    code, _, err = await run_cli(capsys, sim, *argv, "--retry-failed")
    assert code == 0  # the hostile answer was a one-off: the retried id now succeeds
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["message_id"] for line in written if line["ok"]) == sorted(ids)


# -- the invariant, as a property: hostile answers through the public methods, over HTTP -------

_STATUSES = [200, 201, 204, 301, 302, 307, 308, 400, 401, 404, 409, 422, 429, 500, 502, 503]
_HEADER_NAMES = [
    "Content-Encoding",
    "Content-Type",
    "Location",
    "Retry-After",
    "Retry-After-Ms",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Should-Retry",
]
_header_value = st.one_of(
    st.sampled_from(["gzip", "deflate", "br", "0", "-1", "1e309", "nan", "true", "http://[::1"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"))
    .map(str.strip)
    .filter(bool),
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _envelope(data: object, error: object, success: object) -> bytes:
    return json.dumps({"success": success, "data": data, "error": error}).encode()


_body = st.one_of(
    st.binary(max_size=300),
    _json.map(lambda v: json.dumps(v).encode()),
    st.builds(_envelope, _json, _json, st.sampled_from([True, False, None, "yes"])),
    st.integers(min_value=1, max_value=4000).map(deep),
    st.builds(
        lambda mid, extra: activities_body(mid, b',"price":' + extra.encode()),
        st.just("m"),
        st.sampled_from(['"NaN"', '"sNaN"', '"Infinity"', "1e400", "null", '"x"', "[]"]),
    ),
)


async def _hostile_round(status: int, body: bytes, headers: dict[str, str]) -> None:
    async with Simulator(api_key=API_KEY, seed=7, speed=600.0) as sim:
        ids = sim.create_messages(2, outcome="blocked")
        async with AsyncSent(
            api_key=API_KEY,
            base_url=sim.base_url,
            rate_limit=None,
            timeout=2.0,
            max_retries=1,
            max_response_bytes=MIB,
        ) as client:
            for method in ("bulk", "watch", "single"):
                sim.clear_faults()
                sim.inject("raw", status=status, body=body, headers=headers)
                with anyio.fail_after(20):
                    if method == "bulk":
                        stream = client.messages.retrieve_activities_many(ids, concurrency=1)
                        results = [r async for r in stream]
                        assert sorted(r.message_id for r in results) == sorted(ids)
                        assert all(isinstance(r.error, SentError) for r in results if not r.ok)
                    elif method == "watch":
                        watcher = client.messages.watch_many(ids, poll=FAST, timeout=3.0)
                        events = [e async for e in watcher]
                        assert sorted(e.message_id for e in events if e.done) == sorted(ids)
                        assert all(isinstance(e.error, SentError) for e in events if e.error)
                    else:
                        with contextlib.suppress(SentError):
                            await client.messages.retrieve_status(ids[0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.sampled_from(_STATUSES),
    body=_body,
    headers=st.dictionaries(st.sampled_from(_HEADER_NAMES), _header_value, max_size=4),
)
def test_hostile_answers_never_escape_as_anything_but_sent_error(
    status: int, body: bytes, headers: dict[str, str]
) -> None:
    """Any status, body and headers: each id gets one answer, and errors are SentErrors only.

    Nothing else propagates (no ValueError, msgspec error, RecursionError, UnicodeError or
    aiohttp exception), and nothing hangs (``fail_after``).
    """
    with no_retry_waits():
        asyncio.run(_hostile_round(status, body, headers))


async def test_a_2xx_that_says_it_failed_raises_the_apis_error(
    capped: AsyncSent, sim: Simulator
) -> None:
    """``success: false`` in a 200 is the API's error (its code and message), not "no data"."""
    body = b'{"success":false,"data":null,"error":{"code":"BUSINESS_010","message":"not now"}}'
    sim.inject("raw", route="status", status=200, body=body)
    with pytest.raises(SentError) as info:
        await capped.messages.retrieve_status(sim.create_message())
    assert isinstance(info.value, APIError)
    assert (info.value.code, info.value.message) == ("BUSINESS_010", "not now")


async def test_api_server_killed_mid_job(sleeps: RecordingSleep) -> None:
    """The API server goes away during a bulk job: every id still gets one answer.

    The ids after the kill fail with connection errors, nothing hangs, and a watch started
    afterwards ends each message at its timeout.
    """
    del sleeps
    sim = Simulator(api_key=API_KEY, seed=5, speed=60.0)
    await sim.start()
    try:
        ids = sim.create_messages(40)
        sim.latency = 0.01
        async with AsyncSent(
            api_key=API_KEY, base_url=sim.base_url, rate_limit=None, max_retries=1, timeout=1.0
        ) as client:
            results = []
            with anyio.fail_after(20):
                async with client.messages.retrieve_activities_many(ids, concurrency=4) as stream:
                    async for result in stream:
                        results.append(result)
                        if len(results) == 10:
                            await sim.close()  # killed: the rest is refused
                assert sorted(r.message_id for r in results) == sorted(ids)
                failed = [r for r in results if isinstance(r, ActivityFailure)]
                assert failed
                assert all(isinstance(r.error, APIConnectionError) for r in failed)
                events = [
                    e async for e in client.messages.watch_many(ids[:5], poll=FAST, timeout=1.0)
                ]
    finally:
        await sim.close()  # idempotent: already closed on the way
    assert sorted(e.message_id for e in events if e.done) == sorted(ids[:5])
    assert all(isinstance(e.error, WatchTimeoutError) for e in events if e.done)
