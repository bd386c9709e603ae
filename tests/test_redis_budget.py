"""RedisRateBudget against a real redis-server (started by the tests): one schedule for all."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import TYPE_CHECKING

import anyio
import pytest
import redis.asyncio as aioredis

from sentdm_async import AsyncSent, RateBudget
from sentdm_async.redis import BURST_RESERVE, SHARED_HEADROOM, RedisRateBudget, account_tag
from sentdm_async.simulator import Simulator

from .conftest import API_KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from .redis_server import RedisServer

_keys = itertools.count()


@pytest.fixture
def key() -> str:
    """A fresh account per test, so schedules never leak between tests."""
    return f"sk_test_redis_account_{next(_keys)}"


@pytest.fixture
async def pair(redis_server: RedisServer, key: str) -> AsyncIterator[list[RedisRateBudget]]:
    """Two budgets of one account on separate connections, as two processes would hold.

    6 requests/min (one every 10 s), burst 2: slots are far apart, so a stall of the test
    machine between two reservations (which only shortens later waits) stays well inside the
    tolerance. Nothing sleeps: reservations only book slots.
    """
    budgets = [RedisRateBudget(redis_server.url, key, rate_per_minute=6, burst=2) for _ in range(2)]
    yield budgets
    for budget in budgets:
        await budget.aclose()


@pytest.fixture
async def fixed_pair(redis_server: RedisServer, key: str) -> AsyncIterator[list[RedisRateBudget]]:
    """`pair` without adaptation: the second reservation never waits for a first answer.

    An adaptive budget sends the account's first request alone and books the next once its
    answer is in (or `PROBE_WAIT` passed); these schedule tests never give one.
    """
    budgets = [
        RedisRateBudget(redis_server.url, key, rate_per_minute=6, burst=2, adaptive=False)
        for _ in range(2)
    ]
    yield budgets
    for budget in budgets:
        await budget.aclose()


async def test_one_schedule_across_processes(fixed_pair: list[RedisRateBudget]) -> None:
    """Reservations from two processes interleave on one schedule: a burst of 2, then 10 s each."""
    a, b = fixed_pair
    assert isinstance(a, RateBudget)
    waits = [await (a if i % 2 else b).reserve() for i in range(10)]
    # Redis TIME drives the schedule; the few ms between calls only shorten later waits.
    expected = [0.0, 0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]
    assert waits == [pytest.approx(e, abs=1.0) for e in expected]


async def test_concurrent_reservations_are_fifo_slots(fixed_pair: list[RedisRateBudget]) -> None:
    """Twenty concurrent reservations get twenty distinct slots, none sooner than the rate."""
    a, b = fixed_pair
    waits: list[float] = []

    async def one(budget: RedisRateBudget) -> None:
        waits.append(await budget.reserve())

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(one, a if i % 2 else b)
    assert sorted(waits) == [pytest.approx(max(0.0, 10.0 * (n - 1)), abs=1.0) for n in range(20)]


async def test_a_429_anywhere_pauses_everyone(pair: list[RedisRateBudget]) -> None:
    """A pause in one process holds the other; a shorter pause never shortens it."""
    a, b = pair
    await a.pause(30.0)
    await a.pause(1.0)
    assert await b.reserve() == pytest.approx(30.0, abs=1.0)  # then the burst starts empty


async def test_server_headers_slow_everyone_down(pair: list[RedisRateBudget]) -> None:
    """A lower X-RateLimit-Limit seen by one process sets the spacing of all; never faster."""
    a, b = pair
    await a.observe(limit=3, remaining=None, reset_after=None)  # 3/min x 99% ≈ 20 s apart
    await a.sync()
    waits = [await b.reserve() for _ in range(6)]
    steps = [later - earlier for earlier, later in itertools.pairwise(waits[2:])]
    assert all(step == pytest.approx(60 / (3 * SHARED_HEADROOM), abs=1.0) for step in steps)
    await a.observe(limit=6000, remaining=None, reset_after=None)  # faster than configured
    await a.sync()
    before = await b.reserve()
    assert await b.reserve() - before == pytest.approx(10.0, abs=1.0)  # the configured 6/min
    await a.observe(limit=None, remaining=0, reset_after=20.0)  # nothing left: a pause
    await a.sync()
    assert await b.reserve() >= 19.0


async def test_keys_are_per_account_and_never_hold_the_key(
    redis_server: RedisServer, key: str
) -> None:
    """Keys live under one hash tag per account, derived from a hash of the key."""
    budget = RedisRateBudget(redis_server.url, key)
    await budget.reserve()
    await budget.observe(limit=100, remaining=None, reset_after=None)
    await budget.sync()
    client = aioredis.from_url(redis_server.url, decode_responses=True)
    stored = [str(k) for k in await client.keys(f"{account_tag(key)}*")]
    everything = [str(k) for k in await client.keys("*")]
    await client.aclose()
    await budget.aclose()
    assert sorted(stored) == sorted(budget.keys)
    assert all(k.startswith("{sentdm:") for k in everything)
    assert not any(key in k for k in everything)
    assert account_tag(key) != account_tag(key + "x")


async def test_redis_down_falls_back_locally_then_returns(
    tmp_path_factory: pytest.TempPathFactory, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis killed mid-run: a local budget at the fallback share, logged; back when it answers."""
    from .redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis-kill"))
    server.start()
    budget = RedisRateBudget(server.url, key, rate_per_minute=6000, retry_interval=0.05)
    try:
        assert await budget.reserve() == 0.0
        assert not budget.falling_back
        server.stop()
        with caplog.at_level(logging.INFO, logger="sentdm_async.redis"):
            await budget.acquire()  # on the fallback: never an error, never unlimited
            assert budget.falling_back
            assert "using a local budget at 1500 requests/min" in caplog.text
            await budget.pause(0.01)  # a 429 while Redis is down pauses the local budget
            server.start()
            await back_on_redis(budget)
            assert "back to the shared budget" in caplog.text
    finally:
        await budget.aclose()
        server.stop()


