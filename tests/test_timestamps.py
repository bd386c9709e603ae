"""One timestamp rule: push, poll and the official SDK read a wire timestamp the same.

The API sends 7 fractional digits; the SDK (pydantic) cuts the 7th, msgspec would round it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sent_dm.types.message_retrieve_activities_response import MessageRetrieveActivitiesResponse

from sentdm_async import ActivityLog, webhooks
from sentdm_async.types._decode import json_decoder

LOG = json_decoder(ActivityLog)

STAMPS = [
    pytest.param("2026-05-21T11:41:33.1496327+00:00", id="7th-digit-above-half"),
    pytest.param("2026-05-21T11:41:33.1496320+00:00", id="7th-digit-zero"),
    pytest.param("2026-05-21T11:41:33.7420835Z", id="issue-example-z"),
    pytest.param("2026-12-31T23:59:59.9999999+00:00", id="would-round-into-next-year"),
    pytest.param("2026-05-21T13:41:33.123456789+02:00", id="nine-digits-offset"),
    pytest.param("2026-05-21T11:41:33Z", id="whole-seconds"),
]


def poll(stamp: str) -> datetime:
    body = {"message_id": "m", "activities": [{"status": "SENT", "timestamp": stamp}]}
    return LOG.decode(json.dumps(body)).chronological()[-1].timestamp


def push(stamp: str) -> datetime:
    body = {
        "field": "message",
        "event": "message.sent",
        "payload": {"message_id": "m", "message_status": "SENT", "updated_at": stamp},
    }
    event = webhooks.parse(json.dumps(body))
    assert isinstance(event, webhooks.MessageEvent)
    return event.activity().timestamp


def sdk(stamp: str) -> datetime:
    body = {"data": {"message_id": "m", "activities": [{"status": "SENT", "timestamp": stamp}]}}
    response = MessageRetrieveActivitiesResponse.model_validate(body)
    assert response.data is not None
    assert response.data.activities is not None
    value = response.data.activities[0].timestamp
    assert value is not None
    return value


@pytest.mark.parametrize("stamp", STAMPS)
def test_push_poll_and_the_sdk_agree(stamp: str) -> None:
    """The same wire timestamp is the same datetime by push, by poll and in the SDK."""
    assert poll(stamp) == push(stamp) == sdk(stamp)
    assert poll(stamp).microsecond == sdk(stamp).microsecond


def test_digits_past_the_microsecond_are_cut() -> None:
    """``.9999999`` stays in its second (rounding would carry into the next year)."""
    assert poll("2026-12-31T23:59:59.9999999+00:00") == datetime(
        2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "stamp",
    [
        pytest.param("2026-05-21T11:41:33.1496327", id="no-offset"),
        pytest.param("yesterday", id="not-a-time"),
        pytest.param(1716291693, id="a-number"),
    ],
)
def test_a_bad_poll_timestamp_is_a_validation_error(stamp: object) -> None:
    """No offset, not a time, or not a string: refused as an invalid body, not guessed."""
    import msgspec

    body = {"message_id": "m", "activities": [{"status": "SENT", "timestamp": stamp}]}
    with pytest.raises(msgspec.ValidationError, match="timestamp"):
        LOG.decode(json.dumps(body))


def test_a_push_timestamp_without_offset_is_utc() -> None:
    """Webhook payloads may omit the offset: read as UTC, as Sent sends them."""
    assert push("2026-05-21T11:41:33") == datetime(2026, 5, 21, 11, 41, 33, tzinfo=UTC)
