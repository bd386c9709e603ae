"""Operator commands on the rest of the API: numbers lookup, templates list, messages cancel."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sentdm_async import AsyncSent
from sentdm_async.cli import amain

from .conftest import API_KEY

if TYPE_CHECKING:
    import pytest

    from sentdm_async.simulator import Simulator


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _args(sim: Simulator, *words: str) -> list[str]:
    return [*words, "--api-key", API_KEY, "--base-url", sim.base_url]


async def test_numbers_lookup(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """One JSON line per number; a malformed number is a failed line and exit status 1."""
    status = await amain(_args(sim, "numbers", "lookup", "+15551234567", "12"))
    out, err = capsys.readouterr()
    first, second = _lines(out)
    assert first["phone_number"] == "+15551234567"
    assert second["number"] == "12"
    assert isinstance(second["error"], dict)
    assert second["error"]["code"] == "VALIDATION_002"
    assert status == 1
    assert "1 looked up, 1 failed" in err


async def test_templates_list(
    sim: Simulator, client: AsyncSent, capsys: pytest.CaptureFixture[str]
) -> None:
    """Templates as JSON lines, filtered, with --limit."""
    for _ in range(3):
        await client.templates.create(definition={"body": {"text": "x"}})
    await client.templates.create(definition={"body": {"text": "y"}}, submit_for_review=True)
    status = await amain(_args(sim, "templates", "list", "--status", "DRAFT", "--limit", "2"))
    out, err = capsys.readouterr()
    rows = _lines(out)
    assert status == 0
    assert [r["status"] for r in rows] == ["DRAFT", "DRAFT"]
    assert "2 templates" in err


async def test_messages_cancel(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """Cancels the scheduled message, reports the others, exits 1 when any was not cancelled."""
    scheduled = sim.create_message(scheduled_at=datetime.now(UTC) + timedelta(days=2))
    queued = sim.create_message()
    await _until_scheduled(sim, scheduled)
    status = await amain(_args(sim, "messages", "cancel", scheduled, queued))
    out, err = capsys.readouterr()
    done, refused = _lines(out)
    assert done == {"message_id": scheduled, "status": "CANCELLED"}
    assert refused["message_id"] == queued
    assert isinstance(refused["error"], dict)
    assert refused["error"]["code"] == "BUSINESS_006"
    assert status == 1
    assert "1 cancelled, 1 not cancelled" in err


async def _until_scheduled(sim: Simulator, message_id: str) -> None:
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client:
        await client.messages.wait_until_terminal(message_id, until={"SCHEDULED"}, timeout=20)