async def test_cancelled_acquire_leaves_nothing_behind(pair: list[RedisRateBudget]) -> None:
    """A waiter cancelled while sleeping for its slot returns at once; its slot goes unused."""
    a, _ = pair
    await a.pause(30.0)
    with anyio.move_on_after(0.05) as scope:
        await a.acquire()
    assert scope.cancelled_caught


async def back_on_redis(budget: RedisRateBudget) -> None:
    """Keep calling until the background probe has found Redis again (or fail: not a hang)."""
    with anyio.fail_after(10):
        while budget.falling_back:
            await budget.acquire()  # on the fallback; starts a probe once retry_interval passed
            await asyncio.sleep(0.01)


def test_bad_arguments(redis_server: RedisServer) -> None:
    """Bad shares, intervals, rates or keys fail at construction."""
    with pytest.raises(ValueError, match="fallback_share"):
        RedisRateBudget(redis_server.url, "k", fallback_share=0)
    with pytest.raises(ValueError, match="retry_interval"):
        RedisRateBudget(redis_server.url, "k", retry_interval=0)
    with pytest.raises(ValueError, match="rate_per_minute"):
        RedisRateBudget(redis_server.url, "k", rate_per_minute=0)
    with pytest.raises(TypeError, match="api_key"):
        RedisRateBudget(redis_server.url, "")


