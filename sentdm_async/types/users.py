"""Users of the organization or profile, and the list of them."""

from __future__ import annotations

import msgspec

from sentdm_async.types._decode import AwareDatetime
from sentdm_async.types.shared import Pagination

__all__ = ["User", "UserList"]


class User(msgspec.Struct, frozen=True, kw_only=True):
    """A user of the organization or profile (``role``: admin, billing or developer).

    ``status``: e.g. invited or active; ``invited_at``/``last_login_at`` as the API reports.
    """

    id: str | None = None
    created_at: AwareDatetime | None = None
    customer_id: str | None = None
    email: str | None = None
    invited_at: AwareDatetime | None = None
    last_login_at: AwareDatetime | None = None
    name: str | None = None
    role: str | None = None
    status: str | None = None
    updated_at: AwareDatetime | None = None


class UserList(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v3/users``: the users, with ``pagination``."""

    users: list[User] | None = None
    pagination: Pagination | None = None

    @property
    def items(self) -> list[User]:
        """The users (``[]`` for ``null``)."""
        return self.users or []
