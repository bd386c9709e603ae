"""``client.users``: the organization's (or a profile's) users and their roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Unpack

from sentdm_async.resources._base import Resource, decoder
from sentdm_async.types.users import User, UserList

if TYPE_CHECKING:
    from sentdm_async._http.options import RequestOptions

_USERS: Final = decoder(UserList)

_USER: Final = decoder(User)

__all__ = ["Users"]


class Users(Resource):
    """``client.users``: the organization's (or profile's) users and their roles."""

    async def retrieve(self, user_id: str, **options: Unpack[RequestOptions]) -> User:
        """Fetch one user (``GET /v3/users/{user_id}``)."""
        path = self._path("/v3/users/{user_id}", user_id=user_id)
        return await self._call("GET", path, _USER, options)

    async def list(self, **options: Unpack[RequestOptions]) -> UserList:
        """Every user with access, invited (pending) and active (``GET /v3/users``).

        Returns:
            ``users`` and ``pagination``, as the API answers.
        """
        return await self._call("GET", "/v3/users", _USERS, options)

    async def invite(
        self,
        *,
        email: str,
        name: str,
        role: str,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> User:
        """Invite a user with a role: admin, billing or developer (``POST /v3/users``).

        The invitation e-mail's token expires after 7 days. The API limits this endpoint to
        10 requests a minute.
        """
        body = {"email": email, "name": name, "role": role, "sandbox": sandbox}
        return await self._call(
            "POST", "/v3/users", _USER, options, body=body, idempotency_key=idempotency_key
        )

    async def update_role(
        self,
        user_id: str,
        *,
        role: str,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> User:
        """Change a user's role (``PATCH /v3/users/{user_id}``).

        Not your own role, and not the last admin's.
        """
        path = self._path("/v3/users/{user_id}", user_id=user_id)
        body = {"role": role, "sandbox": sandbox}
        return await self._call(
            "PATCH", path, _USER, options, body=body, idempotency_key=idempotency_key
        )

    async def remove(
        self, user_id: str, *, sandbox: bool | None = None, **options: Unpack[RequestOptions]
    ) -> None:
        """Remove a user's access (``DELETE /v3/users/{user_id}``).

        Not yourself, and not the last admin.
        """
        path = self._path("/v3/users/{user_id}", user_id=user_id)
        await self._call("DELETE", path, None, options, body={"sandbox": sandbox})
