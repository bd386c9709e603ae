"""No secret (API key, webhook secret, voice callback secret, token) is printed or logged.

Every msgspec Struct the package defines is built with every field filled, the fields whose name
suggests a secret holding a sentinel; its ``repr``, ``str``, rich repr and a log line must not
contain it. Errors built from server answers that echo the API key everywhere must not carry it,
and a DEBUG log of real calls against the simulator must not contain any secret it handed out.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import re
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from rich.pretty import pretty_repr

import sentdm_async
from sentdm_async import APIError, AsyncSent, SentError
from sentdm_async.types._decode import AwareDatetime, UtcDatetime, dec_hook
from sentdm_async.types.channels import VoiceNumberCreated, VoiceSecret
from sentdm_async.types.voice import VoiceToken
from sentdm_async.types.webhooks import Webhook

from .conftest import API_KEY

if TYPE_CHECKING:
    from sentdm_async.simulator import Simulator

    from .conftest import RecordingSleep

#: The part of every sentinel secret that must never be shown (a prefix like ``whsec_`` may).
HIDDEN = "Zq7S3ntinelBody"
SENTINEL = f"whsec_{HIDDEN}"
# "key" but not a campaign's help/opt-in "keywords".
SECRET_NAME = re.compile(r"secret|token|key(?!words)|passw|credential", re.IGNORECASE)


def _struct_classes() -> list[type[msgspec.Struct]]:
    """Every Struct defined in the package (the simulator aside: it is not a result)."""
    found: dict[str, type[msgspec.Struct]] = {}
    for module_info in pkgutil.walk_packages(sentdm_async.__path__, "sentdm_async."):
        name = module_info.name
        if ".simulator" in name or name.endswith("__main__"):
            continue
        for obj in vars(importlib.import_module(name)).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, msgspec.Struct)
                and obj.__module__.startswith("sentdm_async.")
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[key] for key in sorted(found)]


STRUCTS = _struct_classes()


def _example(t: msgspec.inspect.Type, field: str = "", stack: tuple[type, ...] = ()) -> Any:
    """A builtin value of type ``t``; a str field whose name suggests a secret gets SENTINEL.

    A Struct met again inside itself (an event type's ``sub_types``) is left ``None``.
    """
    mi = msgspec.inspect
    if isinstance(t, mi.UnionType):
        types = [x for x in t.types if not isinstance(x, mi.NoneType)]
        return _example(types[0], field, stack) if types else None
    if isinstance(t, mi.StrType):
        return SENTINEL if SECRET_NAME.search(field) else "x"
    if isinstance(t, mi.BoolType):
        return True
    if isinstance(t, (mi.IntType, mi.FloatType, mi.DecimalType)):
        return 1
    if isinstance(t, mi.DateTimeType) or (
        isinstance(t, mi.CustomType) and t.cls in (AwareDatetime, UtcDatetime)
    ):
        return "2026-01-01T00:00:00Z"
    if isinstance(t, mi.LiteralType):
        return t.values[0]
    if isinstance(t, (mi.ListType, mi.TupleType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
        item = t.item_type if hasattr(t, "item_type") else t.item_types[0]
        value = _example(item, field, stack)
        return [] if value is None else [value]
    if isinstance(t, mi.DictType):
        return {"k": _example(t.value_type, field, stack)}
    if isinstance(t, mi.StructType):
        if t.cls in stack:
            return None
        inner = (*stack, t.cls)
        return {f.encode_name: _example(f.type, f.name, inner) for f in t.fields}
    return "x"  # Any and the rest


def _info(cls: type[msgspec.Struct]) -> tuple[Any, msgspec.inspect.StructType]:
    target: Any = cls[Any] if getattr(cls, "__parameters__", ()) else cls  # type: ignore[index]
    info = msgspec.inspect.type_info(target)
    assert isinstance(info, msgspec.inspect.StructType)
    return target, info


def _filled(cls: type[msgspec.Struct]) -> msgspec.Struct | None:
    """``cls`` with as many fields filled as its checks allow (generic Structs take ``Any``).

    Every field first; when ``__post_init__`` refuses that (e.g. ``text`` and ``template``
    together), each optional field in turn is left out, never a secret-named one. None when no
    such value passes (the caller then checks that the class holds no secret at all).
    """
    target, info = _info(cls)
    data: dict[str, Any] = _example(info)
    droppable = [
        f.encode_name for f in info.fields if not f.required and not SECRET_NAME.search(f.name)
    ]
    for drop in [None, *droppable]:
        attempt = {k: v for k, v in data.items() if k != drop}
        try:
            return msgspec.convert(attempt, target, strict=False, dec_hook=dec_hook)  # type: ignore[no-any-return]
        except (msgspec.ValidationError, ValueError, TypeError):
            continue
    return None


def _secret_fields(t: msgspec.inspect.Type, seen: set[type] | None = None) -> set[str]:
    """Names of the secret-named fields of ``t`` and of every Struct inside it."""
    seen = set() if seen is None else seen
    mi = msgspec.inspect
    if isinstance(t, mi.StructType):
        if t.cls in seen:
            return set()
        seen.add(t.cls)
        found = {f.name for f in t.fields if SECRET_NAME.search(f.name)}
        for f in t.fields:
            found |= _secret_fields(f.type, seen)
        return found
    inner: list[mi.Type] = []
    if isinstance(t, mi.UnionType):
        inner = list(t.types)
    elif isinstance(t, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
        inner = [t.item_type]
    elif isinstance(t, mi.DictType):
        inner = [t.value_type]
    return set().union(*(_secret_fields(x, seen) for x in inner))


def _holds_sentinel(obj: object) -> bool:
    """Whether ``obj`` (or a Struct, list or dict inside it) holds SENTINEL."""
    if isinstance(obj, msgspec.Struct):
        return any(_holds_sentinel(getattr(obj, name)) for name in obj.__struct_fields__)
    if isinstance(obj, (list, tuple)):
        return any(_holds_sentinel(x) for x in obj)
    if isinstance(obj, dict):
        return any(_holds_sentinel(x) for x in obj.values())
    return obj == SENTINEL


def test_every_struct_is_covered() -> None:
    """The walk finds the package's Structs, and the secret-bearing ones among them."""
    names = {cls.__name__ for cls in STRUCTS}
    assert {"Webhook", "WebhookPage", "VoiceNumberCreated", "VoiceSecret", "VoiceToken"} <= names
    assert {"Activity", "Contact", "MessageEvent", "PollPolicy"} <= names
    holders = {cls.__name__ for cls in STRUCTS if _holds_sentinel(_filled(cls))}
    assert {"Webhook", "WebhookPage", "VoiceNumberCreated", "VoiceSecret", "VoiceToken"} <= holders


@pytest.mark.parametrize("cls", STRUCTS, ids=lambda cls: cls.__qualname__)
def test_no_struct_shows_a_secret(
    cls: type[msgspec.Struct], caplog: pytest.LogCaptureFixture
) -> None:
    """repr, str, f-strings, rich and a logged %r of a filled Struct hide every secret field."""
    obj = _filled(cls)
    if obj is None:  # its checks refuse every generic value: then it must hold no secret
        assert not _secret_fields(_info(cls)[1])
        return
    caplog.set_level(logging.DEBUG, logger="test_secrets")
    logging.getLogger("test_secrets").info("result %r / %s", obj, obj)
    shown = [repr(obj), str(obj), f"{obj}", f"{obj!r}", pretty_repr(obj), caplog.text]
    for text in shown:
        assert HIDDEN not in text


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        pytest.param(Webhook(id="w", endpoint_url="u", signing_secret=SENTINEL), "signing_secret"),
        pytest.param(VoiceNumberCreated(callback_secret=SENTINEL), "callback_secret"),
        pytest.param(VoiceSecret(callback_secret=SENTINEL), "callback_secret"),
        pytest.param(VoiceToken(token=SENTINEL), "token"),
    ],
    ids=["webhook", "voice-number", "voice-secret", "voice-token"],
)
def test_secret_stays_readable(obj: msgspec.Struct, field: str) -> None:
    """The attribute keeps the value; repr keeps its kind prefix and says it is redacted."""
    assert getattr(obj, field) == SENTINEL
    assert f"{field}='whsec_…redacted'" in repr(obj)
    assert msgspec.json.decode(msgspec.json.encode(obj))[field] == SENTINEL