async def test_two_clients_share_one_account_without_429s(redis_server: RedisServer) -> None:
    """Two clients (two processes' worth) on one Redis budget stay under the server's limit."""
    async with Simulator(api_key=API_KEY, rate_limit=1200, burst=10) as sim:
        ids = sim.create_messages(40)
        budgets = [
            RedisRateBudget(redis_server.url, API_KEY, rate_per_minute=1200, burst=5)
            for _ in range(2)
        ]
        async with (
            AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=budgets[0]) as one,
            AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=budgets[1]) as two,
            anyio.create_task_group() as tg,
        ):
            for i, message_id in enumerate(ids):
                tg.start_soon((one if i % 2 else two).messages.retrieve_status, message_id)
        for budget in budgets:
            await budget.aclose()
        assert sim.stats.requests == 40
        assert sim.stats.rate_limited == 0


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of this test alone: it may be paused, misconfigured or killed."""
    from .redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis-own"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _break(admin: aioredis.Redis, how: str) -> None:
    """Make Redis answer the budget's script with an error reply."""
    if how == "oom":
        await admin.config_set("maxmemory-policy", "noeviction")
        await admin.config_set("maxmemory", "1")
    elif how == "readonly":  # a failover: this node became a replica of a master that is gone
        await admin.replicaof("127.0.0.1", 1)
    else:  # an ACL change took the budget's commands away
        await admin.acl_setuser("default", enabled=True, commands=["-evalsha", "-eval", "-set"])


async def _mend(admin: aioredis.Redis, how: str) -> None:
    if how == "oom":
        await admin.config_set("maxmemory", "0")
    elif how == "readonly":
        await admin.replicaof("NO", "ONE")
    else:
        await admin.acl_setuser("default", enabled=True, commands=["+@all"])


@pytest.mark.parametrize(
    ("how", "reply"),
    [
        pytest.param("oom", "OOM command not allowed", id="oom"),
        pytest.param("readonly", "READONLY", id="readonly-after-failover"),
        pytest.param("noperm", "no permissions", id="noperm"),
    ],
)
async def test_error_replies_fall_back_then_return(
    own_redis: RedisServer, key: str, how: str, reply: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An error reply (OOM, READONLY, NOPERM) is Redis down: the local budget, logged, then back."""
    admin = aioredis.from_url(own_redis.url)
    budget = RedisRateBudget(own_redis.url, key, rate_per_minute=6000, retry_interval=0.05)
    try:
        assert await budget.reserve() == 0.0
        await _break(admin, how)
        with caplog.at_level(logging.INFO, logger="sentdm_async.redis"):
            await budget.acquire()  # never the error: the fallback
            await budget.observe(limit=10_000, remaining=0, reset_after=0.01)
            assert budget.falling_back
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1
            assert reply in warnings[0].getMessage()
            await _mend(admin, how)
            await back_on_redis(budget)
            assert "back to the shared budget" in caplog.text
    finally:
        await budget.aclose()
        await admin.aclose()


async def test_a_bad_db_index_falls_back(redis_server: RedisServer, key: str) -> None:
    """A URL naming a database the server does not have falls back instead of raising."""
    budget = RedisRateBudget(redis_server.url.replace("/0", "/99"), key, rate_per_minute=6000)
    try:
        await budget.acquire()
        assert budget.falling_back
    finally:
        await budget.aclose()


async def test_flapping_redis_warns_once_a_minute(
    own_redis: RedisServer, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis failing, answering, failing again within a minute: one WARNING, not one per outage."""
    admin = aioredis.from_url(own_redis.url)
    budget = RedisRateBudget(own_redis.url, key, rate_per_minute=6000, retry_interval=0.01)
    try:
        with caplog.at_level(logging.DEBUG, logger="sentdm_async.redis"):
            for _ in range(3):
                await _break(admin, "oom")
                await budget.acquire()
                assert budget.falling_back
                await _mend(admin, "oom")
                await back_on_redis(budget)
        levels = [r.levelno for r in caplog.records]
        assert levels.count(logging.WARNING) == 1
        assert levels.count(logging.INFO) == 1  # the end of the outage that was announced
        assert levels.count(logging.DEBUG) == 4  # the later ones, still on record
    finally:
        await budget.aclose()
        await admin.aclose()


@pytest.mark.parametrize(
    "own_client", [pytest.param(False, id="from-url"), pytest.param(True, id="no-socket-timeout")]
)
async def test_a_paused_redis_falls_back_within_the_timeout(
    own_redis: RedisServer, key: str, own_client: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A SIGSTOPped Redis: each call gives up after ``timeout``, the local budget serves, logged.

    With a client of the caller's that has no socket timeout (redis-py 5.x-7.x's default for
    ``from_url``), only the budget's own bound stands between the caller and a hang.
    """
    redis: aioredis.Redis | str = (
        aioredis.from_url(own_redis.url, socket_timeout=None) if own_client else own_redis.url
    )
    budget = RedisRateBudget(redis, key, rate_per_minute=6000, retry_interval=0.05, timeout=0.2)
    try:
        assert await budget.reserve() == 0.0
        with caplog.at_level(logging.INFO, logger="sentdm_async.redis"), own_redis.paused():
            with anyio.fail_after(10):  # a guard against the hang, not a timing assert
                for _ in range(5):
                    await budget.acquire()
            assert budget.falling_back
            assert "no answer within 0.2 s" in caplog.text or "Timeout" in caplog.text
        await back_on_redis(budget)
    finally:
        await budget.aclose()
        if not isinstance(redis, str):
            await redis.aclose()


@pytest.mark.parametrize("how", ["oom", "paused"])
async def test_a_bulk_job_gets_every_result_whatever_redis_does(
    own_redis: RedisServer, sim: Simulator, how: str
) -> None:
    """A bulk job whose budget's Redis turns OOM or hangs mid-run still yields every result."""
    ids = sim.create_messages(30)
    admin = aioredis.from_url(own_redis.url)
    budget = RedisRateBudget(
        own_redis.url, API_KEY, rate_per_minute=6000, retry_interval=0.05, timeout=0.2
    )
    results = []
    with contextlib.ExitStack() as stack:
        async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=budget) as client:
            with anyio.fail_after(30):  # a guard against a hang
                async for result in client.messages.retrieve_activities_many(ids, concurrency=4):
                    results.append(result)
                    if len(results) == 5:  # Redis goes bad mid-job
                        if how == "oom":
                            await _break(admin, "oom")
                        else:
                            stack.enter_context(own_redis.paused())
            assert budget.falling_back
    await budget.aclose()
    await admin.aclose()
    assert sorted(r.message_id for r in results) == sorted(ids)
    assert all(r.error is None for r in results)


