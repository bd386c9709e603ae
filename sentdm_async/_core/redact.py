"""Reprs that never show a secret: a result that carries one prints it redacted.

A webhook's ``signing_secret``, a voice number's ``callback_secret`` and a voice ``token`` stay
readable as attributes (the caller asked for them), but ``repr``, ``str``, f-strings, rich's
pretty printer and ``log.info("%r", result)`` show ``'whsec_…redacted'``: a result printed while
debugging, or logged by a framework, must not put the secret in a terminal or a log file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterator

    import msgspec

__all__ = ["REDACTED", "redacted", "redacted_repr", "redacted_rich_repr"]

REDACTED: Final = "…redacted"


#: A prefix such as ``whsec_`` or ``sk_`` names the kind of secret, not the secret: it is kept.
_MAX_PREFIX: Final = 8


def redacted(value: object) -> object:
    """Return ``value`` with everything after a short ``kind_`` prefix replaced by `REDACTED`.

    ``None`` and empty strings are returned as they are (there is nothing to hide).
    """
    if value is None or value == "":
        return value
    if not isinstance(value, str):
        return REDACTED
    prefix, sep, _ = value.partition("_")
    keep = prefix + sep if sep and len(prefix) <= _MAX_PREFIX and prefix.isalpha() else ""
    return keep + REDACTED


def _shown(obj: msgspec.Struct, secrets: frozenset[str]) -> Iterator[tuple[str, Any]]:
    for name in obj.__struct_fields__:
        value = getattr(obj, name)
        yield name, redacted(value) if name in secrets else value


def redacted_repr(obj: msgspec.Struct, secrets: frozenset[str]) -> str:
    """Return msgspec's ``Name(field=value, ...)`` repr with the ``secrets`` fields redacted."""
    fields = ", ".join(f"{name}={value!r}" for name, value in _shown(obj, secrets))
    return f"{type(obj).__name__}({fields})"


def redacted_rich_repr(obj: msgspec.Struct, secrets: frozenset[str]) -> list[tuple[str, Any]]:
    """Return rich's ``(name, value)`` pairs with the ``secrets`` fields redacted."""
    return list(_shown(obj, secrets))
