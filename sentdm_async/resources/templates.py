"""``client.templates``: message templates: list, create, retrieve, update, delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Unpack

from sentdm_async.resources._base import AsyncPager, Resource, decoder, page_params
from sentdm_async.resources._wire_names import TEMPLATE_DEFINITION, to_wire
from sentdm_async.types.templates import Template, TemplatePage

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from sentdm_async._http.options import RequestOptions

__all__ = ["Templates"]

_TEMPLATE: Final = decoder(Template)


_TEMPLATES: Final = decoder(TemplatePage)


def _templates_of(page: TemplatePage) -> list[Template]:
    return page.items


def _definition(value: object) -> object:
    """The caller's definition with the API's camelCase names (``multi_channel``...)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"definition must be a mapping, got {type(value).__name__}")
    return to_wire(value, TEMPLATE_DEFINITION)


class Templates(Resource):
    """``client.templates``: create, retrieve, update, list, delete."""

    async def create(
        self,
        *,
        definition: Mapping[str, Any],
        category: str | None = None,
        language: str | None = None,
        submit_for_review: bool | None = None,
        auto_create_for_sp: bool | None = None,
        creation_source: str | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Template:
        """Create a template (``POST /v3/templates``).

        Args:
            definition: Header, body, footer and buttons, with the SDK's snake_case keys
                (``multi_channel``, ``authentication_config``...): they go out as the API's
                camelCase names.
            category: MARKETING, UTILITY or AUTHENTICATION (the API infers one when omitted).
            language: e.g. ``"en_US"`` (the API detects one when omitted).
            submit_for_review: Submit for WhatsApp review instead of saving a draft.
            auto_create_for_sp: Also create it for the organization's sender profiles.
            creation_source: Where the template was made (the SDK's free text).
            sandbox: Validate only; nothing is written.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.
        """
        body = {
            "definition": _definition(definition),
            "category": category,
            "language": language,
            "submit_for_review": submit_for_review,
            "auto_create_for_sp": auto_create_for_sp,
            "creation_source": creation_source,
            "sandbox": sandbox,
        }
        return await self._call(
            "POST", "/v3/templates", _TEMPLATE, options, body=body, idempotency_key=idempotency_key
        )

    async def retrieve(self, id: str, **options: Unpack[RequestOptions]) -> Template:
        """Fetch one template (``GET /v3/templates/{id}``)."""
        path = self._path("/v3/templates/{id}", id=id)
        return await self._call("GET", path, _TEMPLATE, options)

    async def update(
        self,
        id: str,
        *,
        definition: Mapping[str, Any] | None = None,
        category: str | None = None,
        language: str | None = None,
        name: str | None = None,
        submit_for_review: bool | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Template:
        """Replace a template's definition or name (``PUT /v3/templates/{id}``).

        The arguments are `create`'s, plus ``name``. A template in review is frozen: the API
        answers 409 ``CONFLICT_006``.
        """
        path = self._path("/v3/templates/{id}", id=id)
        body = {
            "definition": _definition(definition),
            "category": category,
            "language": language,
            "name": name,
            "submit_for_review": submit_for_review,
            "sandbox": sandbox,
        }
        return await self._call(
            "PUT", path, _TEMPLATE, options, body=body, idempotency_key=idempotency_key
        )

    async def list_page(
        self,
        *,
        page: int = 1,
        page_size: int | None = None,
        category: str | None = None,
        search: str | None = None,
        status: str | None = None,
        is_welcome_playground: bool | None = None,
        **options: Unpack[RequestOptions],
    ) -> TemplatePage:
        """One page of templates (``GET /v3/templates``), optionally filtered.

        ``is_welcome_playground``: only the welcome playground's templates (or none of them).
        """
        params = page_params(
            page,
            page_size,
            category=category,
            search=search,
            status=status,
            is_welcome_playground=is_welcome_playground,
        )
        return await self._call("GET", "/v3/templates", _TEMPLATES, options, params=params)

    def list(
        self,
        *,
        page_size: int | None = None,
        category: str | None = None,
        search: str | None = None,
        status: str | None = None,
        is_welcome_playground: bool | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncPager[Template, TemplatePage]:
        """Yield every template matching the filters, one page fetched at a time."""
        filters: dict[str, Any] = {
            "category": category,
            "search": search,
            "status": status,
            "is_welcome_playground": is_welcome_playground,
        }
        page_params(1, page_size, **filters)

        def fetch(page: int) -> Awaitable[TemplatePage]:
            return self.list_page(page=page, page_size=page_size, **filters, **options)

        return AsyncPager(fetch, _templates_of)

    async def delete(
        self,
        id: str,
        *,
        delete_from_meta: bool | None = None,
        sandbox: bool | None = None,
        **options: Unpack[RequestOptions],
    ) -> None:
        """Delete a template (``DELETE /v3/templates/{id}``; kept for history if used).

        ``delete_from_meta``: also delete it from the WhatsApp Business account.
        """
        path = self._path("/v3/templates/{id}", id=id)
        body = {"delete_from_meta": delete_from_meta, "sandbox": sandbox}
        await self._call("DELETE", path, None, options, body=body)