async def test_a_flushed_script_is_loaded_again(redis_server: RedisServer, key: str) -> None:
    """SCRIPT FLUSH (a restart, a failover to a fresh node): NOSCRIPT reloads it, no fallback."""
    budget = RedisRateBudget(redis_server.url, key, rate_per_minute=6, burst=2, adaptive=False)
    admin = aioredis.from_url(redis_server.url)
    try:
        assert await budget.reserve() == 0.0
        await admin.script_flush()
        assert await budget.reserve() == 0.0
        assert await budget.reserve() == pytest.approx(10.0, abs=1.0)  # the same schedule
        assert not budget.falling_back
    finally:
        await budget.aclose()
        await admin.aclose()


async def test_clients_sharing_one_budget_earn_no_429_in_the_first_burst(
    redis_server: RedisServer, key: str
) -> None:
    """Three clients configured for a larger burst than the server's: the probe learns it first."""
    async with Simulator(api_key=key, rate_limit=1200, burst=20) as sim:
        ids = sim.create_messages(30)
        budgets = [RedisRateBudget(redis_server.url, key, rate_per_minute=6000) for _ in range(3)]
        assert budgets[0].burst == 50  # sized for the documented limit, not this account's
        async with contextlib.AsyncExitStack() as stack, anyio.create_task_group() as tg:
            clients = [
                await stack.enter_async_context(
                    AsyncSent(api_key=key, base_url=sim.base_url, rate_limit=budget)
                )
                for budget in budgets
            ]
            for i, message_id in enumerate(ids):
                tg.start_soon(clients[i % 3].messages.retrieve_status, message_id)
        for budget in budgets:
            await budget.aclose()
        assert sim.stats.rate_limited == 0
        assert sim.stats.requests == 30


async def _script_calls(admin: aioredis.Redis) -> int:
    stats = await admin.info("commandstats")
    return sum(
        int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_evalsha", "cmdstat_eval")
    )