# -- errors built from answers that echo the API key ---------------------------------------------

K = API_KEY.encode()
ECHOES = [
    pytest.param(
        401,
        b'{"success":false,"error":{"code":"C_%s","message":"m %s","doc_url":"https://d/%s",'
        b'"details":{"%s":["%s"]}},"meta":{"request_id":"r_%s"}}' % ((K,) * 6),
        id="every-error-field",
    ),
    pytest.param(
        200,
        b'{"success":false,"data":null,"error":{"code":"%s","message":"%s","doc_url":"%s"},'
        b'"meta":{"request_id":"%s"}}' % ((K,) * 4),
        id="2xx-that-failed",
    ),
    pytest.param(200, b'{"success":true,"data":null,"meta":{"request_id":"%s"}}' % K, id="no-data"),
    pytest.param(502, b"<html>upstream said x-api-key: %s</html>" % K, id="html-body"),
    pytest.param(200, b"not json, x-api-key=%s" % K, id="garbage-2xx"),
    pytest.param(400, b'{"error":{"details":"%s"}}' % K, id="details-not-a-mapping"),
]


def _error_texts(exc: BaseException) -> list[str]:
    """Everything a handler could print of ``exc``: str, repr, args and every attribute."""
    texts = [str(exc), repr(exc), repr(exc.args)]
    texts.extend(repr(value) for value in vars(exc).values())
    return texts


