"""The helpers users get to test their own code against the simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentdm_async import PollPolicy
from sentdm_async.testing import simulated

if TYPE_CHECKING:
    from sentdm_async import AsyncSent
    from sentdm_async.simulator import Simulator


async def test_simulated_context() -> None:
    """simulated() yields a running simulator and a client pointed at it, then closes both."""
    async with simulated(speed=600, timeout=5.0) as (sim, client):
        message_id = sim.create_message(outcome="failed")
        final = await client.messages.wait_until_terminal(
            message_id, poll=PollPolicy(min_interval=0.01, max_interval=0.05)
        )
        assert final.status == "FAILED"
        assert client.timeout == 5.0
    assert client.closed


async def test_fixtures(sent_simulator: Simulator, sent_client: AsyncSent) -> None:
    """The plugin's fixtures talk to each other."""
    message_id = sent_simulator.create_message()
    log = await sent_client.messages.retrieve_activities(message_id)
    assert log.message_id == message_id
    assert sent_simulator.stats.requests == 1
