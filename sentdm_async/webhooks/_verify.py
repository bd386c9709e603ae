"""Signature verification of Sent's webhooks (the Svix / Standard Webhooks HMAC scheme).

Signed content is ``{id}.{timestamp}.{raw body}``, HMAC-SHA256 with the base64-decoded secret;
the signature header is a space-separated list of ``v1,<base64 digest>`` entries (any match
passes, other versions are ignored). Everything a sender controls is checked here, and any
failure is a `WebhookVerificationError` saying which check failed, never the secret or the
expected signature.

Where this differs from the reference implementation (``standardwebhooks`` 1.3.0), on purpose,
and where it follows it (``tests/test_webhooks_reference.py`` runs both on the same inputs):

- Every signature entry is tried, as the reference does: the 4096-character cap on the header
  already bounds the work (about 85 entries), so a count limit would only refuse a valid list.
- The id is signed exactly as received: nothing is stripped (the reference strips nothing, and
  ``str.strip`` would also eat U+00A0 and break the HMAC of a genuine id).
- Entries are separated by single spaces, as the spec writes them; an entry holding a tab,
  NBSP or other whitespace is refused with that reason (the reference cannot match it either).
- A digest must be canonical base64 (``=`` padding, zero trailing bits): the reference compares
  the text, so a re-encoded variant of a valid digest fails there too; here it is named.
- Stricter than the reference: the timestamp must be ASCII digits (the reference's ``float()``
  takes ``1.7e9``, ``" 17…"`` and Arabic-Indic digits: none is a Unix-seconds header), the id is
  at most 256 characters and each header at most 4096 (refused before any HMAC is computed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, TypeAlias

from sentdm_async.errors import SentError

__all__ = [
    "DEFAULT_TOLERANCE",
    "MAX_HEADER",
    "MAX_ID",
    "Headers",
    "WebhookError",
    "WebhookVerificationError",
    "sign",
    "verify",
]

#: Largest accepted difference between the sender's timestamp and our clock (seconds).
DEFAULT_TOLERANCE: Final = 300.0
#: Header names, in the order they are looked up: Sent's, Standard Webhooks', Svix's.
ID_HEADERS: Final = ("x-webhook-id", "webhook-id", "svix-id")
TIMESTAMP_HEADERS: Final = ("x-webhook-timestamp", "webhook-timestamp", "svix-timestamp")
SIGNATURE_HEADERS: Final = ("x-webhook-signature", "webhook-signature", "svix-signature")
EVENT_ID_HEADER: Final = "x-webhook-event-id"
_SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the prefix Sent shows, not a secret
#: Longest signature header accepted (characters); it bounds the entries tried (about 85).
MAX_HEADER: Final = 4096
#: Longest webhook id and event id accepted (characters); Sent's and Svix's are about 40.
MAX_ID: Final = 256

#: A header mapping (aiohttp's, Starlette's, a dict) or ASGI-style ``(name, value)`` pairs.
Headers: TypeAlias = Mapping[str, str] | Iterable[tuple[bytes | str, bytes | str]]


class WebhookError(SentError):
    """A webhook request that cannot be accepted (base class)."""


class WebhookVerificationError(WebhookError):
    """The request's signature, timestamp or headers failed verification (answer 400)."""


