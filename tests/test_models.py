"""Layer 1: decoding of the documented responses, forward compatibility and the status sets."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentdm_async import (
    FAILURE_STATUSES,
    INBOUND_TERMINAL,
    SUCCESS_STATUSES,
    TERMINAL_STATUSES,
    Activity,
    ActivityFailure,
    ActivityLog,
    ActivityOk,
    ActivityResult,
    Contact,
    ContactPage,
    Message,
    SendResult,
    SentError,
)
from sentdm_async._http.wire import Envelope
from sentdm_async.types._decode import dec_hook, json_decoder

SEED = Path(__file__).resolve().parents[1] / "tests" / "data" / "seed_activities.json"
ACTIVITIES = json_decoder(Envelope[ActivityLog])


def test_seed_page_decodes_exactly() -> None:
    """The endpoint page's example decodes with 7-digit timestamps, Decimal prices and `from`."""
    envelope = ACTIVITIES.decode(SEED.read_bytes())
    log = envelope.data
    assert log is not None
    assert envelope.meta is not None
    assert envelope.meta.request_id == "req_7X9zKp2jDw"
    assert log.message_id == "8ba7b830-9dad-11d1-80b4-00c04fd430c8"
    assert log.activities is not None
    assert [a.status for a in log.activities] == ["DELIVERED", "SENT", "PROCESSED", "QUEUED"]
    first = log.activities[0]
    # .1496327 s is cut to 149632 µs, as the official SDK (pydantic) does; msgspec would round.
    assert first.timestamp == datetime(2026, 5, 21, 11, 41, 33, 149632, tzinfo=UTC)
    assert first.sender == "+15551234567"
    assert first.price == Decimal("0.0450")
    assert str(first.price) == "0.0450"  # exact value, trailing zero kept
    assert first.active_contact_price == Decimal("0.0050")
    assert first.reason_code is None
    assert first.scheduled_at is None
    last = log.activities[-1]
    assert last.sender is None
    assert last.price is None
    assert log.latest is first
    assert log.is_terminal
    assert [a.status for a in log.chronological()] == ["QUEUED", "PROCESSED", "SENT", "DELIVERED"]


def test_unknown_fields_and_statuses_are_tolerated() -> None:
    """New fields are ignored and new statuses decode as plain strings."""
    raw = (
        b'{"success":true,"data":{"message_id":"m","new_field":1,"activities":['
        b'{"status":"TELEPORTED","timestamp":"2026-01-01T00:00:00Z","brand_new":{"x":1}}]},'
        b'"error":null,"meta":{"request_id":"r","timestamp":"2026-01-01T00:00:00Z","version":"v4"}}'
    )
    log = ACTIVITIES.decode(raw).data
    assert log is not None
    assert log.activities is not None
    activity = log.activities[0]
    assert activity.status == "TELEPORTED"
    assert not activity.is_terminal
    assert not activity.is_failure


def test_failure_fields() -> None:
    """reason_code, reason and scheduled_at decode when present."""
    raw = (
        b'{"status":"FAILED","timestamp":"2026-01-01T00:00:00.1234567+02:00",'
        b'"reason_code":"DELIVERY_007","reason":"not registered",'
        b'"scheduled_at":"2026-01-02T00:00:00Z"}'
    )
    activity = msgspec.json.decode(raw, type=Activity, dec_hook=dec_hook)
    assert activity.is_failure
    assert activity.is_terminal
    assert activity.reason_code == "DELIVERY_007"
    assert activity.timestamp.utcoffset() is not None
    assert activity.scheduled_at == datetime(2026, 1, 2, tzinfo=UTC)


def test_message_prices_from_numbers_are_exact() -> None:
    """Status endpoint prices are JSON numbers; they become exact Decimals."""
    raw = (
        b'{"id":"m","status":"DELIVERED","price":0.045,"active_contact_price":0.005,'
        b'"events":[{"status":"SENT","timestamp":"2026-01-01T00:00:00Z"}],'
        b'"message_body":{"content":"hi","buttons":[{"type":"url","text":"x"}]}}'
    )
    message = msgspec.json.decode(raw, type=Message, dec_hook=dec_hook)
    assert message.price == Decimal("0.045")
    assert message.active_contact_price == Decimal("0.005")
    assert message.is_terminal
    assert message.events is not None
    assert message.events[0].status == "SENT"
    assert message.message_body is not None
    assert message.message_body.content == "hi"


