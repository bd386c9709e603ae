"""Helpers to test your own code against the bundled simulator, on a real local socket.

Without pytest::

    async with simulated(speed=120) as (sim, client):
        message_id = sim.create_message(outcome="failed")
        await my_code_that_watches(client, message_id)
        assert sim.stats.rate_limited == 0

With pytest and pytest-asyncio, add ``pytest_plugins = ["sentdm_async.testing"]`` to your
``conftest.py`` and use the ``sent_simulator`` and ``sent_client`` fixtures (function scope).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from sentdm_async._client import AsyncSent
from sentdm_async._http.retry import no_retry_waits
from sentdm_async.simulator import Simulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["SIMULATOR_API_KEY", "no_retry_waits", "sent_client", "sent_simulator", "simulated"]

#: The key the helpers give the simulator and the client.
SIMULATOR_API_KEY = "sk_test_simulator"


@contextlib.asynccontextmanager
async def simulated(
    *,
    seed: int = 0,
    speed: float = 60.0,
    rate_limit: int | None = None,
    **client_options: Any,
) -> AsyncIterator[tuple[Simulator, AsyncSent]]:
    """Start a simulator on 127.0.0.1 and an `AsyncSent` pointed at it; close both after.

    Args:
        seed: Seeds the simulator's ids, outcomes and timings (same seed, same run).
        speed: Simulated seconds per real second (60: a one-minute lifecycle takes a second).
        rate_limit: The simulator's limit in requests per real minute; ``None`` means none.
        **client_options: Passed to `AsyncSent` (e.g. ``timeout=``, ``rate_limit=``).

    Yields:
        ``(simulator, client)``.
    """
    async with Simulator(
        api_key=SIMULATOR_API_KEY, seed=seed, speed=speed, rate_limit=rate_limit
    ) as sim:
        options = {"api_key": SIMULATOR_API_KEY, "base_url": sim.base_url, **client_options}
        async with AsyncSent(**options) as client:
            yield sim, client


try:
    # pytest_asyncio.fixture works in its strict mode (the default) as well as in auto mode.
    import pytest_asyncio
except ImportError:  # pragma: no cover - pytest-asyncio is only needed for the fixtures
    pass
else:

    @pytest_asyncio.fixture
    async def sent_simulator() -> AsyncIterator[Simulator]:
        """A running simulator (seed 0, speed 60, no rate limit)."""
        async with Simulator(api_key=SIMULATOR_API_KEY, speed=60.0) as sim:
            yield sim

    @pytest_asyncio.fixture
    async def sent_client(sent_simulator: Simulator) -> AsyncIterator[AsyncSent]:
        """An `AsyncSent` pointed at ``sent_simulator``."""
        async with AsyncSent(api_key=SIMULATOR_API_KEY, base_url=sent_simulator.base_url) as client:
            yield client
