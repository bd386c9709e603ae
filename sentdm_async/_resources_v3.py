"""Contacts CRUD, conversations, templates, and the message endpoints the official SDK lacks.

Each method checks its arguments, names its path and body, and calls `Resource._call`; paged
lists share `sentdm_async._pages.pages`. Method and argument names are the official SDK's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Unpack

from sentdm_async import _contacts, _messages
from sentdm_async._ids import message_path
from sentdm_async._pages import pages
from sentdm_async._resource import Resource, decoder, page_params
from sentdm_async.models import Contact, Message
from sentdm_async.models_v3 import ContactMessageSummary, MessagePage, Template, TemplatePage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable
    from datetime import datetime

    from sentdm_async._options import RequestOptions

__all__ = ["Contacts", "Conversations", "Messages", "Templates"]

_CONTACT: Final = decoder(Contact)
_SUMMARY: Final = decoder(ContactMessageSummary)
_MESSAGE: Final = decoder(Message)
_MESSAGES: Final = decoder(MessagePage)
_TEMPLATE: Final = decoder(Template)
_TEMPLATES: Final = decoder(TemplatePage)


def _mapping(name: str, value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping, got {type(value).__name__}")
    return dict(value)


def _messages_of(page: MessagePage) -> list[Message]:
    return page.items


def _templates_of(page: TemplatePage) -> list[Template]:
    return page.items


class Contacts(_contacts.Contacts, Resource):
    """``client.contacts``: list (lazy), one page, and create/retrieve/update/delete."""

    async def create(
        self,
        *,
        phone_number: str,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Contact:
        """Create a contact from a phone number (``POST /v3/contacts``).

        Args:
            phone_number: The number, E.164 preferred (the API normalises it).
            sandbox: Validate only; nothing is written.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.

        Raises:
            TypeError: ``phone_number`` is not a str.
            SentError: The API refused (e.g. 400 ``VALIDATION_002`` for a malformed number).
        """
        if not isinstance(phone_number, str):
            raise TypeError(f"phone_number must be a str, got {type(phone_number).__name__}")
        body = {"phone_number": phone_number, "sandbox": sandbox}
        return await self._call(
            "POST", "/v3/contacts", _CONTACT, options, body=body, idempotency_key=idempotency_key
        )

    async def retrieve(self, id: str, **options: Unpack[RequestOptions]) -> Contact:
        """Fetch one contact (``GET /v3/contacts/{id}``).

        Raises:
            NotFoundError: No such contact (``RESOURCE_001``).
            InvalidIdError: ``id`` is empty or malformed (before any request).
        """
        path = self._path("/v3/contacts/{id}", id=id)
        return await self._call("GET", path, _CONTACT, options)

    async def update(
        self,
        id: str,
        *,
        default_channel: str | None = None,
        opt_out: bool | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Contact:
        """Change a contact (``PATCH /v3/contacts/{id}``); omitted fields are left alone.

        Args:
            id: The contact id.
            default_channel: e.g. ``"sms"`` or ``"whatsapp"``.
            opt_out: Opt the contact out of (or back into) every channel.
            sandbox: Validate only; nothing is written.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.
        """
        path = self._path("/v3/contacts/{id}", id=id)
        body = {"default_channel": default_channel, "opt_out": opt_out, "sandbox": sandbox}
        return await self._call(
            "PATCH", path, _CONTACT, options, body=body, idempotency_key=idempotency_key
        )

    async def delete(
        self,
        id: str,
        *,
        sandbox: bool | None = None,
        **options: Unpack[RequestOptions],
    ) -> None:
        """Delete a contact (``DELETE /v3/contacts/{id}``, answered with 204)."""
        path = self._path("/v3/contacts/{id}", id=id)
        await self._call("DELETE", path, None, options, body={"sandbox": sandbox})

    async def retrieve_message_summary(
        self,
        id: str,
        **options: Unpack[RequestOptions],
    ) -> ContactMessageSummary:
        """Counts, first/last message and per-channel scores of a contact.

        ``GET /v3/contacts/{id}/message-summary``.
        """
        path = self._path("/v3/contacts/{id}/message-summary", id=id)
        return await self._call("GET", path, _SUMMARY, options)


class Conversations(Resource):
    """``client.conversations``: messages across conversations, or of one conversation."""

    async def list_page(
        self, *, page: int = 1, page_size: int | None = None, **options: Unpack[RequestOptions]
    ) -> MessagePage:
        """One page of the account's messages across conversations, most recent first.

        ``GET /v3/conversations`` (the official SDK's ``conversations.list``).
        """
        params = page_params(page, page_size)
        return await self._call("GET", "/v3/conversations", _MESSAGES, options, params=params)

    async def list(
        self, *, page_size: int | None = None, **options: Unpack[RequestOptions]
    ) -> AsyncIterator[Message]:
        """Yield every message across conversations, one page fetched at a time."""
        page_params(1, page_size)  # check before the first request

        def fetch(page: int) -> Awaitable[MessagePage]:
            return self.list_page(page=page, page_size=page_size, **options)

        async for message in pages(fetch, _messages_of):
            yield message

    async def list_messages_page(
        self,
        id: str,
        *,
        page: int = 1,
        page_size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> MessagePage:
        """One page of one conversation's messages (``GET /v3/conversations/{id}``)."""
        path = self._path("/v3/conversations/{id}", id=id)
        params = page_params(page, page_size)
        return await self._call("GET", path, _MESSAGES, options, params=params)

    async def list_messages(
        self,
        id: str,
        *,
        page_size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[Message]:
        """Yield every message of one conversation, most recent first, page by page."""
        self._path("{id}", id=id)  # refuse a bad id or page size before the first request
        page_params(1, page_size)

        def fetch(page: int) -> Awaitable[MessagePage]:
            return self.list_messages_page(id, page=page, page_size=page_size, **options)

        async for message in pages(fetch, _messages_of):
            yield message


class Templates(Resource):
    """``client.templates``: create, retrieve, update, list, delete."""

    async def create(
        self,
        *,
        definition: Mapping[str, Any],
        category: str | None = None,
        language: str | None = None,
        submit_for_review: bool | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Template:
        """Create a template (``POST /v3/templates``).

        Args:
            definition: Header, body, footer and buttons, as the API documents them.
            category: MARKETING, UTILITY or AUTHENTICATION (the API infers one when omitted).
            language: e.g. ``"en_US"`` (the API detects one when omitted).
            submit_for_review: Submit for WhatsApp review instead of saving a draft.
            sandbox: Validate only; nothing is written.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.
        """
        body = {
            "definition": _mapping("definition", definition),
            "category": category,
            "language": language,
            "submit_for_review": submit_for_review,
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
        submit_for_review: bool | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Template:
        """Replace a template's definition (``PUT /v3/templates/{id}``).

        A template in review is frozen: the API answers 409 ``CONFLICT_006``.
        """
        path = self._path("/v3/templates/{id}", id=id)
        body = {
            "definition": _mapping("definition", definition),
            "category": category,
            "language": language,
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
        **options: Unpack[RequestOptions],
    ) -> TemplatePage:
        """One page of templates (``GET /v3/templates``), optionally filtered."""
        params = page_params(page, page_size, category=category, search=search, status=status)
        return await self._call("GET", "/v3/templates", _TEMPLATES, options, params=params)

    async def list(
        self,
        *,
        page_size: int | None = None,
        category: str | None = None,
        search: str | None = None,
        status: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[Template]:
        """Yield every template matching the filters, one page fetched at a time."""
        page_params(1, page_size, category=category, search=search, status=status)

        def fetch(page: int) -> Awaitable[TemplatePage]:
            return self.list_page(
                page=page,
                page_size=page_size,
                category=category,
                search=search,
                status=status,
                **options,
            )

        async for template in pages(fetch, _templates_of):
            yield template

    async def delete(
        self,
        id: str,
        *,
        sandbox: bool | None = None,
        **options: Unpack[RequestOptions],
    ) -> None:
        """Delete a template (``DELETE /v3/templates/{id}``; kept for history if used)."""
        path = self._path("/v3/templates/{id}", id=id)
        await self._call("DELETE", path, None, options, body={"sandbox": sandbox})


class Messages(_messages.Messages, Resource):
    """``client.messages``: the existing endpoints plus list, resend and cancel."""

    async def list_page(
        self,
        *,
        page: int = 1,
        page_size: int | None = None,
        status: str | None = None,
        channel: str | None = None,
        direction: str | None = None,
        contact_id: str | None = None,
        template_id: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        **options: Unpack[RequestOptions],
    ) -> MessagePage:
        """One page of the account's messages, most recent first (``GET /v3/messages``).

        Not in the official SDK; Sent's dashboard documents the list with filters, but not
        their names: the ones here are this library's best reading (see docs-api.md). Pass
        others with ``extra_query=``.

        Args:
            page: 1-indexed page number.
            page_size: Messages per page (``None``: the API's default).
            status: e.g. ``"SCHEDULED"``, ``"FAILED"``.
            channel: e.g. ``"sms"``.
            direction: ``"outbound"`` or ``"inbound"``.
            contact_id: Only this contact's messages.
            template_id: Only messages sent with this template.
            from_: Created at or after (aware datetime or ISO 8601), sent as ``from``.
            to: Created at or before, sent as ``to``.
            **options: Per-call `RequestOptions`.
        """
        params = page_params(
            page,
            page_size,
            status=status,
            channel=channel,
            direction=direction,
            contact_id=contact_id,
            template_id=template_id,
            to=to,
            **{"from": from_},
        )
        return await self._call("GET", "/v3/messages", _MESSAGES, options, params=params)

    async def list(
        self,
        *,
        page_size: int | None = None,
        status: str | None = None,
        channel: str | None = None,
        direction: str | None = None,
        contact_id: str | None = None,
        template_id: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[Message]:
        """Yield every message matching the filters (see `list_page`), page by page."""
        filters: dict[str, Any] = {
            "status": status,
            "channel": channel,
            "direction": direction,
            "contact_id": contact_id,
            "template_id": template_id,
            "from_": from_,
            "to": to,
        }
        page_params(1, page_size, **filters)

        def fetch(page: int) -> Awaitable[MessagePage]:
            return self.list_page(page=page, page_size=page_size, **filters, **options)

        async for message in pages(fetch, _messages_of):
            yield message

    async def resend(
        self,
        message_id: str,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Message:
        """Send a finished message again under the same id (``POST /v3/messages/{id}/resend``).

        The message goes back to QUEUED, policies run again and it is billed again; webhooks
        fire again. A FILTERED or CANCELLED message is never resendable, nor is one still in
        flight (409).

        Raises:
            ConflictError: The message cannot be resent in its current status.
            NotFoundError: No such message (``RESOURCE_003``).
        """
        return await self._call(
            "POST",
            message_path(message_id, "/resend"),
            _MESSAGE,
            options,
            idempotency_key=idempotency_key,
        )

    async def cancel(
        self,
        message_id: str,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Message:
        """Cancel a SCHEDULED message (``POST /v3/messages/{id}/cancel``); it ends CANCELLED.

        Cancelling is free and final; cancelling again answers the same. Within about a minute
        of ``scheduled_at`` the release can win the race.

        Raises:
            ConflictError: 409 ``BUSINESS_006``: the message is not SCHEDULED (in flight or
                finished).
            NotFoundError: No such message (``RESOURCE_003``).
        """
        return await self._call(
            "POST",
            message_path(message_id, "/cancel"),
            _MESSAGE,
            options,
            idempotency_key=idempotency_key,
        )