async def test_observe_calls_redis_only_for_news(own_redis: RedisServer, key: str) -> None:
    """Headers that say nothing new cost no Redis call, in this process or in another one."""
    admin = aioredis.from_url(own_redis.url)
    a, b = (RedisRateBudget(own_redis.url, key, rate_per_minute=6000) for _ in range(2))
    try:
        await a.reserve()  # the account's first request
        before = await _script_calls(admin)
        await a.observe(limit=600, remaining=49, reset_after=5.0)  # news: limit and burst
        for remaining in range(48, 30, -1):  # the bucket draining: nothing new
            await a.observe(limit=600, remaining=remaining, reset_after=5.0)
        await a.sync()
        assert await _script_calls(admin) - before == 1
        await b.reserve()  # another process learns the shared state from its reservation
        await b.observe(limit=600, remaining=40, reset_after=5.0)
        await b.sync()
        assert await _script_calls(admin) - before == 2  # the reservation alone
        await b.observe(limit=300, remaining=40, reset_after=5.0)  # the limit changed
        await b.observe(limit=300, remaining=0, reset_after=5.0)  # empty: a pause
        await b.observe(limit=300, remaining=0, reset_after=4.0)  # within that pause
        await b.sync()
        assert await _script_calls(admin) - before <= 4
        assert await a.reserve() >= 4.0  # the pause reached the other process
    finally:
        for budget in (a, b):
            await budget.aclose()
        await admin.aclose()


async def test_observe_never_waits_for_redis(own_redis: RedisServer, key: str) -> None:
    """With Redis hung, observe returns without suspending (a response is never held for Redis)."""
    budget = RedisRateBudget(own_redis.url, key, rate_per_minute=6000, timeout=5.0)
    admin = aioredis.from_url(own_redis.url)
    try:
        await budget.reserve()
        with own_redis.paused():
            step = budget.observe(limit=600, remaining=49, reset_after=5.0)
            with pytest.raises(StopIteration):  # finished at its first step: nothing awaited
                step.send(None)
        await budget.sync()  # written once Redis answers
        assert not budget.falling_back
        stored = await admin.hgetall(budget.keys[1])
        assert stored[b"burst"] == b"50"
        assert int(stored[b"interval"]) == round(60e6 / (600 * SHARED_HEADROOM))
    finally:
        await budget.aclose()
        await admin.aclose()


async def test_an_answer_without_headers_ends_the_probe(
    own_redis: RedisServer, sim: Simulator
) -> None:
    """A server that sends no X-RateLimit-* headers: its first answer frees the other processes."""
    admin = aioredis.from_url(own_redis.url)
    a, b = (RedisRateBudget(own_redis.url, API_KEY, rate_per_minute=6000) for _ in range(2))
    try:
        async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=a) as client:
            await client.messages.retrieve_status(sim.create_messages(1)[0])  # the probe
        await a.sync()
        before = await _script_calls(admin)
        assert await b.reserve() == 0.0
        assert await _script_calls(admin) - before == 1  # booked at once, no waiting for news
    finally:
        for budget in (a, b):
            await budget.aclose()
        await admin.aclose()


async def test_the_servers_burst_keeps_a_reserve(redis_server: RedisServer, key: str) -> None:
    """Once Remaining says the server's bucket holds 3, BURST_RESERVE of it is never booked."""
    a, b = (RedisRateBudget(redis_server.url, key, rate_per_minute=6, burst=10) for _ in range(2))
    try:
        waits = [await a.reserve()]  # the probe; its answer: 2 left, so a bucket of 3
        await a.observe(limit=None, remaining=2, reset_after=None)
        await a.sync()
        waits += [await b.reserve() for _ in range(3)]
        # Redis TIME drives the schedule; the few ms between calls only shorten later waits.
        expected = [0.0, 0.0, BURST_RESERVE, 10.0 + BURST_RESERVE]
        assert waits == [pytest.approx(e, abs=0.25) for e in expected]
    finally:
        for budget in (a, b):
            await budget.aclose()