def test_contacts_and_send_result() -> None:
    """Contact pages and send results decode; helpers split channels and list ids."""
    page = msgspec.json.decode(
        b'{"contacts":[{"id":"c1","available_channels":"sms, whatsapp","opt_out":false}],'
        b'"pagination":{"page":1,"page_size":20,"total_count":1,"total_pages":1,"has_more":false,'
        b'"cursors":null}}',
        type=ContactPage,
    )
    assert page.items[0].channels == ["sms", "whatsapp"]
    assert Contact(id="c").channels == []
    assert page.pagination is not None
    assert page.pagination.has_more is False
    result = msgspec.json.decode(
        b'{"status":"QUEUED","recipients":[{"message_id":"a","to":"+1555"},'
        b'{"message_id":"b","to":"+1556","channel":"sms"}]}',
        type=SendResult,
    )
    assert result.message_ids == ["a", "b"]


def test_missing_required_field_is_a_validation_error() -> None:
    """A required field (activity status) missing fails decoding instead of passing silently."""
    with pytest.raises(msgspec.ValidationError):
        ACTIVITIES.decode(
            b'{"success":true,"data":{"message_id":"m","activities":[{"timestamp":"2026-01-01T00:00:00Z"}]}}'
        )


def test_status_sets() -> None:
    """The vocabularies are disjoint frozensets and TERMINAL is their union."""
    assert {"DELIVERED", "READ"} == SUCCESS_STATUSES
    assert {"FAILED", "FILTERED", "BLOCKED", "CANCELLED"} == FAILURE_STATUSES
    assert {"RECEIVED"} == INBOUND_TERMINAL
    assert TERMINAL_STATUSES == SUCCESS_STATUSES | FAILURE_STATUSES | INBOUND_TERMINAL
    assert not SUCCESS_STATUSES & FAILURE_STATUSES
    assert isinstance(TERMINAL_STATUSES, frozenset)
    for status in ("QUEUED", "PROCESSED", "ROUTED", "SCHEDULED", "SENT"):
        assert status not in TERMINAL_STATUSES


def test_empty_log_and_result_helpers() -> None:
    """An empty log has no latest activity; results know whether they succeeded."""
    log = ActivityLog(message_id="m")
    assert log.latest is None
    assert not log.is_terminal
    assert log.chronological() == []
    assert ActivityOk(message_id="m", log=log).ok
    assert not ActivityFailure(message_id="m", error=SentError("x")).ok


def _narrowed(result: ActivityResult) -> ActivityLog | SentError:
    """Checked by mypy --strict (``make typecheck``): the union narrows on ``error is None``."""
    if result.error is None:
        log: ActivityLog = result.log  # no "ActivityLog | None" here
        return log
    error: SentError = result.error  # and a SentError, not Exception, there
    return error


def test_activity_result_narrows() -> None:
    """Both arms of the union are reachable through the narrowing the README shows."""
    log = ActivityLog(message_id="m")
    assert _narrowed(ActivityOk(message_id="m", log=log)) is log
    error = SentError("x")
    assert _narrowed(ActivityFailure(message_id="m", error=error)) is error


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_differently(raw: bytes) -> None:
    """Any byte string either decodes or raises msgspec.DecodeError (which the transport maps)."""
    with contextlib.suppress(msgspec.DecodeError):
        ACTIVITIES.decode(raw)


# --- hardening: values that decode but would break the caller later ---------------------------


@pytest.mark.parametrize(
    "field",
    [
        pytest.param(b'"timestamp":"2026-01-01T00:00:00"', id="naive-timestamp"),
        pytest.param(
            b'"timestamp":"2026-01-01T00:00:00Z","scheduled_at":"2026-01-02T00:00:00"',
            id="naive-scheduled_at",
        ),
    ],
)
def test_naive_datetimes_are_refused(field: bytes) -> None:
    """A timestamp without an offset is refused: the model promises timezone-aware values."""
    raw = b'{"status":"SCHEDULED",' + field + b"}"
    with pytest.raises(msgspec.ValidationError, match="no UTC offset"):
        msgspec.json.decode(raw, type=Activity, dec_hook=dec_hook)


