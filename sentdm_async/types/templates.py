"""Message templates and a page of them."""

from __future__ import annotations

from typing import Any

import msgspec

from sentdm_async.types._decode import AwareDatetime
from sentdm_async.types.shared import Pagination

__all__ = ["Template", "TemplatePage"]


class Template(msgspec.Struct, frozen=True, kw_only=True):
    """A message template; ``definition`` is kept as sent (header, body, footer, buttons)."""

    id: str | None = None
    name: str | None = None
    display_name: str | None = None
    category: str | None = None
    language: str | None = None
    status: str | None = None
    definition: dict[str, Any] | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


class TemplatePage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of templates."""

    templates: list[Template] | None = None
    pagination: Pagination | None = None

    @property
    def items(self) -> list[Template]:
        """The page's templates (``[]`` for ``null``)."""
        return self.templates or []
