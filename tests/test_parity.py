"""Parity with the official SDK `sentdm` 0.46.0: same request, same decoded values, every method.

Every async method of `sent_dm.AsyncSent` is called with every parameter filled from the SDK's
own annotations, and the matching method of ours with the same arguments, against one capturing
server on a real loopback socket. The requests must agree on method, path, query and JSON body
(headers such as the user agent or the idempotency key are not compared). Both clients then get
the SDK's own response models filled completely, and again with every ``Optional`` field
``null``; ours must decode the same values under the SDK's attribute names.

What is different on purpose is written once, in `DIFFERENCES`, with the reason; the harness
maps exactly those and nothing else.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import pytest

from .parity.compare import Mapping
from .parity.harness import Outcome, Rules, run_all
from .parity.methods import sdk_methods

Kind = Literal["envelope", "page", "rename", "decimal", "required", "positional"]


@dataclass(frozen=True)
class Difference:
    """One deliberate difference: ``where`` in the SDK, what ours has instead, and why."""

    kind: Kind
    where: str
    ours: str
    reason: str


_PAGED = "ours: lazy `async for` iterator over every page; `*_page` is the SDK's one-page call"
_ACTIVITY = "message_retrieve_activities_response.DataActivity"
_STATUS = "message_retrieve_status_response.Data"
_CONVERSATION = "conversation_messages_list.Message"
_ID = "ids stay required: a record without its id cannot be used, so it fails to decode"
_MONEY = "money as exact Decimal (the wire's decimal string or number, never a binary float)"

# The README's migration table ("Moving from the official SDK") in data form: each entry is mapped
# by the harness, nothing else is; README_ROWS names the table row that tells users about it.
README_ROWS: Final[dict[Kind, str]] = {
    "envelope": "results",
    "positional": "a profile id in the path",
    "page": "paged lists",
    "required": "ids of a result",
    "rename": "`from` of an activity",
    "decimal": "prices",
}
DIFFERENCES: Final = (
    Difference("envelope", "*", "data", "ours returns the envelope's `data`, no `.data`"),
    Difference("positional", "*", "profile_id", "the profile id in a path is positional-only"),
    Difference("page", "contacts.list", "contacts.list_page", _PAGED),
    Difference("page", "conversations.list", "conversations.list_page", _PAGED),
    Difference("page", "conversations.list_messages", "conversations.list_messages_page", _PAGED),
    Difference("page", "templates.list", "templates.list_page", _PAGED),
    Difference("page", "webhooks.list", "webhooks.list_page", _PAGED),
    Difference("page", "voice.calls.list", "voice.calls.list_page", _PAGED),
    Difference("required", "contact_response.ContactResponse.id", "str", _ID),
    Difference("required", "message_retrieve_status_response.Data.id", "str", _ID),
    Difference("required", "message_retrieve_activities_response.Data.message_id", "str", _ID),
    Difference("rename", f"{_ACTIVITY}.from_", "sender", "`from` is `sender` on activities"),
    Difference("decimal", f"{_ACTIVITY}.price", "Decimal", _MONEY),
    Difference("decimal", f"{_ACTIVITY}.active_contact_price", "Decimal", _MONEY),
    Difference("decimal", f"{_STATUS}.price", "Decimal", _MONEY),
    Difference("decimal", f"{_STATUS}.active_contact_price", "Decimal", _MONEY),
    Difference("decimal", f"{_CONVERSATION}.price", "Decimal", _MONEY),
    Difference("decimal", f"{_CONVERSATION}.active_contact_price", "Decimal", _MONEY),
)

# Arguments the API refuses together: the call fills one of each pair.
OMIT: Final = {
    "messages.send": frozenset({"text"}),  # `text` or `template`
    "channels.voice.create": frozenset({"area_code"}),  # `number` or `area_code`
}
GIVEN: Final = {
    # `id` or `name`, not both.
    "messages.send": {
        "template": {"id": "tpl-1", "parameters": {"name": "Ann"}},
        "channels": {"sms": [{"from": ["+15559990002"], "country": "US", "strategy": "sticky"}]},
    },
}

# Gaps still open, each with its reason; a listed gap that passes fails the run (xfail strict).
KNOWN_GAPS: Final[dict[tuple[str, str], str]] = {}


def _pairs(kind: Kind) -> list[tuple[str, str]]:
    return [(row.where, row.ours) for row in DIFFERENCES if row.kind == kind]


def _field(where: str) -> tuple[str, str]:
    model, _, name = where.rpartition(".")
    return model, name


RULES: Final = Rules(
    mapping=Mapping(
        renamed={_field(where): ours for where, ours in _pairs("rename")},
        decimal=frozenset(_field(where) for where, _ in _pairs("decimal")),
    ),
    pages=dict(_pairs("page")),
    required=frozenset(_field(where) for where, _ in _pairs("required")),
    positional=frozenset(ours for _, ours in _pairs("positional")),
)
METHODS: Final = sdk_methods(OMIT, GIVEN)
ROWS: Final = ("present", "request", "full", "null")


def _cases(row: str) -> list[object]:
    cases: list[object] = []
    for method in METHODS:
        gap = KNOWN_GAPS.get((method.name, row))
        marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else []
        cases.append(pytest.param(method.name, id=method.name, marks=marks))
    return cases


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    """Run every method once, both clients, both answers, against one capturing server."""
    return asyncio.run(run_all(METHODS, RULES))


def _check(found: list[str]) -> None:
    assert not found, "\n".join(found)


def test_sdk_has_sixty_async_methods() -> None:
    """The walk finds every async method of the SDK version the table was written for."""
    assert len(METHODS) == 60


def test_known_gaps_name_real_methods() -> None:
    """Every known gap names an SDK method and a row of the check."""
    names = {method.name for method in METHODS}
    assert all(name in names and row in ROWS for name, row in KNOWN_GAPS)


def test_every_difference_is_a_row_of_the_readme_migration_table() -> None:
    """Each deliberate difference the harness maps is a row users read in the README."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Moving from the official SDK", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| ([^|]+?) \|", table, flags=re.MULTILINE))
    assert {README_ROWS[row.kind] for row in DIFFERENCES} <= rows


@pytest.mark.parametrize("name", _cases("present"))
def test_method_present(name: str, outcomes: dict[str, Outcome]) -> None:
    """Ours has the SDK's method under the SDK's resource path and name."""
    _check(outcomes[name].present)


@pytest.mark.parametrize("name", _cases("request"))
def test_same_request(name: str, outcomes: dict[str, Outcome]) -> None:
    """The same arguments send the same method, path, query and JSON body."""
    _check(outcomes[name].request)


@pytest.mark.parametrize("name", _cases("full"))
def test_same_values_fully_populated(name: str, outcomes: dict[str, Outcome]) -> None:
    """The SDK's fully populated answer decodes to the same values in ours."""
    _check(outcomes[name].full)


@pytest.mark.parametrize("name", _cases("null"))
def test_same_values_all_optional_null(name: str, outcomes: dict[str, Outcome]) -> None:
    """An answer with every Optional field null decodes, to the same values."""
    _check(outcomes[name].null)
