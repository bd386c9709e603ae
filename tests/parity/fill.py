"""Values made from the SDK's own annotations: request arguments and response bodies.

Requests: every parameter and every TypedDict key is filled (snake_case, as a caller writes
them; the SDK's ``_transform`` renames them on the wire). Responses: every field of the SDK's
pydantic model is filled recursively under its wire name (the alias), or, in ``null`` mode,
every ``Optional`` field is ``null``.
"""

from __future__ import annotations

import types
import typing
from datetime import UTC, date, datetime
from typing import Any, Literal

import pydantic
from typing_extensions import is_typeddict

__all__ = ["MOMENT", "argument", "response_body"]

MOMENT = datetime(2026, 5, 21, 11, 41, 33, 123456, tzinfo=UTC)
_PHONE = "+15551234567"
_PHONE_NAMES = frozenset({"to", "number", "phone", "caller_id", "from_"})
# Integers the API bounds (the SDK's docstrings): a value in range for every bounded name.
_INTS = {"retry_count": 3, "timeout_seconds": 30, "ttl": 3600, "page": 2, "page_size": 25}
# Strings the API takes from a closed set (the SDK's docstrings) that the SDK types as `str`.
_CHOICES = {"channel": "sms", "default_channel": "sms", "action": "start", "role": "admin"}


def _skip(tp: object) -> bool:
    name = getattr(tp, "__name__", "")
    return tp is type(None) or name in {"Omit", "NotGiven"}


def _strip(tp: Any) -> Any:
    """Drop ``Annotated``, ``Required``/``NotRequired`` and ``Optional``/omit wrappers."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _strip(typing.get_args(tp)[0])
    if origin in (typing.Required, typing.NotRequired):
        return _strip(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(tp) if not _skip(arg)]
        return _strip(options[0]) if len(options) == 1 else typing.Union[tuple(options)]  # noqa: UP007
    return tp


def _string(name: str) -> str:
    if name in _CHOICES:
        return _CHOICES[name]
    if name in _PHONE_NAMES or "phone" in name or name.endswith("_number"):
        return _PHONE
    if "url" in name:
        return f"https://example.com/{name}"
    if "email" in name:
        return f"{name}@example.com"
    if "price" in name:
        return "0.0450"
    if name.endswith("_at"):
        return MOMENT.isoformat()
    return f"{name}-value"


def argument(name: str, tp: Any) -> Any:
    """Return a caller's value for parameter ``name`` of type ``tp``, every key filled."""
    tp = _strip(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return argument(name, typing.get_args(tp)[0])
    if origin is Literal:
        return typing.get_args(tp)[0]
    if is_typeddict(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        return {key: argument(key, hint) for key, hint in hints.items()}
    if origin in (dict, typing.Mapping) or tp is dict:
        args = typing.get_args(tp)
        return {"key": argument("key", args[1]) if args else "value"}
    if origin is not None and origin not in (type,) and _is_sequence(origin):
        return [argument(name, typing.get_args(tp)[0])]
    return _scalar(name, tp)


def _is_sequence(origin: Any) -> bool:
    return isinstance(origin, type) and issubclass(origin, typing.Iterable) and origin is not str


def _scalar(name: str, tp: Any) -> Any:
    if tp is bool:
        return True
    if tp is int:
        return _INTS.get(name, 3)
    if tp is float:
        return 0.045
    if tp is datetime:
        return MOMENT
    if tp is date:
        return MOMENT.date()
    if tp is str or getattr(tp, "__name__", "") == "SequenceNotStr":
        value = _string(name)
        return value if tp is str else [value]
    if tp is object or tp is Any:
        return {"key": "value"}
    raise TypeError(f"no value for {name}: {tp!r}")


def response_body(
    tp: Any,
    *,
    null: bool,
    keep: frozenset[tuple[str, str]],
    name: str = "value",
    stack: tuple[type, ...] = (),
) -> Any:
    """Return the JSON of a ``tp`` (an SDK model or type) as the API would send it.

    Args:
        tp: The annotation to fill.
        null: Set every ``Optional`` field to ``null`` (the model itself stays an object).
        keep: ``(model, field)`` pairs filled even in ``null`` mode (kept required on purpose).
        name: The field's name, for the heuristics on strings.
        stack: The models being filled; a model met again inside itself ends as ``[]``/``null``.
    """
    tp = _strip(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        tp = typing.get_args(tp)[0]
        origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        return None if tp in stack else _model(tp, null=null, keep=keep, stack=(*stack, tp))
    if origin is Literal:
        return typing.get_args(tp)[0]
    if origin is list or tp is list:
        (item,) = typing.get_args(tp) or (str,)
        value = response_body(item, null=null, keep=keep, name=name, stack=stack)
        return [] if value is None else [value]
    if origin is dict or tp is dict:
        args = typing.get_args(tp)
        value = response_body(args[1], null=null, keep=keep, name="key") if args else "value"
        return {"key": value}
    if tp in (datetime, date):
        return MOMENT.isoformat() if tp is datetime else MOMENT.date().isoformat()
    return _scalar(name, tp)


def _is_optional(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _is_optional(typing.get_args(tp)[0])
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _model(
    model: type[pydantic.BaseModel],
    *,
    null: bool,
    keep: frozenset[tuple[str, str]],
    stack: tuple[type, ...],
) -> Any:
    model.model_rebuild()
    body: dict[str, Any] = {}
    for field_name, field in model.model_fields.items():
        wire = field.alias or field_name
        qualified = f"{model.__module__.rpartition('.')[2]}.{model.__name__}"
        if null and _is_optional(field.annotation) and (qualified, field_name) not in keep:
            body[wire] = None
        else:
            body[wire] = response_body(
                field.annotation, null=null, keep=keep, name=field_name, stack=stack
            )
    return body
