"""The simulator's voice endpoints: ``/v3/channels/voice`` numbers, ``/v3/voice`` calls and tokens.

Calls are not placed for real; seed them with `VoiceRoutes.create_call` (``sim.resources.voice``)
and read, list, hang up, record and conference them over HTTP like the API's.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sentdm_async.simulator._model import format_ts, new_uuid
from sentdm_async.simulator._rest import (
    RefusedError,
    Request,
    enum_param,
    now,
    pagination,
    require,
    uuid_param,
)
from sentdm_async.simulator._validate import E164, InvalidRequestError, parse_int

if TYPE_CHECKING:
    import random
    from collections.abc import Awaitable, Callable

__all__ = ["VoiceRoutes"]

_URL: Final = re.compile(r"^https?://[^/\s]+\.[^/\s]+(/\S*)?$")
_IDENTITY: Final = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_LIVE: Final = frozenset({"initiated", "ringing", "answered"})
_CALL_STATUSES: Final = frozenset(
    {"initiated", "ringing", "answered", "completed", "failed", "no_answer", "rejected"}
)
_NUMBER_STATUSES: Final = frozenset({"ACTIVE", "INACTIVE"})
_ACTIONS: Final = frozenset({"start", "stop"})
MAX_TOKEN_TTL: Final = 3600

Route = tuple[str, str, "Callable[[Request], Awaitable[tuple[int, object]]]"]


def _check_number(value: object, name: str = "number") -> str:
    if not isinstance(value, str) or not E164.match(value):
        raise InvalidRequestError("VALIDATION_002", {name: [f"'{value}' is not a valid E.164"]})
    return value


def _check_url(value: object) -> str:
    if not isinstance(value, str) or not _URL.match(value):
        details = {"callback_url": ["must be an absolute http(s) URL on a public host"]}
        raise InvalidRequestError("VALIDATION_001", details)
    return value


def _check_default_claim(record: dict[str, Any], value: object) -> None:
    """Refuse a ``default_for_app_calls`` other than ``true``, or on an inactive number."""
    if value is not True:
        details = {"default_for_app_calls": ["only true: give the default to a number"]}
        raise InvalidRequestError("VALIDATION_001", details)
    if record["status"] != "ACTIVE":
        details = {"default_for_app_calls": ["an inactive number cannot be the default"]}
        raise InvalidRequestError("VALIDATION_001", details)


def _check_identity(value: object) -> str:
    if not isinstance(value, str) or not _IDENTITY.match(value):
        details = {"identity": ["letters, digits, - and _ only, up to 200 characters"]}
        raise InvalidRequestError("VALIDATION_001", details)
    return value


def _check_ttl(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOKEN_TTL:
        raise InvalidRequestError("VALIDATION_005", {"ttl": ["must be 1..3600 seconds"]})
    return value


class VoiceRoutes:
    """Voice numbers and calls, with the handlers `ResourceRoutes` routes to."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._numbers: dict[str, dict[str, Any]] = {}
        self._calls: dict[str, dict[str, Any]] = {}
        self._rooms: dict[str, list[str]] = {}  # call id -> participant call ids
        self._recordings: dict[str, list[dict[str, Any]]] = {}

    def table(self) -> list[Route]:
        """Return the (method, path, handler) rows of the voice endpoints."""
        return [
            ("POST", "/v3/channels/voice", self._create),
            ("GET", "/v3/channels/voice", self._list),
            ("POST", "/v3/voice/tokens", self._token),
            ("GET", "/v3/channels/voice/{number}", self._get),
            ("PATCH", "/v3/channels/voice/{number}", self._update),
            ("POST", "/v3/channels/voice/{number}/rotate-secret", self._rotate),
            ("POST", "/v3/channels/voice/{number}/test", self._test),
            ("GET", "/v3/voice/calls", self._calls_list),
            ("GET", "/v3/voice/calls/{id}", self._call_get),
            ("POST", "/v3/voice/calls/{id}/hangup", self._hangup),
            ("GET", "/v3/voice/calls/{id}/recordings", self._recordings_list),
            ("POST", "/v3/voice/calls/{id}/recordings", self._record),
            ("GET", "/v3/voice/calls/{id}/participants", self._participants),
            ("POST", "/v3/voice/calls/{id}/participants", self._add),
            ("DELETE", "/v3/voice/calls/{id}/participants", self._remove_all),
            ("PATCH", "/v3/voice/calls/{id}/participants/{participant_id}", self._mute),
            ("DELETE", "/v3/voice/calls/{id}/participants/{participant_id}", self._remove),
        ]

    # -- seeding ---------------------------------------------------------------------------------

    def create_call(
        self,
        *,
        status: str = "answered",
        number: str = "+15550100001",
        to: str = "+15550199999",
        direction: str = "outbound",
        conference: bool = False,
        recorded: bool = False,
    ) -> str:
        """Seed one call record (no HTTP) and return its id.

        Args:
            status: initiated, ringing, answered (live) or completed, failed, no_answer,
                rejected (ended).
            number: Your number that owns the call.
            to: The phone number called.
            direction: ``outbound`` or ``inbound``.
            conference: The call is in a conference room (participants endpoints work).
            recorded: The call has one recording ready.
        """
        if status not in _CALL_STATUSES:
            msg = f"unknown call status {status!r}"
            raise ValueError(msg)
        call_id = new_uuid(self._rng)
        started = datetime.now(UTC) - timedelta(seconds=30)
        ended = status not in _LIVE
        self._calls[call_id] = {
            "id": call_id,
            "direction": direction,
            "status": status,
            "mode": "inapp",
            "number": number,
            "from": {"kind": "number", "value": number},
            "to": {"kind": "number", "value": to},
            "started_at": format_ts(started, 0),
            "answered_at": format_ts(started, 0) if status in {"answered", "completed"} else None,
            "ended_at": format_ts(started + timedelta(seconds=25), 0) if ended else None,
            "duration_seconds": 25 if ended else None,
            "failure_reason": None,
            "price": 0.013 if ended else None,
            "recording_available": recorded,
            "timeline": [{"status": status, "timestamp": format_ts(started, 0)}],
        }
        if conference:
            self._rooms[call_id] = [call_id]
        if recorded:
            self._recordings[call_id] = [
                {
                    "recording_id": new_uuid(self._rng),
                    "download_url": f"https://recordings.example.test/{call_id}.mp3",
                    "url_expires_at": format_ts(datetime.now(UTC) + timedelta(hours=1), 0),
                }
            ]
        return call_id

    # -- numbers ---------------------------------------------------------------------------------

    def _secret(self) -> str:
        return "whsec_" + base64.b64encode(self._rng.randbytes(24)).decode()

    def _number(self, number: str) -> dict[str, Any]:
        _check_number(number)
        record = self._numbers.get(number)
        if record is None:
            raise RefusedError(404, "RESOURCE_004", "Voice is not enabled for this number")
        return record

    @staticmethod
    def _public(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if k != "callback_secret"}

    async def _create(self, req: Request) -> tuple[int, object]:
        body = req.body
        require(body, "callback_url")
        _check_url(body["callback_url"])
        number = self._requested_number(body)
        existing = self._numbers.get(number)
        first = not any(n["status"] == "ACTIVE" for n in self._numbers.values())
        record = {
            "number": number,
            "status": "ACTIVE",
            "callback_url": body["callback_url"],
            "default_for_app_calls": bool(body.get("default_for_app_calls")) or first,
            "created_at": existing["created_at"] if existing else now(),
            "updated_at": now(),
            "callback_secret": existing["callback_secret"] if existing else self._secret(),
        }
        if req.sandbox:
            return 202, record
        self._store(record)
        return 201, record

    def _requested_number(self, body: dict[str, Any]) -> str:
        """Return the number a create asks for: given, or new in ``area_code`` (212 by default)."""
        if "number" in body and "area_code" in body:
            details = {"number": ["send number or area_code, not both"]}
            raise InvalidRequestError("VALIDATION_001", details)
        number = body.get("number")
        if number is None:
            area = str(body.get("area_code") or "212")
            number = f"+1{area}555{self._rng.randrange(10_000):04d}"
        return _check_number(number)

    def _store(self, record: dict[str, Any], *, make_default: bool = False) -> None:
        """Keep ``record``; if it is (or is made) the default line, no other one is."""
        if make_default or record["default_for_app_calls"]:
            for other in self._numbers.values():
                other["default_for_app_calls"] = False
            record["default_for_app_calls"] = True
        self._numbers[record["number"]] = record

    async def _list(self, req: Request) -> tuple[int, object]:
        return 200, [self._public(r) for r in self._numbers.values()]

    async def _get(self, req: Request) -> tuple[int, object]:
        return 200, self._public(self._number(req.params["number"]))

    async def _update(self, req: Request) -> tuple[int, object]:
        record = dict(self._number(req.params["number"]))
        body = req.body
        if not {"callback_url", "default_for_app_calls", "status"} & body.keys():
            details = {"body": ["send callback_url, default_for_app_calls or status"]}
            raise InvalidRequestError("VALIDATION_004", details)
        if "callback_url" in body:
            record["callback_url"] = _check_url(body["callback_url"])
        if "status" in body:
            record["status"] = self._checked_status(record, body["status"])
        if "default_for_app_calls" in body:
            _check_default_claim(record, body["default_for_app_calls"])
        record["updated_at"] = now()
        if not req.sandbox:
            self._store(record, make_default="default_for_app_calls" in body)
        return 200, self._public(record)

    def _checked_status(self, record: dict[str, Any], value: object) -> str:
        """Return the new ``status`` of ``record``; the default line stays on while others are."""
        status = str(value).upper()
        enum_param({"status": status}, "status", _NUMBER_STATUSES)
        others = [n for n in self._numbers.values() if n["status"] == "ACTIVE"]
        if status == "INACTIVE" and record["default_for_app_calls"] and len(others) > 1:
            raise RefusedError(409, "BUSINESS_006", "Move the default line before turning it off")
        return status

    async def _token(self, req: Request) -> tuple[int, object]:
        body = req.body
        identity = _check_identity(body.get("identity") or f"user_{self._rng.randrange(10**6)}")
        ttl = _check_ttl(body.get("ttl", 600))
        number = self._calling_number(body.get("number"))
        expires = datetime.now(UTC) + timedelta(seconds=ttl)
        token = base64.urlsafe_b64encode(self._rng.randbytes(32)).decode().rstrip("=")
        data = {
            "token": token,
            "identity": identity,
            "number": number,
            "expires_at": format_ts(expires, 0),
        }
        return (202 if req.sandbox else 201), data

    def _calling_number(self, number: str | None) -> str:
        """Return the voice number a token calls from: ``number`` if enabled, else the default."""
        if number is not None:
            self._number(number)
            return number
        defaults = [n for n, r in self._numbers.items() if r["default_for_app_calls"]]
        if not defaults:
            msg = "No voice number: enable voice on a number first"
            raise RefusedError(409, "BUSINESS_006", msg)
        return defaults[0]

    async def _rotate(self, req: Request) -> tuple[int, object]:
        record = self._number(req.params["number"])
        secret = self._secret()
        if req.sandbox:
            return 202, {"callback_secret": secret}
        record["callback_secret"] = secret
        return 200, {"callback_secret": secret}

    async def _test(self, req: Request) -> tuple[int, object]:
        record = self._number(req.params["number"])
        verdict: dict[str, Any] = {"call_id": new_uuid(self._rng), "outcome": "ok"}
        if req.sandbox:
            return 202, verdict
        verdict["request"] = {"url": record["callback_url"], "body": "{}", "headers": {}}
        # The simulator cannot reach the callback; a URL on example.* is "unreachable".
        if ".example." in record["callback_url"] or "localhost" in record["callback_url"]:
            error = {"reason": "connection_failed", "message": "could not connect", "path": None}
            return 200, {**verdict, "outcome": "connection_failed", "error": error}
        verdict["response"] = {"status_code": 200, "body": '{"action": "hangup"}'}
        return 200, {**verdict, "answer": {"action": "hangup"}}

    # -- calls -----------------------------------------------------------------------------------

    def _call(self, call_id: str) -> dict[str, Any]:
        record = self._calls.get(uuid_param(call_id))
        if record is None:
            raise RefusedError(404, "RESOURCE_004", "Call not found")
        return record

    def _live_room(self, call_id: str) -> list[str]:
        record = self._call(call_id)
        if record["status"] not in _LIVE:
            raise RefusedError(409, "BUSINESS_006", "The call has ended")
        room = self._rooms.get(record["id"])
        if room is None:
            raise RefusedError(409, "BUSINESS_006", "The call is not in a conference")
        return room

    async def _calls_list(self, req: Request) -> tuple[int, object]:
        q = req.query
        page = parse_int(q.get("page"), 1, 1, None, "page")
        page_size = parse_int(q.get("page_size"), 20, 1, 100, "page_size")
        enum_param(dict(q), "status", _CALL_STATUSES)
        enum_param(dict(q), "direction", frozenset({"inbound", "outbound"}))
        rows = [
            {k: v for k, v in c.items() if k != "timeline"}
            for c in reversed(self._calls.values())
            if all(q.get(k) in (None, c[k]) for k in ("status", "direction", "number"))
        ]
        chunk = rows[(page - 1) * page_size : page * page_size]
        return 200, {"calls": chunk, "pagination": pagination(page, page_size, len(rows))}

    async def _call_get(self, req: Request) -> tuple[int, object]:
        return 200, self._call(req.params["id"])

    async def _hangup(self, req: Request) -> tuple[int, object]:
        record = self._call(req.params["id"])
        if record["status"] not in _LIVE:
            raise RefusedError(409, "BUSINESS_006", "The call has already ended")
        if not req.sandbox:
            record["status"] = "completed" if record["status"] == "answered" else "no_answer"
            record["ended_at"] = now()
            record["timeline"].append({"status": record["status"], "timestamp": now()})
        return 204, None

    async def _recordings_list(self, req: Request) -> tuple[int, object]:
        record = self._call(req.params["id"])
        return 200, {"recordings": self._recordings.get(record["id"], [])}

    async def _record(self, req: Request) -> tuple[int, object]:
        record = self._call(req.params["id"])
        require(req.body, "action")
        enum_param(req.body, "action", _ACTIONS)
        if record["status"] not in _LIVE:
            raise RefusedError(409, "BUSINESS_006", "The call has already ended")
        return 204, None

    async def _participants(self, req: Request) -> tuple[int, object]:
        room = self._live_room(req.params["id"])
        return 200, [
            {
                "id": pid,
                **self._calls[pid]["to"],
                "muted": self._calls[pid].get("muted", False),
                "duration_seconds": 30,
            }
            for pid in room
        ]

    async def _add(self, req: Request) -> tuple[int, object]:
        room = self._live_room(req.params["id"])
        require(req.body, "to")
        target = req.body["to"]
        if not isinstance(target, dict) or target.get("kind") not in {"user", "number"}:
            details = {"to.kind": ["user (an app user) or number (a phone number)"]}
            raise InvalidRequestError("VALIDATION_001", details)
        if target["kind"] == "number":
            _check_number(target.get("value"), "to.value")
        owner = self._calls[req.params["id"]]
        call_id = self.create_call(status="ringing", number=owner["number"])
        self._calls[call_id]["to"] = {"kind": target["kind"], "value": target.get("value")}
        call = self._calls[call_id]
        if req.sandbox:
            del self._calls[call_id]
        else:
            room.append(call_id)
        return 201, call

    def _member(self, req: Request) -> tuple[list[str], str]:
        room = self._live_room(req.params["id"])
        participant = uuid_param(req.params["participant_id"], "participantId")
        if participant not in room:
            raise RefusedError(404, "RESOURCE_004", "Participant is not in this call's room")
        return room, participant

    async def _mute(self, req: Request) -> tuple[int, object]:
        _, participant = self._member(req)
        muted = req.body.get("muted")
        if not isinstance(muted, bool):
            raise InvalidRequestError("VALIDATION_004", {"muted": ["must be true or false"]})
        if not req.sandbox:
            self._calls[participant]["muted"] = muted
        return 204, None

    async def _remove(self, req: Request) -> tuple[int, object]:
        room, participant = self._member(req)
        if not req.sandbox:
            room.remove(participant)
            self._calls[participant]["status"] = "completed"
        return 204, None

    async def _remove_all(self, req: Request) -> tuple[int, object]:
        room = self._live_room(req.params["id"])
        if not req.sandbox:
            for participant in room:
                self._calls[participant]["status"] = "completed"
            room.clear()
        return 204, None
