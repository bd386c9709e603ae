"""Shared fixtures: the simulator on a real socket, a client pointed at it, and aioresponses."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses

import sentdm_async
from sentdm_async import AsyncSent
from sentdm_async.simulator import Simulator

from .redis_server import RedisServer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

# The fixtures users get (sent_simulator, sent_client), registered the way the docs say.
pytest_plugins = ["sentdm_async.testing"]

API_KEY = "sk_test_fixture_key_0123456789"


class RecordingSleep:
    """The waits between retries that `no_retry_waits` skipped, in order."""

    def __init__(self, delays: list[float]) -> None:
        self.delays = delays


def library_tasks() -> set[asyncio.Task[object]]:
    """Running tasks whose coroutine belongs to the client (not the simulator, not pytest)."""
    package = Path(sentdm_async.__file__).parent
    simulator = package / "simulator"
    found: set[asyncio.Task[object]] = set()
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        path = Path(code.co_filename) if code is not None else None
        if (
            not task.done()
            and path is not None
            and package in path.parents
            and simulator not in path.parents
        ):
            found.add(task)
    return found


async def settled_requests(sim: Simulator) -> int:
    """Let cancelled requests reach the server, then return its request count."""
    await asyncio.sleep(0.1)
    return sim.stats.requests


async def assert_no_new_requests(sim: Simulator, seen: int) -> None:
    """Over 0.2 s the server sees no request after ``seen``, and none of ours is in flight."""
    await asyncio.sleep(0.2)
    assert sim.stats.requests == seen
    assert sim.stats.in_flight == 0
    assert not library_tasks()


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A simulator on 127.0.0.1 with no rate limit and a fast clock."""
    async with Simulator(api_key=API_KEY, seed=7, speed=60.0) as simulator:
        yield simulator


@pytest.fixture
def sleeps() -> Iterator[RecordingSleep]:
    """Retry waits are skipped and recorded (the public hook users' tests get too)."""
    # Imported here: importing the plugin module before pytest registers it defeats its
    # assertion rewriting (PytestAssertRewriteWarning).
    from sentdm_async.testing import no_retry_waits

    with no_retry_waits() as delays:
        yield RecordingSleep(delays)


@pytest.fixture
async def client(sim: Simulator, sleeps: RecordingSleep) -> AsyncIterator[AsyncSent]:
    """A client of ``sim``: no client-side rate limit, short timeout, recorded backoff."""
    del sleeps  # requested for its effect: backoff is unit-tested; here it must not slow tests
    async with AsyncSent(
        api_key=API_KEY, base_url=sim.base_url, rate_limit=None, timeout=5.0
    ) as sent:
        yield sent


class _ShimResponse(ClientResponse):
    """aiohttp 3.14 added a required ``stream_writer`` argument that aioresponses does not pass.

    Upstream: pnuckowski/aioresponses#289. Remove once aioresponses > 0.7.9 handles it.
    """

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", mock.Mock())
        super().__init__(method, url, **kwargs)


@pytest.fixture
def mock_http() -> Iterator[aioresponses]:
    """Aioresponses with the aiohttp 3.14 response shim applied to every registered URL."""
    with aioresponses() as mocked:
        original_add = mocked.add

        def add(*args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("response_class", _ShimResponse)
            original_add(*args, **kwargs)

        mocked.add = add  # type: ignore[method-assign]
        yield mocked


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port for the whole session (never skipped)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()
