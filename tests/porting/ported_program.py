"""A program written for the official SDK: 12 endpoints, a summary line per step."""

from __future__ import annotations

from sentdm_async import AsyncSent  # port: import


async def main(api_key: str, base_url: str, message_id: str) -> list[str]:
    """Run the steps against ``base_url``; return what a user would print."""
    out: list[str] = []
    async with AsyncSent(api_key=api_key, base_url=base_url) as client:
        me = await client.me.retrieve()
        out.append(f"me: {me is not None}")  # port: results
        users = await client.users.list()
        out.append(f"users listed: {users is not None}")  # port: results
        found = await client.numbers.lookup("+14155550123")
        out.append(f"lookup valid: {found.is_valid}")  # port: results
        contact = await client.contacts.create(phone_number="+14155550123")
        contact_id = contact.id  # port: results
        again = await client.contacts.retrieve(contact_id)
        out.append(f"contact found: {again.id == contact_id}")  # port: results
        await client.contacts.update(contact_id, default_channel="sms")
        page = await client.contacts.list_page(page=1, page_size=10)  # port: paged lists
        out.append(f"contacts on page 1: {len(page.contacts or [])}")  # port: results
        sent = await client.messages.send(to=["+14155550123"], text="hello")
        recipients = sent.recipients  # port: results
        out.append(f"recipients: {len(recipients or [])}")
        status = await client.messages.retrieve_status(message_id)
        out.append(f"status: {status.status}")  # port: results
        log = await client.messages.retrieve_activities(message_id)
        steps = [a.status for a in reversed(log.activities or [])]  # port: results
        out.append(f"steps: {','.join(str(s) for s in steps)}")
        price = status.price  # port: results
        out.append(f"priced: {price is not None}")
        templates = await client.templates.list_page(page=1, page_size=5)  # port: paged lists
        out.append(f"templates listed: {templates is not None}")  # port: results
        hook = await client.webhooks.create(
            display_name="ops", endpoint_url="https://example.com/hooks", event_types=["message"]
        )
        out.append(f"webhook active: {hook.is_active}")  # port: results
        await client.webhooks.delete(hook.id or "")  # port: results
        out.append("webhook deleted")
    return out
