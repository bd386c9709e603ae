"""The simulator's v3 resource endpoints beyond messages: a route table and one handler each.

Contacts CRUD and message summaries, conversations, the messages list, resend and cancel,
templates, profiles and campaigns, users, ``me`` and number lookup. Voice lives in
`._voice`. Every handler validates like the API (``VALIDATION_*`` with field ``details``, 404
``RESOURCE_*``, 409 on a state conflict); mutating calls honour ``Idempotency-Key`` (replay with
``Idempotent-Replayed``) and ``sandbox: true`` (validated, nothing written, ``X-Sandbox``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

import msgspec

from sentdm_async.simulator._http import Reply, error_body, ok_body
from sentdm_async.simulator._model import Step, new_uuid, plan_lifecycle, seeded_rng
from sentdm_async.simulator._rest import (
    RefusedError,
    Request,
    enum_param,
    json_body,
    now,
    pagination,
    require,
    uuid_param,
)
from sentdm_async.simulator._validate import E164, IDEMPOTENCY_KEY, InvalidRequestError, parse_int
from sentdm_async.simulator._voice import VoiceRoutes

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiohttp import web

    from sentdm_async.simulator._server import Simulator

__all__ = ["ResourceRoutes"]

_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MUTATING: Final = frozenset({"POST", "PUT", "PATCH"})
_ROLES: Final = frozenset({"admin", "billing", "developer"})
_CATEGORIES: Final = frozenset({"MARKETING", "UTILITY", "AUTHENTICATION"})
_CONTACT_CHANNELS: Final = frozenset({"sms", "whatsapp"})
_FINISHED: Final = frozenset({"DELIVERED", "READ", "FAILED", "BLOCKED", "SENT"})
_IDEMPOTENCY_CACHE: Final = 10_000


class ResourceRoutes:
    """The route table and the state behind it; ``sim.resources`` on a `Simulator`."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._rng = seeded_rng(f"{sim.seed}:resources")
        self._templates: dict[str, dict[str, Any]] = {}
        self._profiles: dict[str, dict[str, Any]] = {}
        self._campaigns: dict[str, dict[str, dict[str, Any]]] = {}
        owner = new_uuid(self._rng)
        self._users: dict[str, dict[str, Any]] = {
            owner: {
                "id": owner,
                "email": "owner@example.com",
                "name": "Account Owner",
                "role": "admin",
                "status": "active",
                "created_at": now(),
                "updated_at": now(),
            }
        }
        self._replies: dict[str, Reply] = {}
        #: Voice numbers, tokens and calls (``sim.resources.voice.create_call(...)``).
        self.voice = VoiceRoutes(self._rng)
        table: list[tuple[str, str, Callable[[Request], Awaitable[tuple[int, object]]]]] = [
            ("GET", "/v3/messages", self._messages_list),
            ("POST", "/v3/messages/{id}/cancel", self._cancel),
            ("POST", "/v3/messages/{id}/resend", self._resend),
            ("POST", "/v3/contacts", self._contact_create),
            ("GET", "/v3/contacts/{id}", self._contact_get),
            ("PATCH", "/v3/contacts/{id}", self._contact_update),
            ("DELETE", "/v3/contacts/{id}", self._contact_delete),
            ("GET", "/v3/contacts/{id}/message-summary", self._contact_summary),
            ("GET", "/v3/conversations", self._conversations),
            ("GET", "/v3/conversations/{id}", self._conversation),
            ("POST", "/v3/templates", self._template_create),
            ("GET", "/v3/templates", self._template_list),
            ("GET", "/v3/templates/{id}", self._template_get),
            ("PUT", "/v3/templates/{id}", self._template_update),
            ("DELETE", "/v3/templates/{id}", self._template_delete),
            ("POST", "/v3/profiles", self._profile_create),
            ("GET", "/v3/profiles", self._profile_list),
            ("GET", "/v3/profiles/{id}", self._profile_get),
            ("PATCH", "/v3/profiles/{id}", self._profile_update),
            ("DELETE", "/v3/profiles/{id}", self._profile_delete),
            ("POST", "/v3/profiles/{id}/complete", self._profile_complete),
            ("POST", "/v3/profiles/{id}/campaigns", self._campaign_create),
            ("GET", "/v3/profiles/{id}/campaigns", self._campaign_list),
            ("PUT", "/v3/profiles/{id}/campaigns/{campaign_id}", self._campaign_update),
            ("DELETE", "/v3/profiles/{id}/campaigns/{campaign_id}", self._campaign_delete),
            ("GET", "/v3/users", self._user_list),
            ("POST", "/v3/users", self._user_invite),
            ("GET", "/v3/users/{id}", self._user_get),
            ("PATCH", "/v3/users/{id}", self._user_update),
            ("DELETE", "/v3/users/{id}", self._user_remove),
            ("GET", "/v3/me", self._me),
            ("GET", "/v3/numbers/lookup/{id}", self._lookup),
            *self.voice.table(),
        ]
        #: ``(method, path pattern)`` of every endpoint this table answers.
        self.endpoints = [(method, path) for method, path, _ in table]
        self._routes = [
            (method, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$"), fn)
            for method, path, fn in table
        ]

    # -- dispatch --------------------------------------------------------------------------------

    async def answer(self, request: web.Request, request_id: str) -> Reply | None:
        """Answer a request this table routes, or return None (the caller answers 404)."""
        path = request.path.rstrip("/") or "/"
        for method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match is not None and method == request.method:
                return await self._run(request, handler, match.groupdict(), request_id)
        return None

    async def _run(
        self,
        request: web.Request,
        handler: Callable[[Request], Awaitable[tuple[int, object]]],
        params: dict[str, str],
        request_id: str,
    ) -> Reply:
        meta = self._sim._meta.meta(request_id)
        key = request.headers.get("Idempotency-Key") if request.method in _MUTATING else None
        cache_key = f"{request.method} {request.path} {key}"
        try:
            replayed = self._replayed(key, cache_key)
            if replayed is not None:
                return replayed
            body = await json_body(request)
            status, data = await handler(Request(params, request.query, body))
        except InvalidRequestError as exc:
            return Reply(400, error_body(exc.code, meta, details=exc.details), {})
        except RefusedError as exc:
            return Reply(exc.status, error_body(exc.code, meta, message=exc.message), {})
        reply = _success(status, data, meta)
        if body.get("sandbox") is True:
            reply.headers["X-Sandbox"] = "true"
        if key is not None:
            self._remember(cache_key, reply)
        return reply

    def _replayed(self, key: str | None, cache_key: str) -> Reply | None:
        """Return the stored reply to a repeated ``Idempotency-Key``, None for a new one.

        Raises:
            InvalidRequestError: the key does not have the documented format.
        """
        if key is None:
            return None
        if not IDEMPOTENCY_KEY.match(key):
            details = {"Idempotency-Key": ["must match ^[A-Za-z0-9_-]{1,255}$"]}
            raise InvalidRequestError("VALIDATION_007", details)
        cached = self._replies.get(cache_key)
        if cached is None:
            return None
        headers = cached.headers | {"Idempotent-Replayed": "true"}
        return Reply(cached.status, cached.body, headers, cached.content_type)

    def _remember(self, cache_key: str, reply: Reply) -> None:
        """Store ``reply`` for replays, forgetting the oldest beyond the cache's size."""
        self._replies[cache_key] = reply
        if len(self._replies) > _IDEMPOTENCY_CACHE:
            del self._replies[next(iter(self._replies))]

    # -- messages --------------------------------------------------------------------------------

    def _status(self, message_id: str) -> tuple[Any, int]:
        sim = self._sim
        message = sim._messages.get(message_id)
        if message is not None:
            age = sim._age(message)
            if age >= message.visible_after:
                return message, message.visible_count(age)
        raise RefusedError(404, "RESOURCE_003", "Message not found")

    def _status_body(self, message: Any, count: int) -> object:
        return msgspec.Raw(message.status_data(count))

    async def _cancel(self, req: Request) -> tuple[int, object]:
        message, count = self._status(req.params["id"])
        current = message.steps[count - 1].status
        if current == "CANCELLED":
            return 200, self._status_body(message, count)
        if current != "SCHEDULED":
            raise RefusedError(
                409, "BUSINESS_006", f"Message is {current}; only SCHEDULED can be cancelled"
            )
        age = self._sim._age(message)
        step = Step(age, "CANCELLED", self._rng.randrange(10), scheduled_at=message.scheduled_at)
        message.replace_steps([*message.steps[:count], step])
        return 200, self._status_body(message, count + 1)

    async def _resend(self, req: Request) -> tuple[int, object]:
        message, count = self._status(req.params["id"])
        current = message.steps[count - 1].status
        if current not in _FINISHED or count < len(message.steps):
            raise RefusedError(409, "BUSINESS_006", f"Message is {current} and cannot be resent")
        age = self._sim._age(message)
        sim = self._sim
        outcome = sim.mix.draw(self._rng)
        fresh = plan_lifecycle(self._rng, outcome, message.channel, delivery=sim.mix.delivery)
        shifted = [s._replace(offset=age + s.offset) for s in fresh]
        message.replace_steps([*message.steps[:count], *shifted])
        return 200, self._status_body(message, count + 1)

    def _message_page(self, req: Request, keep: Callable[[Any, str], bool]) -> tuple[int, object]:
        page = parse_int(req.query.get("page"), 1, 1, None, "page")
        page_size = parse_int(req.query.get("page_size"), 20, 1, 100, "page_size")
        sim = self._sim
        rows = []
        for message in sorted(
            sim._messages.values(),
            key=lambda m: m.created_real,
            reverse=True,
        ):
            age = sim._age(message)
            if age < message.visible_after:
                continue
            count = message.visible_count(age)
            if keep(message, message.steps[count - 1].status):
                rows.append((message, count))
        total = len(rows)
        chunk = rows[(page - 1) * page_size : page * page_size]
        items = [msgspec.Raw(m.status_data(c)) for m, c in chunk]
        return 200, {"messages": items, "pagination": pagination(page, page_size, total)}

    async def _messages_list(self, req: Request) -> tuple[int, object]:
        q = req.query
        status, channel, contact = q.get("status"), q.get("channel"), q.get("contact_id")
        template = q.get("template_id")

        def keep(m: Any, current: str) -> bool:
            return (
                (status is None or current == status)
                and (channel is None or m.channel == channel)
                and (contact is None or m.contact_id == contact)
                and (template is None or (m.template or (None,))[0] == template)
            )

        return self._message_page(req, keep)

    async def _conversations(self, req: Request) -> tuple[int, object]:
        return self._message_page(req, lambda m, s: True)

    async def _conversation(self, req: Request) -> tuple[int, object]:
        # A conversation is modelled as the thread with one contact (its id is the contact id).
        contact_id = uuid_param(req.params["id"])
        messages = self._sim._messages.values()
        if self._sim._book.get(contact_id) is None and not any(
            m.contact_id == contact_id for m in messages
        ):
            raise RefusedError(404, "RESOURCE_001", "Conversation not found")
        return self._message_page(req, lambda m, s: m.contact_id == contact_id)

    # -- contacts --------------------------------------------------------------------------------

    def _contact(self, contact_id: str) -> dict[str, Any]:
        record = self._sim._book.get(uuid_param(contact_id))
        if record is None:
            raise RefusedError(404, "RESOURCE_001", "Contact not found")
        return record

    async def _contact_create(self, req: Request) -> tuple[int, object]:
        require(req.body, "phone_number")
        phone = req.body["phone_number"]
        if not isinstance(phone, str) or not E164.match(phone):
            raise InvalidRequestError(
                "VALIDATION_002", {"phone_number": [f"'{phone}' is not a valid E.164 number"]}
            )
        if phone in self._sim._book.by_phone:
            raise RefusedError(
                409, "RESOURCE_007", "A contact with this phone number already exists"
            )
        stamp = now()
        record = {
            "id": new_uuid(self._rng),
            "phone_number": phone,
            "format_e164": phone,
            "format_international": phone,
            "format_national": phone,
            "format_rfc": f"tel:{phone}",
            "country_code": "1" if phone.startswith("+1") else phone[1:3],
            "region_code": "US" if phone.startswith("+1") else None,
            "available_channels": "sms",
            "default_channel": "sms",
            "opt_out": False,
            "is_inherited": False,
            "customer_id": self._sim.customer_id,
            "created_at": stamp,
            "updated_at": stamp,
        }
        if not req.sandbox:
            self._sim._book.put(record)
        return 201, record

    async def _contact_get(self, req: Request) -> tuple[int, object]:
        return 200, self._contact(req.params["id"])

    async def _contact_update(self, req: Request) -> tuple[int, object]:
        record = self._contact(req.params["id"])
        enum_param(req.body, "default_channel", _CONTACT_CHANNELS)
        channel = req.body.get("default_channel")
        if channel is not None and channel not in record["available_channels"].split(","):
            raise RefusedError(
                422, "BUSINESS_007", f"Channel {channel} is not available for this contact"
            )
        opt_out = req.body.get("opt_out")
        if opt_out is not None and not isinstance(opt_out, bool):
            raise InvalidRequestError("VALIDATION_001", {"opt_out": ["must be a boolean"]})
        changed: dict[str, Any] = {
            k: req.body[k] for k in ("default_channel", "opt_out") if k in req.body
        }
        record = {**record, **changed, "updated_at": now()}
        if not req.sandbox:
            self._sim._book.put(record)
        return 200, record

    async def _contact_delete(self, req: Request) -> tuple[int, object]:
        self._contact(req.params["id"])
        if not req.sandbox:
            self._sim._book.remove(req.params["id"])
        return 204, None

    async def _contact_summary(self, req: Request) -> tuple[int, object]:
        contact_id = self._contact(req.params["id"])["id"]
        mine = [m for m in self._sim._messages.values() if m.contact_id == contact_id]
        channels = sorted({m.channel for m in mine})
        times = sorted(m.created_ts for m in mine)
        return 200, {
            "contact_id": contact_id,
            "message_count": len(mine),
            "first_message_at": times[0] if times else None,
            "last_message_at": times[-1] if times else None,
            "channels_used": channels,
            "channel_scores": [
                _channel_score(channel, [m.steps[-1].status for m in mine if m.channel == channel])
                for channel in channels
            ],
        }

    # -- templates -------------------------------------------------------------------------------

    def _template(self, template_id: str) -> dict[str, Any]:
        record = self._templates.get(uuid_param(template_id))
        if record is None:
            raise RefusedError(404, "RESOURCE_002", "Template not found")
        return record

    @staticmethod
    def _check_definition(body: dict[str, Any]) -> None:
        definition = body.get("definition")
        if not isinstance(definition, dict) or not definition.get("body"):
            details = {"definition.body": ["The template body is required."]}
            raise InvalidRequestError("VALIDATION_004", details)
        enum_param(body, "category", _CATEGORIES)

    async def _template_create(self, req: Request) -> tuple[int, object]:
        self._check_definition(req.body)
        stamp = now()
        template_id = new_uuid(self._rng)
        record = {
            "id": template_id,
            "name": f"template_{template_id[:8]}",
            "category": req.body.get("category") or "UTILITY",
            "language": req.body.get("language") or "en_US",
            "status": "PENDING" if req.body.get("submit_for_review") else "DRAFT",
            "customer_id": self._sim.customer_id,
            "channels": ["sms", "whatsapp"],
            "is_published": False,
            "variables": [],
            "created_at": stamp,
            "updated_at": stamp,
        }
        if not req.sandbox:
            self._templates[template_id] = record
        return 201, record

    async def _template_get(self, req: Request) -> tuple[int, object]:
        return 200, self._template(req.params["id"])

    async def _template_update(self, req: Request) -> tuple[int, object]:
        record = self._template(req.params["id"])
        if record["status"] == "PENDING":
            raise RefusedError(
                409, "CONFLICT_006", "The template is in review and cannot be edited"
            )
        self._check_definition(req.body)
        changed: dict[str, Any] = {
            k: req.body[k] for k in ("name", "category", "language") if k in req.body
        }
        record = {**record, **changed, "updated_at": now()}
        if req.body.get("submit_for_review"):
            record["status"] = "PENDING"
        if not req.sandbox:
            self._templates[record["id"]] = record
        return 200, record

    async def _template_list(self, req: Request) -> tuple[int, object]:
        q = req.query
        page = parse_int(q.get("page"), 1, 1, None, "page")
        page_size = parse_int(q.get("page_size"), 20, 1, 1000, "page_size")
        rows = [
            t
            for t in self._templates.values()
            if (not q.get("status") or t["status"] == q["status"])
            and (not q.get("category") or t["category"] == q["category"])
            and (not q.get("search") or q["search"].lower() in t["name"].lower())
        ]
        chunk = rows[(page - 1) * page_size : page * page_size]
        return 200, {"templates": chunk, "pagination": pagination(page, page_size, len(rows))}

    async def _template_delete(self, req: Request) -> tuple[int, object]:
        self._template(req.params["id"])
        if not req.sandbox:
            del self._templates[req.params["id"]]
        return 204, None

    # -- profiles and campaigns ------------------------------------------------------------------

    def _profile(self, profile_id: str) -> dict[str, Any]:
        record = self._profiles.get(uuid_param(profile_id, "profileId"))
        if record is None:
            raise RefusedError(404, "RESOURCE_004", "Profile not found")
        return record

    async def _profile_create(self, req: Request) -> tuple[int, object]:
        require(req.body, "name")
        stamp = now()
        profile_id = new_uuid(self._rng)
        record = {
            **{k: v for k, v in req.body.items() if k != "sandbox"},
            "id": profile_id,
            "status": "DRAFT",
            "created_at": stamp,
            "updated_at": stamp,
        }
        if not req.sandbox:
            self._profiles[profile_id] = record
            self._campaigns[profile_id] = {}
        return 201, record

    async def _profile_get(self, req: Request) -> tuple[int, object]:
        return 200, self._profile(req.params["id"])

    async def _profile_update(self, req: Request) -> tuple[int, object]:
        record = self._profile(req.params["id"])
        if "name" in req.body and not req.body["name"]:
            raise InvalidRequestError("VALIDATION_001", {"name": ["must not be empty"]})
        changed = {k: v for k, v in req.body.items() if k not in {"sandbox", "id", "status"}}
        record = {**record, **changed, "updated_at": now()}
        if not req.sandbox:
            self._profiles[record["id"]] = record
        return 200, record

    async def _profile_list(self, req: Request) -> tuple[int, object]:
        rows = list(self._profiles.values())
        return 200, {"profiles": rows, "pagination": pagination(1, max(len(rows), 1), len(rows))}

    async def _profile_delete(self, req: Request) -> tuple[int, object]:
        self._profile(req.params["id"])
        if not req.sandbox:
            del self._profiles[req.params["id"]]
            self._campaigns.pop(req.params["id"], None)
        return 204, None

    async def _profile_complete(self, req: Request) -> tuple[int, object]:
        record = self._profile(req.params["id"])
        if record["status"] != "DRAFT":
            raise RefusedError(409, "BUSINESS_006", f"Profile is {record['status']}, not DRAFT")
        if not req.sandbox:
            record["status"] = "SUBMITTED"
        return 200, {"status": "SUBMITTED", "message": "The profile was submitted for review"}

    @staticmethod
    def _check_campaign(body: dict[str, Any]) -> dict[str, Any]:
        campaign = body.get("campaign")
        if not isinstance(campaign, dict):
            raise InvalidRequestError("VALIDATION_004", {"campaign": ["The campaign is required."]})
        use_cases = campaign.get("useCases")
        if not isinstance(use_cases, list) or not use_cases:
            details = {"campaign.useCases": ["At least one use case with samples is required."]}
            raise InvalidRequestError("VALIDATION_004", details)
        return campaign

    async def _campaign_create(self, req: Request) -> tuple[int, object]:
        profile_id = self._profile(req.params["id"])["id"]
        campaign = self._check_campaign(req.body)
        stamp = now()
        record = {
            **campaign,
            "id": new_uuid(self._rng),
            "status": "DRAFT",
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        if not req.sandbox:
            self._campaigns[profile_id][record["id"]] = record
        return 201, record

    def _campaign(self, req: Request) -> dict[str, Any]:
        profile_id = self._profile(req.params["id"])["id"]
        campaign_id = uuid_param(req.params["campaign_id"], "campaignId")
        record = self._campaigns[profile_id].get(campaign_id)
        if record is None:
            raise RefusedError(404, "RESOURCE_004", "Campaign not found")
        return record

    async def _campaign_list(self, req: Request) -> tuple[int, object]:
        profile_id = self._profile(req.params["id"])["id"]
        return 200, list(self._campaigns[profile_id].values())

    async def _campaign_update(self, req: Request) -> tuple[int, object]:
        record = self._campaign(req)
        campaign = self._check_campaign(req.body)
        record = {**record, **campaign, "id": record["id"], "updatedAt": now()}
        if not req.sandbox:
            self._campaigns[req.params["id"]][record["id"]] = record
        return 200, record

    async def _campaign_delete(self, req: Request) -> tuple[int, object]:
        record = self._campaign(req)
        if not req.sandbox:
            del self._campaigns[req.params["id"]][record["id"]]
        return 204, None

    # -- users, me, lookup -----------------------------------------------------------------------

    def _user(self, user_id: str) -> dict[str, Any]:
        record = self._users.get(uuid_param(user_id, "userId"))
        if record is None:
            raise RefusedError(404, "RESOURCE_006", "User not found")
        return record

    async def _user_list(self, req: Request) -> tuple[int, object]:
        rows = list(self._users.values())
        return 200, {"users": rows, "pagination": pagination(1, max(len(rows), 1), len(rows))}

    async def _user_get(self, req: Request) -> tuple[int, object]:
        return 200, self._user(req.params["id"])

    async def _user_invite(self, req: Request) -> tuple[int, object]:
        require(req.body, "email", "name", "role")
        if not _EMAIL.match(str(req.body["email"])):
            raise InvalidRequestError("VALIDATION_001", {"email": ["must be an e-mail address"]})
        enum_param(req.body, "role", _ROLES)
        if any(u["email"] == req.body["email"] for u in self._users.values()):
            raise RefusedError(409, "RESOURCE_007", "A user with this e-mail already exists")
        stamp = now()
        record = {
            "id": new_uuid(self._rng),
            "email": req.body["email"],
            "name": req.body["name"],
            "role": req.body["role"],
            "status": "invited",
            "customer_id": self._sim.customer_id,
            "invited_at": stamp,
            "last_login_at": None,
            "created_at": stamp,
            "updated_at": stamp,
        }
        if not req.sandbox:
            self._users[record["id"]] = record
        return 201, record

    def _last_admin(self, record: dict[str, Any]) -> bool:
        admins = [u for u in self._users.values() if u["role"] == "admin"]
        return record["role"] == "admin" and len(admins) == 1

    async def _user_update(self, req: Request) -> tuple[int, object]:
        record = self._user(req.params["id"])
        require(req.body, "role")
        enum_param(req.body, "role", _ROLES)
        if req.body["role"] != "admin" and self._last_admin(record):
            raise RefusedError(422, "BUSINESS_006", "The last admin cannot be demoted")
        record = {**record, "role": req.body["role"], "updated_at": now()}
        if not req.sandbox:
            self._users[record["id"]] = record
        return 200, record

    async def _user_remove(self, req: Request) -> tuple[int, object]:
        record = self._user(req.params["id"])
        if self._last_admin(record):
            raise RefusedError(422, "BUSINESS_006", "The last admin cannot be removed")
        if not req.sandbox:
            del self._users[record["id"]]
        return 204, None

    async def _me(self, req: Request) -> tuple[int, object]:
        return 200, {
            "id": self._sim.customer_id,
            "name": "Sent simulator",
            "email": "owner@example.com",
            "type": "organization",
            "status": "active",
        }

    async def _lookup(self, req: Request) -> tuple[int, object]:
        phone = req.params["id"]
        if not E164.match(phone):
            details = {"phoneNumber": [f"'{phone}' is not a valid E.164 number"]}
            raise InvalidRequestError("VALIDATION_002", details)
        digit = int(phone[-1])
        return 200, {
            "phone_number": phone,
            "country_code": "1" if phone.startswith("+1") else phone[1:3],
            "carrier_name": ("Verizon Wireless", "T-Mobile USA", "AT&T Wireless")[digit % 3],
            "mobile_country_code": "310" if phone.startswith("+1") else None,
            "mobile_network_code": ("004", "260", "410")[digit % 3]
            if phone.startswith("+1")
            else None,
            "line_type": "voip" if digit == 9 else "mobile",
            "is_valid": True,
            "is_voip": digit == 9,
            "is_ported": digit % 4 == 0,
        }


_SUCCEEDED: Final = frozenset({"SENT", "DELIVERED", "READ"})


def _success(status: int, data: object, meta: bytes) -> Reply:
    """Return a handler's answer: the envelope around ``data``, or an empty 204."""
    if status == 204:
        return Reply(204, b"", {}, content_type="")
    return Reply(status, ok_body(msgspec.json.encode(data), meta), {})


def _channel_score(channel: str, finals: list[str]) -> dict[str, Any]:
    """Return one ``channel_scores`` item: the shares of ``finals`` that succeeded and failed."""
    ok = sum(s in _SUCCEEDED for s in finals)
    failed = sum(s == "FAILED" for s in finals)
    total = max(1, len(finals))
    return {
        "channel": channel,
        "success_score": round(100 * ok / total),
        "fail_score": round(100 * failed / total),
    }
