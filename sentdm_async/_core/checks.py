"""Argument checks shared by the client, the resources and the watcher (before any request)."""

from __future__ import annotations

import math
import re
import uuid
from typing import Final

__all__ = ["check_idempotency_key", "check_number", "check_positive_int"]

_IDEMPOTENCY_KEY: Final = re.compile(r"[A-Za-z0-9_-]{1,255}")


def check_number(
    name: str, value: object, *, integer: bool = False, positive: bool = False
) -> float:
    """Check a finite number >= 0 (> 0 with ``positive``; an int with ``integer``) and return it.

    Raises:
        TypeError: Not a number (``bool`` is refused), or not an int when ``integer``.
        ValueError: Negative, zero when ``positive``, or not finite.
    """
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an int" if integer else "a number"
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__}")
    number = float(value)  # type: ignore[arg-type]  # an int or float, checked above
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return number


def check_positive_int(name: str, value: object) -> int:
    """Check an int >= 1 (``bool`` refused) and return it.

    Raises:
        TypeError: Not an int.
        ValueError: Below 1.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def check_idempotency_key(key: object) -> str:
    """Return ``key``, or a new one when ``None``; refuse a key the API would refuse (400).

    Raises:
        ValueError: Not a string matching ``[A-Za-z0-9_-]{1,255}``.
    """
    if key is None:
        return uuid.uuid4().hex
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValueError("idempotency_key must match [A-Za-z0-9_-]{1,255}")
    return key
