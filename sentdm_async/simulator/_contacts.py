"""The simulator's contact book: seeded contacts, filtering and 1-indexed pagination."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import msgspec

from sentdm_async.simulator._model import format_international, format_ts, new_uuid

if TYPE_CHECKING:
    import random

_AREA_CODES: Final = (202, 212, 305, 312, 415, 512, 617, 702, 808, 917)
# Contacts are dated relative to a fixed instant so the whole book is a pure function of the seed.
_EPOCH: Final = datetime(2026, 1, 1, tzinfo=UTC)
_WHATSAPP_SHARE: Final = 0.45
_OPT_OUT_SHARE: Final = 0.04

CHANNELS: Final = frozenset({"sms", "whatsapp"})


class _Entry(msgspec.Struct, frozen=True):
    id: str
    digits: str  # E.164 without the "+", for the phone filter
    channels: frozenset[str]
    encoded: bytes


class ContactBook:
    """Contacts seeded at construction, pre-encoded so listing costs a filter and a join."""

    def __init__(self, rng: random.Random, count: int, customer_id: str) -> None:
        """Seed ``count`` contacts from ``rng`` for the customer ``customer_id``."""
        if count < 0:
            msg = f"contacts must be >= 0, got {count}"
            raise ValueError(msg)
        self._entries: list[_Entry] = []
        self.by_phone: dict[str, str] = {}
        """E.164 number -> contact id."""
        while len(self._entries) < count:
            area = rng.choice(_AREA_CODES)
            line = rng.randrange(10_000)
            e164 = f"+1{area}555{line:04d}"
            if e164 in self.by_phone:
                continue
            contact_id = new_uuid(rng)
            whatsapp = rng.random() < _WHATSAPP_SHARE
            default = "whatsapp" if whatsapp and rng.random() < 0.5 else "sms"
            created = _EPOCH - timedelta(seconds=rng.uniform(0, 365 * 86_400))
            updated = created + timedelta(seconds=rng.uniform(0, 30 * 86_400))
            record = {
                "id": contact_id,
                "phone_number": e164,
                "format_e164": e164,
                "format_international": format_international(e164),
                "format_national": f"({area}) 555-{line:04d}",
                "format_rfc": f"tel:+1-{area}-555-{line:04d}",
                "country_code": "1",
                "region_code": "US",
                "available_channels": "sms,whatsapp" if whatsapp else "sms",
                "default_channel": default,
                "opt_out": rng.random() < _OPT_OUT_SHARE,
                "is_inherited": False,
                "customer_id": customer_id,
                "created_at": format_ts(created, rng.randrange(10)),
                "updated_at": format_ts(updated, rng.randrange(10)),
            }
            channels = frozenset({"sms", "whatsapp"} if whatsapp else {"sms"})
            entry = _Entry(contact_id, e164[1:], channels, msgspec.json.encode(record))
            self._entries.append(entry)
            self.by_phone[e164] = contact_id

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, contact_id: str) -> dict[str, Any] | None:
        """Return one contact's record, or None."""
        for entry in self._entries:
            if entry.id == contact_id:
                record: dict[str, Any] = msgspec.json.decode(entry.encoded)
                return record
        return None

    def put(self, record: dict[str, Any]) -> None:
        """Add a contact record, or replace the one with the same ``id``."""
        e164 = record["format_e164"]
        channels = frozenset(c for c in record["available_channels"].split(",") if c)
        entry = _Entry(record["id"], e164[1:], channels, msgspec.json.encode(record))
        for i, old in enumerate(self._entries):
            if old.id == entry.id:
                self._entries[i] = entry
                break
        else:
            self._entries.append(entry)
        self.by_phone[e164] = entry.id

    def remove(self, contact_id: str) -> bool:
        """Delete a contact; return whether it existed."""
        for i, old in enumerate(self._entries):
            if old.id == contact_id:
                del self._entries[i]
                self.by_phone.pop("+" + old.digits, None)
                return True
        return False

    def records(self) -> list[dict[str, Any]]:
        """Return every contact's record (fresh copies) in the book's order."""
        return [msgspec.json.decode(entry.encoded) for entry in self._entries]

    def phones(self) -> list[str]:
        """Return the contacts' E.164 numbers in seeding order."""
        return list(self.by_phone)

    def page(
        self,
        *,
        page: int,
        page_size: int,
        search: str = "",
        channel: str = "",
        phone: str = "",
    ) -> bytes:
        """Return the encoded ``data`` of ``GET /v3/contacts`` for validated query values.

        Args:
            page: 1-indexed page number (>= 1); beyond the end gives an empty list.
            page_size: contacts per page (already checked to be 1..100).
            search: case-insensitive substring of the phone number or the id; "" = no filter.
            channel: ``"sms"`` or ``"whatsapp"`` (must be available); "" = no filter.
            phone: a phone number in any punctuation; matches the E.164 digits; "" = no filter.
        """
        entries = _filtered(self._entries, search, channel, phone)
        total = len(entries)
        total_pages = math.ceil(total / page_size)
        start = (page - 1) * page_size
        items = b",".join(e.encoded for e in entries[start : start + page_size])
        pagination = msgspec.json.encode(
            {
                "page": page,
                "page_size": page_size,
                "total_count": total,
                "total_pages": total_pages,
                "has_more": page < total_pages,
                "cursors": None,
            }
        )
        return b'{"contacts":[%s],"pagination":%s}' % (items, pagination)


def _filtered(entries: list[_Entry], search: str, channel: str, phone: str) -> list[_Entry]:
    """Return the entries every non-empty filter keeps, in seeding order."""
    return _by_phone(_by_channel(_by_search(entries, search), channel), phone)


def _by_search(entries: list[_Entry], search: str) -> list[_Entry]:
    """Keep the entries whose id or E.164 number contains ``search`` (any case)."""
    if not search:
        return entries
    needle = search.lower()
    return [e for e in entries if needle in e.id or needle in "+" + e.digits]


def _by_channel(entries: list[_Entry], channel: str) -> list[_Entry]:
    """Keep the entries that have ``channel`` available."""
    if not channel:
        return entries
    return [e for e in entries if channel in e.channels]


def _by_phone(entries: list[_Entry], phone: str) -> list[_Entry]:
    """Keep the entries whose number is ``phone`` (any punctuation, US national allowed)."""
    if not phone:
        return entries
    digits = "".join(c for c in phone if c.isdigit())
    if len(digits) == 10:
        digits = "1" + digits
    return [e for e in entries if e.digits == digits]