@pytest.mark.parametrize("price", [b'"NaN"', b'"sNaN"', b'"Infinity"', b'"-Infinity"'])
def test_non_finite_prices_are_refused(price: bytes) -> None:
    """NaN and infinite prices are refused rather than becoming Decimals that break sum()."""
    raw = b'{"status":"SENT","timestamp":"2026-01-01T00:00:00Z","price":' + price + b"}"
    with pytest.raises(msgspec.ValidationError, match="finite"):
        msgspec.json.decode(raw, type=Activity, dec_hook=dec_hook)
    status = b'{"id":"m","active_contact_price":' + price + b"}"
    with pytest.raises(msgspec.ValidationError, match="finite"):
        msgspec.json.decode(status, type=Message, dec_hook=dec_hook)


def test_an_activity_refuses_a_non_finite_active_contact_price() -> None:
    """An activity's second price is checked like the first."""
    raw = b'{"status":"SENT","timestamp":"2026-01-01T00:00:00Z","active_contact_price":"NaN"}'
    with pytest.raises(msgspec.ValidationError, match="finite"):
        msgspec.json.decode(raw, type=Activity, dec_hook=dec_hook)


def test_optional_collections_decode_from_null() -> None:
    """Fields the official schema marks optional decode from null as well as from absent."""
    message = msgspec.json.decode(
        b'{"id":"m","events":null,"message_body":{"buttons":null}}', type=Message
    )
    assert message.events is None
    assert message.message_body is not None
    assert message.message_body.buttons is None
    log = msgspec.json.decode(
        b'{"message_id":"m","activities":null}', type=ActivityLog, dec_hook=dec_hook
    )
    assert log.activities is None
    assert log.latest is None
    assert log.chronological() == []
    result = msgspec.json.decode(
        b'{"status":"QUEUED","recipients":null}', type=SendResult, dec_hook=dec_hook
    )
    assert result.recipients is None
    assert result.message_ids == []
    page = msgspec.json.decode(
        b'{"contacts":null,"pagination":null}', type=ContactPage, dec_hook=dec_hook
    )
    assert page.contacts is None
    assert page.items == []


def test_message_body_reads_mms_media_header_media_and_subject() -> None:
    """The status endpoint's camelCase body: MMS media, a template's header media, a subject."""
    raw = {
        "id": "m",
        "message_body": {
            "content": "hi",
            "subject": "Receipt",
            "headerMedia": {"type": "image", "url": "https://x.test/h.png"},
            "media": [{"url": "https://x.test/a.png", "mimeType": "image/png", "sizeBytes": 1024}],
            "buttons": [{"type": "reply", "text": "OK", "postbackData": "ok"}],
        },
    }
    message = msgspec.convert(raw, Message, dec_hook=dec_hook)
    body = message.message_body
    assert body is not None
    assert body.subject == "Receipt"
    assert body.header_media is not None
    assert body.header_media.url == "https://x.test/h.png"
    assert body.media is not None
    assert (body.media[0].mime_type, body.media[0].size_bytes) == ("image/png", 1024)
    assert body.buttons is not None
    assert body.buttons[0].postback_data == "ok"


@pytest.mark.parametrize("details", [{"to": ["invalid"]}, ["x"], "text", 3])
def test_an_error_object_with_details_decodes_beside_data(details: object) -> None:
    """``error.details`` of any JSON shape decodes with the timestamp hook set (was a 2xx lost)."""
    body = msgspec.json.encode(
        {
            "success": True,
            "data": {"id": "m1"},
            "error": {"code": "X_001", "message": "partial", "details": details},
        }
    )
    envelope = json_decoder(Envelope[dict[str, str]]).decode(body)
    assert envelope.data == {"id": "m1"}
    assert envelope.error is not None
    assert envelope.error.details == details