def _text(value: bytes | str) -> str:
    # UTF-8 with surrogateescape: any byte survives, and `_raw` gives the same bytes back.
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _raw(text: str) -> bytes:
    """The bytes of a header value or body given as str (lone surrogates refused clearly)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeError:
        raise WebhookVerificationError("a header or body holds characters no sender sent") from None


def lower_headers(headers: object) -> dict[str, str]:
    """Return ``headers`` as a dict with lower-case names (the first value of a name wins)."""
    items: Iterable[object]
    if isinstance(headers, Mapping):
        items = headers.items()
    elif isinstance(headers, Iterable) and not isinstance(headers, str | bytes):
        items = headers
    else:
        raise WebhookVerificationError("headers must be a mapping or (name, value) pairs")
    out: dict[str, str] = {}
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise WebhookVerificationError("headers must be a mapping or (name, value) pairs")
        name, value = item
        if not isinstance(name, str | bytes) or not isinstance(value, str | bytes):
            raise WebhookVerificationError("header names and values must be str or bytes")
        out.setdefault(_text(name).lower(), _text(value))
    return out


def _header(headers: Mapping[str, str], names: Sequence[str], limit: int = MAX_HEADER) -> str:
    """The first of ``names`` present, exactly as received (nothing stripped: it is signed)."""
    for name in names:
        value = headers.get(name)
        if value is not None:
            if not value:
                raise WebhookVerificationError(f"header {name} is empty")
            if len(value) > limit:
                raise WebhookVerificationError(
                    f"header {name} is too long (over {limit} characters)"
                )
            return value
    raise WebhookVerificationError(f"missing header {names[0]} (or {', '.join(names[1:])})")


def _keys(secret: object) -> list[bytes]:
    secrets = [secret] if isinstance(secret, str | bytes) else secret
    if not isinstance(secrets, Sequence) or not secrets:
        raise WebhookVerificationError("secret must be a str, bytes, or a non-empty sequence")
    keys: list[bytes] = []
    for one in secrets:
        if isinstance(one, bytes):
            one = one.decode("ascii", "replace")
        if not isinstance(one, str):
            raise WebhookVerificationError("each secret must be a str or bytes")
        text = one.strip().removeprefix(_SECRET_PREFIX)
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookVerificationError(
                "secret is not 'whsec_' followed by base64 (as shown by Sent)"
            ) from None
        if not key:
            raise WebhookVerificationError("secret is empty")
        keys.append(key)
    return keys


def _timestamp(text: str, tolerance: float, now: float | None) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise WebhookVerificationError(
            "webhook timestamp is not Unix seconds (at most 12 ASCII digits, no sign or fraction)"
        )
    stamp = int(text)
    current = time.time() if now is None else now
    if stamp < current - tolerance:
        raise WebhookVerificationError("webhook timestamp is too old (a replay?)")
    if stamp > current + tolerance:
        raise WebhookVerificationError("webhook timestamp is too far in the future")
    return stamp


def _entry(number: int, entry: str) -> bytes | str | None:
    """One signature entry: its digest, a reason it cannot match, or None (another scheme)."""
    if any(char.isspace() for char in entry):
        return (
            f"signature entry {number} holds a tab, NBSP or other whitespace "
            "(entries are separated by single spaces)"
        )
    version, _, encoded = entry.partition(",")
    if version != "v1":
        return None  # another scheme's signature: not ours to check
    try:
        digest = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return f"signature entry {number} is not base64 (a bad character or missing = padding)"
    if base64.b64encode(digest).decode() != encoded:
        return f"signature entry {number} is not canonical base64 (padding or trailing bits)"
    if len(digest) != hashlib.sha256().digest_size:
        return f"signature entry {number} is {len(digest)} bytes, not a SHA-256 digest"
    return digest


def _signatures(header: str) -> tuple[list[bytes], list[str]]:
    """The ``v1`` digests of a signature header, and why the other ``v1``-like entries failed."""
    found: list[bytes] = []
    problems: list[str] = []
    for number, entry in enumerate(header.split(" "), start=1):
        if not entry:
            continue  # two spaces in a row: nothing to check (the reference skips them too)
        parsed = _entry(number, entry)
        if isinstance(parsed, bytes):
            found.append(parsed)
        elif parsed is not None:
            problems.append(parsed)
    return found, problems


def _body_bytes(body: object) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return _raw(body)
    raise WebhookVerificationError("body must be the raw request bytes")


def verify(
    body: bytes | str,
    headers: Headers,
    secret: str | bytes | Sequence[str | bytes],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check that ``body`` was signed by Sent with ``secret``, recently.

    Args:
        body: The raw request body, exactly as received (not re-serialized JSON).
        headers: The request headers, any mapping or ``(name, value)`` pairs; looked up
            case-insensitively under Sent's ``X-Webhook-*``, Standard Webhooks' ``webhook-*``
            and Svix's ``svix-*`` names.
        secret: ``whsec_<base64>`` or bare base64, or several (during a rotation: any may
            match).
        tolerance: Largest difference in seconds between the signed timestamp and ``now``.
        now: Unix time to check against (default: the clock).

    Raises:
        WebhookVerificationError: Which check failed (missing, empty or over-long header,
            timestamp not Unix seconds, stale or in the future, a signature entry with a tab or
            NBSP, not base64, not canonical base64 or not a digest, no matching ``v1``
            signature, unusable secret or body). See the module docstring for how this
            compares with ``standardwebhooks``.
    """
    verified_id(body, headers, secret, tolerance=tolerance, now=now)


def verified_id(
    body: bytes | str,
    headers: Headers,
    secret: str | bytes | Sequence[str | bytes],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> str:
    """`verify`, returning the signed webhook id (the receivers deduplicate on it)."""
    _check_clock(tolerance, now)
    raw = _body_bytes(body)
    keys = _keys(secret)
    lowered = lower_headers(headers)
    webhook_id = _header(lowered, ID_HEADERS, MAX_ID)
    stamp = _timestamp(_header(lowered, TIMESTAMP_HEADERS), tolerance, now)
    candidates, problems = _signatures(_header(lowered, SIGNATURE_HEADERS))
    if _any_matches(keys, _raw(f"{webhook_id}.{stamp}.") + raw, candidates):
        return webhook_id
    reasons = problems[:3]  # each names its entry; three are enough to see the pattern
    if candidates:
        reasons.insert(0, f"no v1 signature matches the secret ({len(candidates)} tried)")
    raise WebhookVerificationError("; ".join(reasons) or "no v1 signature in the signature header")


def _check_clock(tolerance: float, now: float | None) -> None:
    """Refuse a ``tolerance`` or ``now`` that is not a usable number."""
    if not (isinstance(tolerance, int | float) and 0 <= tolerance < math.inf):
        raise WebhookVerificationError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    if now is not None and not (isinstance(now, int | float) and math.isfinite(now)):
        raise WebhookVerificationError(f"now must be a finite Unix time, got {now!r}")


def _any_matches(keys: Sequence[bytes], signed: bytes, candidates: Sequence[bytes]) -> bool:
    """Return whether a candidate signature is the HMAC-SHA256 of ``signed`` under a key."""
    for key in keys:
        expected = hmac.new(key, signed, hashlib.sha256).digest()
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return True
    return False


def sign(body: bytes, secret: str, *, webhook_id: str, timestamp: int) -> str:
    """Return the ``X-Webhook-Signature`` value Sent would send (for tests and the simulator)."""
    (key,) = _keys(secret)
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
