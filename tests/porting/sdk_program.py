"""A program written for the official SDK: 12 endpoints, a summary line per step."""

from __future__ import annotations

from sent_dm import AsyncSent


async def main(api_key: str, base_url: str, message_id: str) -> list[str]:
    """Run the steps against ``base_url``; return what a user would print."""
    out: list[str] = []
    async with AsyncSent(api_key=api_key, base_url=base_url) as client:
        me = await client.me.retrieve()
        out.append(f"me: {me.data is not None}")
        users = await client.users.list()
        out.append(f"users listed: {users.data is not None}")
        found = await client.numbers.lookup("+14155550123")
        out.append(f"lookup valid: {found.data.is_valid if found.data else None}")
        contact = await client.contacts.create(phone_number="+14155550123")
        contact_id = (contact.data.id if contact.data else None) or ""
        again = await client.contacts.retrieve(contact_id)
        out.append(f"contact found: {again.data.id == contact_id if again.data else False}")
        await client.contacts.update(contact_id, default_channel="sms")
        page = await client.contacts.list(page=1, page_size=10)
        out.append(f"contacts on page 1: {len(page.data.contacts or []) if page.data else 0}")
        sent = await client.messages.send(to=["+14155550123"], text="hello")
        recipients = sent.data.recipients if sent.data else None
        out.append(f"recipients: {len(recipients or [])}")
        status = await client.messages.retrieve_status(message_id)
        out.append(f"status: {status.data.status if status.data else None}")
        log = await client.messages.retrieve_activities(message_id)
        steps = [a.status for a in reversed(log.data.activities or [])] if log.data else []
        out.append(f"steps: {','.join(str(s) for s in steps)}")
        price = status.data.price if status.data else None
        out.append(f"priced: {price is not None}")
        templates = await client.templates.list(page=1, page_size=5)
        out.append(f"templates listed: {templates.data is not None}")
        hook = await client.webhooks.create(
            display_name="ops", endpoint_url="https://example.com/hooks", event_types=["message"]
        )
        out.append(f"webhook active: {hook.data.is_active if hook.data else None}")
        await client.webhooks.delete((hook.data.id if hook.data else None) or "")
        out.append("webhook deleted")
    return out
