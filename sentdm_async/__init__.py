"""Asyncio client for the Sent.dm v3 API: activity logs at scale, status watchers, one budget."""

from importlib import metadata as _metadata

from ._budget import RateBudget as RateBudget
from ._budget import TokenBucket as TokenBucket
from ._bulk import ActivityStream as ActivityStream
from ._client import AsyncSent as AsyncSent
from ._watch import PollPolicy as PollPolicy
from ._watch import Watcher as Watcher
from ._webhooks_api import EventType as EventType
from ._webhooks_api import Webhook as Webhook
from ._webhooks_api import WebhookDelivery as WebhookDelivery
from ._webhooks_api import WebhookDeliveryPage as WebhookDeliveryPage
from ._webhooks_api import WebhookPage as WebhookPage
from .errors import APIConnectionError as APIConnectionError
from .errors import APIError as APIError
from .errors import APIResponseValidationError as APIResponseValidationError
from .errors import APIStatusError as APIStatusError
from .errors import APITimeoutError as APITimeoutError
from .errors import AuthenticationError as AuthenticationError
from .errors import BadRequestError as BadRequestError
from .errors import ConflictError as ConflictError
from .errors import InternalServerError as InternalServerError
from .errors import InvalidIdError as InvalidIdError
from .errors import JobMismatchError as JobMismatchError
from .errors import JobNotFoundError as JobNotFoundError
from .errors import NotFoundError as NotFoundError
from .errors import PermissionDeniedError as PermissionDeniedError
from .errors import RateLimitError as RateLimitError
from .errors import SentError as SentError
from .errors import UnprocessableEntityError as UnprocessableEntityError
from .errors import WatchTimeoutError as WatchTimeoutError
from .models import FAILURE_STATUSES as FAILURE_STATUSES
from .models import INBOUND_TERMINAL as INBOUND_TERMINAL
from .models import SUCCESS_STATUSES as SUCCESS_STATUSES
from .models import TERMINAL_STATUSES as TERMINAL_STATUSES
from .models import Activity as Activity
from .models import ActivityFailure as ActivityFailure
from .models import ActivityLog as ActivityLog
from .models import ActivityOk as ActivityOk
from .models import ActivityResult as ActivityResult
from .models import Button as Button
from .models import Contact as Contact
from .models import ContactPage as ContactPage
from .models import HeaderMedia as HeaderMedia
from .models import Media as Media
from .models import Message as Message
from .models import MessageBody as MessageBody
from .models import Pagination as Pagination
from .models import Recipient as Recipient
from .models import SendResult as SendResult
from .models import StatusEvent as StatusEvent
from .models import WatchEvent as WatchEvent
from .models_v3 import Call as Call
from .models_v3 import CallPage as CallPage
from .models_v3 import CallParticipant as CallParticipant
from .models_v3 import CallParty as CallParty
from .models_v3 import CallRecording as CallRecording
from .models_v3 import CallRecordings as CallRecordings
from .models_v3 import CallTimelineEntry as CallTimelineEntry
from .models_v3 import Campaign as Campaign
from .models_v3 import ChannelScore as ChannelScore
from .models_v3 import ContactMessageSummary as ContactMessageSummary
from .models_v3 import Me as Me
from .models_v3 import MessagePage as MessagePage
from .models_v3 import NumberLookup as NumberLookup
from .models_v3 import Profile as Profile
from .models_v3 import Template as Template
from .models_v3 import TemplatePage as TemplatePage
from .models_v3 import User as User
from .models_v3 import VoiceCallbackTest as VoiceCallbackTest
from .models_v3 import VoiceNumber as VoiceNumber
from .models_v3 import VoiceNumberCreated as VoiceNumberCreated
from .models_v3 import VoiceSecret as VoiceSecret
from .models_v3 import VoiceToken as VoiceToken

try:
    __version__ = _metadata.version("sentdm-async")
except _metadata.PackageNotFoundError:  # pragma: no cover - a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "FAILURE_STATUSES",
    "INBOUND_TERMINAL",
    "SUCCESS_STATUSES",
    "TERMINAL_STATUSES",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "Activity",
    "ActivityFailure",
    "ActivityLog",
    "ActivityOk",
    "ActivityResult",
    "ActivityStream",
    "AsyncSent",
    "AuthenticationError",
    "BadRequestError",
    "Button",
    "Call",
    "CallPage",
    "CallParticipant",
    "CallParty",
    "CallRecording",
    "CallRecordings",
    "CallTimelineEntry",
    "Campaign",
    "ChannelScore",
    "ConflictError",
    "Contact",
    "ContactMessageSummary",
    "ContactPage",
    "EventType",
    "HeaderMedia",
    "InternalServerError",
    "InvalidIdError",
    "JobMismatchError",
    "JobNotFoundError",
    "Me",
    "Media",
    "Message",
    "MessageBody",
    "MessagePage",
    "NotFoundError",
    "NumberLookup",
    "Pagination",
    "PermissionDeniedError",
    "PollPolicy",
    "Profile",
    "RateBudget",
    "RateLimitError",
    "Recipient",
    "SendResult",
    "SentError",
    "StatusEvent",
    "Template",
    "TemplatePage",
    "TokenBucket",
    "UnprocessableEntityError",
    "User",
    "VoiceCallbackTest",
    "VoiceNumber",
    "VoiceNumberCreated",
    "VoiceSecret",
    "VoiceToken",
    "WatchEvent",
    "WatchTimeoutError",
    "Watcher",
    "Webhook",
    "WebhookDelivery",
    "WebhookDeliveryPage",
    "WebhookPage",
    "__version__",
]
