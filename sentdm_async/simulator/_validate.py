"""Validation of ``POST /v3/messages`` bodies and of query/header values, without I/O."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final, NamedTuple

E164: Final = re.compile(r"^\+[1-9]\d{6,14}$")
IDEMPOTENCY_KEY: Final = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
SEND_CHANNELS: Final = ("sms", "whatsapp", "sent")
MAX_RECIPIENTS: Final = 1000
MAX_SCHEDULE_AHEAD: Final = timedelta(days=30)


class InvalidRequestError(Exception):
    """A request failed validation; becomes a 400 envelope with ``details``."""

    def __init__(self, code: str, details: dict[str, list[str]]) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


class Template(NamedTuple):
    """A validated template reference: exactly one of ``id`` / ``name``."""

    id: str | None
    name: str | None
    parameters: dict[str, str]

    def render(self) -> str:
        """Return a plausible rendered body for the message record."""
        label = self.name if self.name is not None else self.id
        params = ", ".join(f"{k}={v}" for k, v in self.parameters.items())
        return f"[template {label}] {params}".rstrip()


class SendRequest(NamedTuple):
    """A validated send request."""

    to: list[str]
    channels: list[str]
    text: str | None
    template: Template | None
    scheduled_at: datetime | None
    sandbox: bool


def _parse_template(value: object, errors: dict[str, list[str]]) -> Template | None:
    if not isinstance(value, dict):
        errors["template"] = ["template must be an object with 'id' or 'name'"]
        return None
    template_id, name = value.get("id"), value.get("name")
    problem = _reference_problem(template_id, name)
    if problem is not None:
        errors["template"] = [problem]
        return None
    parameters = value.get("parameters") or {}
    if not _is_string_map(parameters):
        errors["template.parameters"] = ["parameters must map variable names to strings"]
        return None
    return Template(template_id, name, parameters)


def _reference_problem(template_id: object, name: object) -> str | None:
    """Return what is wrong with a template's ``id``/``name`` pair, None if it names one."""
    if (template_id is None) == (name is None):
        return "Provide exactly one of template.id or template.name"
    if not isinstance(template_id or name, str) or not (template_id or name):
        return "template.id / template.name must be a non-empty string"
    return None


def _is_string_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _parse_scheduled_at(
    value: object, now: datetime, errors: dict[str, list[str]]
) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        errors["scheduled_at"] = ["scheduled_at must be ISO-8601 with an explicit UTC offset"]
        return None
    if not now < when <= now + MAX_SCHEDULE_AHEAD:
        errors["scheduled_at"] = ["scheduled_at must be in the future and at most 30 days ahead"]
        return None
    return when


def _parse_to(to: object, errors: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """Return the recipients and the messages about those that are not E.164 numbers."""
    if not isinstance(to, list) or not to or not all(isinstance(t, str) for t in to):
        errors["to"] = ["to must be a non-empty list of E.164 phone numbers"]
        return [], []
    if len(to) > MAX_RECIPIENTS:
        errors["to"] = [f"to accepts at most {MAX_RECIPIENTS} recipients"]
        return to, []
    return to, [f"'{t}' is not a valid E.164 phone number" for t in to if not E164.match(t)]


def _parse_channel(channel: object, errors: dict[str, list[str]]) -> list[str]:
    """Return the channels asked for (``["sent"]``, the API's choice, when absent)."""
    if channel is None:
        return ["sent"]
    if (
        not isinstance(channel, list)
        or not channel
        or not all(isinstance(c, str) and c in SEND_CHANNELS for c in channel)
    ):
        errors["channel"] = [f"channel must be a non-empty list of {', '.join(SEND_CHANNELS)}"]
        return []
    return channel


def _parse_content(
    text: object, template_value: object, errors: dict[str, list[str]]
) -> Template | None:
    """Check that exactly one of ``text`` and ``template`` is given; return the template."""
    if (text is None) == (template_value is None):
        errors["text"] = ["Provide exactly one of text or template"]
    elif text is not None and (not isinstance(text, str) or not text):
        errors["text"] = ["text must be a non-empty string"]
    elif template_value is not None:
        return _parse_template(template_value, errors)
    return None


def _raise_errors(errors: dict[str, list[str]], phone_errors: list[str]) -> None:
    """Raise ``VALIDATION_001`` for any error, ``VALIDATION_002`` when only numbers are bad."""
    if errors:
        if phone_errors:
            errors["to"] = phone_errors
        raise InvalidRequestError("VALIDATION_001", errors)
    if phone_errors:
        raise InvalidRequestError("VALIDATION_002", {"to": phone_errors})


def parse_send(body: object, now: datetime) -> SendRequest:
    """Validate a decoded ``POST /v3/messages`` body.

    Args:
        body: the decoded JSON body.
        now: the current wall-clock time (aware), for ``scheduled_at`` bounds.

    Returns:
        The validated request.

    Raises:
        InvalidRequestError: ``VALIDATION_002`` when only phone numbers are bad, else
            ``VALIDATION_001``; ``details`` maps field names to messages.
    """
    if not isinstance(body, dict):
        raise InvalidRequestError("VALIDATION_001", {"body": ["Body must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    to, phone_errors = _parse_to(body.get("to"), errors)
    text = body.get("text")
    template = _parse_content(text, body.get("template"), errors)
    channel = _parse_channel(body.get("channel"), errors)
    scheduled_at = _parse_scheduled_at(body.get("scheduled_at"), now, errors)
    sandbox = body.get("sandbox", False)
    if not isinstance(sandbox, bool):
        errors["sandbox"] = ["sandbox must be a boolean"]
    _raise_errors(errors, phone_errors)
    return SendRequest(
        to=list(to),
        channels=list(dict.fromkeys(channel)),
        text=text,
        template=template,
        scheduled_at=scheduled_at,
        sandbox=bool(sandbox),
    )


def parse_int(value: str | None, default: int, low: int, high: int | None, field: str) -> int:
    """Parse a query integer within ``low..high`` (``high`` None = unbounded).

    Raises:
        InvalidRequestError: ``VALIDATION_005`` when not an integer or out of range.
    """
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidRequestError("VALIDATION_005", {field: [f"{field} must be {bound}"]})
    return number