@pytest.mark.parametrize(("status", "body"), ECHOES)
async def test_errors_never_carry_the_key(
    sim: Simulator, sleeps: RecordingSleep, status: int, body: bytes
) -> None:
    """An answer echoing the API key in any field gives an error without the key."""
    del sleeps
    sim.inject("raw", route="status", status=status, body=body, times=10)
    async with AsyncSent(
        api_key=API_KEY, base_url=sim.base_url, rate_limit=None, max_retries=0
    ) as client:
        with pytest.raises(APIError) as info:
            await client.messages.retrieve_status("m")
    for text in _error_texts(info.value):
        assert API_KEY not in text


# -- the log of real calls -------------------------------------------------------------------------


async def test_debug_log_of_real_calls_holds_no_secret(
    client: AsyncSent, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Every logger at DEBUG, through secret-bearing calls and retried errors: no secret."""
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("app")
    secrets: list[str] = [API_KEY]
    hook = await client.webhooks.create(endpoint_url="https://example.com/hooks")
    assert hook.id is not None
    rotated = await client.webhooks.rotate_secret(hook.id)
    fetched = await client.webhooks.retrieve(hook.id)
    listed = [w async for w in client.webhooks.list()]
    number = await client.channels.voice.create(callback_url="https://example.com/cb")
    new_secret = await client.channels.voice.rotate_secret(number.number or "")
    token = await client.voice.tokens.create(identity="user-1")
    results: list[object] = [hook, rotated, fetched, listed, number, new_secret, token]
    for result in results:
        log.debug("got %r", result)
        log.info("got %s", result)
    secrets += [
        s
        for s in (
            hook.signing_secret,
            rotated.signing_secret,
            number.callback_secret,
            new_secret.callback_secret,
            token.token,
        )
        if s
    ]
    assert len(secrets) == 6  # the simulator handed out every secret
    sim.inject("status", route="status", status=503, times=2)
    sim.inject("drop", route="status")
    with pytest.raises(SentError):
        await client.messages.retrieve_status("m")
    assert any(r.name == "sentdm_async" for r in caplog.records)  # the retries were logged
    text = (
        "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
        + caplog.text
    )
    for secret in secrets:
        assert secret not in text
