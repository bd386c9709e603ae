"""Message templates and a page of them."""

from __future__ import annotations

import msgspec

from sentdm_async.types._decode import AwareDatetime
from sentdm_async.types.shared import Pagination

__all__ = ["Template", "TemplatePage"]


class Template(msgspec.Struct, frozen=True, kw_only=True):
    """A message template (``status``: DRAFT, PENDING, APPROVED, REJECTED, ...).

    ``channels``: where it can be sent; ``variables``: its variable names; ``auto_reply_action``:
    what a reply to it does.
    """

    customer_id: str | None = None
    id: str | None = None
    auto_reply_action: str | None = None
    category: str | None = None
    channels: list[str] | None = None
    created_at: AwareDatetime | None = None
    is_published: bool | None = None
    language: str | None = None
    name: str | None = None
    status: str | None = None
    updated_at: AwareDatetime | None = None
    variables: list[str] | None = None


class TemplatePage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of templates."""

    templates: list[Template] | None = None
    pagination: Pagination | None = None

    @property
    def items(self) -> list[Template]:
        """The page's templates (``[]`` for ``null``)."""
        return self.templates or []
