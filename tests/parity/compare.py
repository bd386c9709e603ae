"""Walk an SDK result and ours side by side, by the SDK's attribute names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pydantic

__all__ = ["Mapping", "differences"]


@dataclass(frozen=True)
class Mapping:
    """The field-level deliberate differences: ``(SDK model, SDK field)`` pairs.

    A model is named ``module.Class`` (the SDK has many classes called ``Data``), e.g.
    ``message_retrieve_activities_response.DataActivity``.
    """

    renamed: dict[tuple[str, str], str]
    """Our attribute name where it differs from the SDK's."""
    decimal: frozenset[tuple[str, str]]
    """Money the SDK gives as ``float`` or ``str`` and ours as ``Decimal`` (compared by value)."""


def differences(sdk: Any, ours: Any, mapping: Mapping, where: str = "data") -> list[str]:
    """Return one line per value that differs; ``[]`` when ours decodes the same values."""
    if isinstance(sdk, pydantic.BaseModel):
        return _model(sdk, ours, mapping, where)
    if isinstance(sdk, list):
        if not isinstance(ours, list | tuple) or len(ours) != len(sdk):
            return [f"{where}: SDK {sdk!r:.80}, ours {ours!r:.80}"]
        found = []
        for index, (left, right) in enumerate(zip(sdk, ours, strict=True)):
            found += differences(left, right, mapping, f"{where}[{index}]")
        return found
    if isinstance(sdk, dict) and isinstance(ours, dict) and sdk.keys() == ours.keys():
        return [
            line
            for key in sdk
            for line in differences(sdk[key], ours[key], mapping, f"{where}.{key}")
        ]
    return [] if _same(sdk, ours) else [f"{where}: SDK {sdk!r:.80}, ours {ours!r:.80}"]


def _same(sdk: Any, ours: Any) -> bool:
    if isinstance(sdk, bool) or isinstance(ours, bool):
        return sdk is ours
    if isinstance(sdk, datetime | date) or isinstance(ours, datetime | date):
        return type(sdk) is type(ours) and sdk == ours
    return type(sdk) is type(ours) and bool(sdk == ours)


def _model(sdk: pydantic.BaseModel, ours: Any, mapping: Mapping, where: str) -> list[str]:
    if ours is None or isinstance(ours, str | int | float | list):
        return [f"{where}: SDK {type(sdk).__name__}, ours {ours!r:.80}"]
    found = []
    model = f"{type(sdk).__module__.rpartition('.')[2]}.{type(sdk).__name__}"
    for name in type(sdk).model_fields:
        attr = mapping.renamed.get((model, name), name)
        value = getattr(sdk, name)
        if isinstance(ours, dict):
            present, mine = attr in ours, ours.get(attr)
        else:
            present, mine = hasattr(ours, attr), getattr(ours, attr, None)
        if not present:
            found.append(f"{where}.{name}: missing in ours ({type(ours).__name__})")
        elif (model, name) in mapping.decimal and value is not None:
            if not isinstance(mine, Decimal) or mine != Decimal(str(value)):
                found.append(f"{where}.{name}: SDK {value!r}, ours {mine!r} (Decimal expected)")
        else:
            found += differences(value, mine, mapping, f"{where}.{name}")
    return found
