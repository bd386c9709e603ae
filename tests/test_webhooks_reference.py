"""`verify` against the reference implementation, ``standardwebhooks``, on the same inputs.

Each case says what the reference does and what we do; where they differ, the module docstring
of ``sentdm_async.webhooks._verify`` says why (all differences are refusals of inputs no Sent
delivery carries).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeAlias

import pytest
import standardwebhooks

from sentdm_async import webhooks
from sentdm_async.webhooks import WebhookVerificationError

KEY = b"a 24-byte signing secret"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
BODY = b'{"field":"message","event":"message.sent","payload":{"message_status":"SENT"}}'
ZEROS = "v1," + base64.b64encode(bytes(32)).decode()
ACCEPT = None


def reference_sign(webhook_id: str, stamp: int, body: bytes = BODY, key: bytes = KEY) -> str:
    """The reference's own signature (not ours: the two are checked against each other)."""
    moment = datetime.fromtimestamp(stamp, tz=UTC)
    return standardwebhooks.Webhook(key).sign(msg_id=webhook_id, timestamp=moment, data=body)


def non_canonical(signature: str) -> str:
    """The same digest with its two unused trailing bits set: decodes equal, reads different."""
    encoded = signature.removeprefix("v1,")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(encoded[-2])
    changed = encoded[:-2] + alphabet[last | 0b11] + encoded[-1]
    assert base64.b64decode(changed) == base64.b64decode(encoded)
    assert changed != encoded
    return "v1," + changed


Input: TypeAlias = Callable[[], dict[str, Any]]


def case(
    *,
    webhook_id: str = "msg_2Lh9KmvQWk3",
    stamp: Callable[[int], str] = str,
    signature: Callable[[str], str] | str | None = None,
    body: bytes = BODY,
    secret: str = SECRET,
) -> Input:
    """One input, built when the test runs (not at collection: the timestamp must be fresh).

    The headers use the Standard Webhooks names, which the reference reads; ``stamp`` turns
    the current Unix time into the timestamp header, ``signature`` the valid signature into
    the signature header.
    """

    def build() -> dict[str, Any]:
        now = int(time.time())
        good = reference_sign(webhook_id, now, body)
        value = signature(good) if callable(signature) else (signature or good)
        headers = {"webhook-id": webhook_id, "webhook-timestamp": stamp(now)}
        headers["webhook-signature"] = value
        return {"body": body, "headers": headers, "secret": secret}

    return build


BOGUS = " ".join([ZEROS] * 16)
CASES = [
    # Both accept.
    pytest.param(case(), True, ACCEPT, id="valid"),
    pytest.param(case(signature=lambda s: f"{BOGUS} {s}"), True, ACCEPT, id="17th-entry"),
    pytest.param(
        case(signature=lambda s: " ".join([ZEROS] * 80 + [s])), True, ACCEPT, id="81st-entry"
    ),
    pytest.param(case(webhook_id="msg_1\u00a0"), True, ACCEPT, id="id-ends-in-nbsp"),
    pytest.param(case(webhook_id=" msg_1"), True, ACCEPT, id="id-starts-with-space"),
    pytest.param(case(signature=lambda s: f"{ZEROS}  {s}"), True, ACCEPT, id="double-space"),
    pytest.param(case(signature=lambda s: f"{s} "), True, ACCEPT, id="trailing-space"),
    pytest.param(case(signature=lambda s: f"v2,abc {s}"), True, ACCEPT, id="other-version"),
    pytest.param(case(body="ünïcode".encode()), True, ACCEPT, id="utf8-body"),
    pytest.param(case(body=b"\xff\xfe not utf-8"), True, ACCEPT, id="binary-body"),
    # Both refuse; ours names the reason.
    pytest.param(case(signature=lambda s: f"{ZEROS}\t{s}"), False, "a tab, NBSP", id="tab-sep"),
    pytest.param(
        case(signature=lambda s: f"{ZEROS}\u00a0{s}"), False, "a tab, NBSP", id="nbsp-sep"
    ),
    pytest.param(case(signature=non_canonical), False, "not canonical", id="non-canonical"),
    pytest.param(
        case(signature=lambda s: s.rstrip("=")), False, "missing = padding", id="no-padding"
    ),
    pytest.param(case(signature=ZEROS), False, "no v1 signature matches", id="wrong-digest"),
    pytest.param(case(signature="v1,AAAA"), False, "not a SHA-256 digest", id="short-digest"),
    pytest.param(case(signature="v2,abc"), False, "no v1 signature in", id="no-v1"),
    pytest.param(
        case(secret="whsec_" + base64.b64encode(b"x" * 24).decode()),
        False,
        "no v1 signature matches",
        id="other-secret",
    ),
    pytest.param(case(stamp=lambda now: str(now - 3600)), False, "too old", id="stale"),
    pytest.param(case(stamp=lambda now: str(now + 3600)), False, "future", id="future"),
    pytest.param(case(webhook_id=""), False, "empty", id="empty-id"),
    # The reference accepts; we refuse, on purpose (stricter: see the module docstring).
    pytest.param(case(stamp=lambda now: f"{now}.0"), True, "Unix seconds", id="float-timestamp"),
    pytest.param(case(stamp=lambda now: f"{now}e0"), True, "Unix seconds", id="exponent-timestamp"),
    pytest.param(
        case(stamp=lambda now: str(now).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))),
        True,
        "Unix seconds",
        id="arabic-indic-digits",
    ),
    pytest.param(case(stamp=lambda now: f" {now} "), True, "Unix seconds", id="padded-timestamp"),
    pytest.param(case(stamp=lambda now: f"+{now}"), True, "Unix seconds", id="signed-timestamp"),
    pytest.param(case(webhook_id="m" * 257), True, "too long", id="id-over-256"),
]


def reference_accepts(body: bytes, headers: dict[str, str], secret: str) -> bool:
    """Whether ``standardwebhooks`` 1.3 accepts the input."""
    try:
        standardwebhooks.Webhook(secret).verify(body, headers, json_parse=False)
    except standardwebhooks.webhooks.WebhookVerificationError:
        return False
    return True


@pytest.mark.parametrize(("make", "reference", "ours"), CASES)
def test_verify_against_standardwebhooks(make: Input, reference: bool, ours: str | None) -> None:
    """The reference's verdict is as listed; ours accepts the same or refuses naming why."""
    given = make()
    assert reference_accepts(**given) is reference
    if ours is ACCEPT:
        webhooks.verify(given["body"], given["headers"], given["secret"])
    else:
        with pytest.raises(WebhookVerificationError, match=ours):
            webhooks.verify(given["body"], given["headers"], given["secret"])


def test_our_signature_verifies_with_the_reference() -> None:
    """`sign` makes what the reference accepts, byte for byte the reference's own signature."""
    stamp = int(time.time())
    ours = webhooks.sign(BODY, SECRET, webhook_id="msg_9", timestamp=stamp)
    assert ours == reference_sign("msg_9", stamp)
    headers = {"webhook-id": "msg_9", "webhook-timestamp": str(stamp), "webhook-signature": ours}
    assert reference_accepts(BODY, headers, SECRET)
