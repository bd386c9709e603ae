"""Sent webhooks: verify signatures, parse typed events, receive them, push them to a watcher.

    from sentdm_async import webhooks

    event = webhooks.construct_event(raw_body, request_headers, "whsec_...")
    if isinstance(event, webhooks.MessageEvent):
        watcher.push(event)  # or let webhooks.aiohttp_handler(secret, watcher) do it

Every malformed input (headers, timestamps, signature lists, base64, secrets, bodies) raises a
`WebhookError` (a `sentdm_async.SentError`): `WebhookVerificationError` or
`WebhookPayloadError`, never a ValueError, binascii.Error or msgspec error.
"""

from sentdm_async.webhooks._events import ContactEvent as ContactEvent
from sentdm_async.webhooks._events import ContactPayload as ContactPayload
from sentdm_async.webhooks._events import GenericEvent as GenericEvent
from sentdm_async.webhooks._events import InboundMedia as InboundMedia
from sentdm_async.webhooks._events import InboundMessageEvent as InboundMessageEvent
from sentdm_async.webhooks._events import InboundMessagePayload as InboundMessagePayload
from sentdm_async.webhooks._events import MessageEvent as MessageEvent
from sentdm_async.webhooks._events import MessageStatusPayload as MessageStatusPayload
from sentdm_async.webhooks._events import TemplateEvent as TemplateEvent
from sentdm_async.webhooks._events import TemplatePayload as TemplatePayload
from sentdm_async.webhooks._events import WebhookEvent as WebhookEvent
from sentdm_async.webhooks._events import WebhookPayloadError as WebhookPayloadError
from sentdm_async.webhooks._events import parse as parse
from sentdm_async.webhooks._receivers import DEFAULT_MAX_BODY as DEFAULT_MAX_BODY
from sentdm_async.webhooks._receivers import DEFAULT_READ_TIMEOUT as DEFAULT_READ_TIMEOUT
from sentdm_async.webhooks._receivers import ASGIReceiver as ASGIReceiver
from sentdm_async.webhooks._receivers import Receiver as Receiver
from sentdm_async.webhooks._receivers import TargetUnavailableError as TargetUnavailableError
from sentdm_async.webhooks._receivers import aiohttp_handler as aiohttp_handler
from sentdm_async.webhooks._receivers import asgi_app as asgi_app
from sentdm_async.webhooks._receivers import construct_event as construct_event
from sentdm_async.webhooks._verify import DEFAULT_TOLERANCE as DEFAULT_TOLERANCE
from sentdm_async.webhooks._verify import WebhookError as WebhookError
from sentdm_async.webhooks._verify import WebhookVerificationError as WebhookVerificationError
from sentdm_async.webhooks._verify import sign as sign
from sentdm_async.webhooks._verify import verify as verify

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_TOLERANCE",
    "ASGIReceiver",
    "ContactEvent",
    "ContactPayload",
    "GenericEvent",
    "InboundMedia",
    "InboundMessageEvent",
    "InboundMessagePayload",
    "MessageEvent",
    "MessageStatusPayload",
    "Receiver",
    "TargetUnavailableError",
    "TemplateEvent",
    "TemplatePayload",
    "WebhookError",
    "WebhookEvent",
    "WebhookPayloadError",
    "WebhookVerificationError",
    "aiohttp_handler",
    "asgi_app",
    "construct_event",
    "parse",
    "sign",
    "verify",
]
