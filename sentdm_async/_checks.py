"""Argument checks shared by the client, the resources and the watcher (before any request)."""

from __future__ import annotations

import math

__all__ = ["check_number", "check_positive_int"]


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
