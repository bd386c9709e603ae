"""Asyncio client for the Sent.dm v3 API: activity logs at scale, status watchers, one budget."""

from importlib import metadata as _metadata

from sentdm_async._bulk.activities import ActivityStream as ActivityStream
from sentdm_async._client import AsyncSent as AsyncSent
from sentdm_async._http.hooks import Hooks as Hooks
from sentdm_async._http.hooks import RequestEvent as RequestEvent
from sentdm_async._http.hooks import ResponseEvent as ResponseEvent
from sentdm_async._http.hooks import RetryEvent as RetryEvent
from sentdm_async._http.hooks import StepEvent as StepEvent
from sentdm_async._http.hooks import ThrottleEvent as ThrottleEvent
from sentdm_async._http.raw import AsyncAPIResponse as AsyncAPIResponse
from sentdm_async._http.raw import RawRequest as RawRequest
from sentdm_async._http.stats import ClientStats as ClientStats
from sentdm_async._ratelimit.budget import RateBudget as RateBudget
from sentdm_async._ratelimit.budget import TokenBucket as TokenBucket
from sentdm_async._watch.watcher import PollPolicy as PollPolicy
from sentdm_async._watch.watcher import Watcher as Watcher
from sentdm_async.errors import APIConnectionError as APIConnectionError
from sentdm_async.errors import APIError as APIError
from sentdm_async.errors import APIResponseValidationError as APIResponseValidationError
from sentdm_async.errors import APIStatusError as APIStatusError
from sentdm_async.errors import APITimeoutError as APITimeoutError
from sentdm_async.errors import AuthenticationError as AuthenticationError
from sentdm_async.errors import BadRequestError as BadRequestError
from sentdm_async.errors import ConflictError as ConflictError
from sentdm_async.errors import InternalServerError as InternalServerError
from sentdm_async.errors import InvalidIdError as InvalidIdError
from sentdm_async.errors import JobMismatchError as JobMismatchError
from sentdm_async.errors import JobNotFoundError as JobNotFoundError
from sentdm_async.errors import NotFoundError as NotFoundError
from sentdm_async.errors import PermissionDeniedError as PermissionDeniedError
from sentdm_async.errors import RateLimitError as RateLimitError
from sentdm_async.errors import SentError as SentError
from sentdm_async.errors import UnprocessableEntityError as UnprocessableEntityError
from sentdm_async.errors import WatchTimeoutError as WatchTimeoutError
from sentdm_async.resources._base import AsyncPager as AsyncPager
from sentdm_async.types.channels import VoiceCallbackTest as VoiceCallbackTest
from sentdm_async.types.channels import VoiceCallbackTestError as VoiceCallbackTestError
from sentdm_async.types.channels import VoiceCallbackTestRequest as VoiceCallbackTestRequest
from sentdm_async.types.channels import VoiceCallbackTestResponse as VoiceCallbackTestResponse
from sentdm_async.types.channels import VoiceNumber as VoiceNumber
from sentdm_async.types.channels import VoiceNumberCreated as VoiceNumberCreated
from sentdm_async.types.channels import VoiceSecret as VoiceSecret
from sentdm_async.types.contacts import ChannelScore as ChannelScore
from sentdm_async.types.contacts import Contact as Contact
from sentdm_async.types.contacts import ContactMessageSummary as ContactMessageSummary
from sentdm_async.types.contacts import ContactPage as ContactPage
from sentdm_async.types.me import Me as Me
from sentdm_async.types.me import MeChannel as MeChannel
from sentdm_async.types.me import MeChannels as MeChannels
from sentdm_async.types.me import MeProfile as MeProfile
from sentdm_async.types.me import MeWhatsappChannel as MeWhatsappChannel
from sentdm_async.types.messages import FAILURE_STATUSES as FAILURE_STATUSES
from sentdm_async.types.messages import INBOUND_TERMINAL as INBOUND_TERMINAL
from sentdm_async.types.messages import SUCCESS_STATUSES as SUCCESS_STATUSES
from sentdm_async.types.messages import TERMINAL_STATUSES as TERMINAL_STATUSES
from sentdm_async.types.messages import Activity as Activity
from sentdm_async.types.messages import ActivityFailure as ActivityFailure
from sentdm_async.types.messages import ActivityLog as ActivityLog
from sentdm_async.types.messages import ActivityOk as ActivityOk
from sentdm_async.types.messages import ActivityResult as ActivityResult
from sentdm_async.types.messages import Button as Button
from sentdm_async.types.messages import HeaderMedia as HeaderMedia
from sentdm_async.types.messages import Media as Media
from sentdm_async.types.messages import Message as Message
from sentdm_async.types.messages import MessageBody as MessageBody
from sentdm_async.types.messages import MessagePage as MessagePage
from sentdm_async.types.messages import Recipient as Recipient
from sentdm_async.types.messages import SendResult as SendResult
from sentdm_async.types.messages import StatusEvent as StatusEvent
from sentdm_async.types.messages import WatchEvent as WatchEvent
from sentdm_async.types.numbers import NumberLookup as NumberLookup
from sentdm_async.types.profiles import BillingContact as BillingContact
from sentdm_async.types.profiles import Brand as Brand
from sentdm_async.types.profiles import BrandBusiness as BrandBusiness
from sentdm_async.types.profiles import BrandCompliance as BrandCompliance
from sentdm_async.types.profiles import BrandContact as BrandContact
from sentdm_async.types.profiles import Campaign as Campaign
from sentdm_async.types.profiles import CampaignUseCase as CampaignUseCase
from sentdm_async.types.profiles import DestinationCountry as DestinationCountry
from sentdm_async.types.profiles import Profile as Profile
from sentdm_async.types.profiles import ProfileCompletion as ProfileCompletion
from sentdm_async.types.profiles import ProfileList as ProfileList
from sentdm_async.types.profiles import ProfileSettings as ProfileSettings
from sentdm_async.types.shared import Pagination as Pagination
from sentdm_async.types.shared import PaginationCursors as PaginationCursors
from sentdm_async.types.templates import Template as Template
from sentdm_async.types.templates import TemplatePage as TemplatePage
from sentdm_async.types.users import User as User
from sentdm_async.types.users import UserList as UserList
from sentdm_async.types.voice import Call as Call
from sentdm_async.types.voice import CallPage as CallPage
from sentdm_async.types.voice import CallParticipant as CallParticipant
from sentdm_async.types.voice import CallParty as CallParty
from sentdm_async.types.voice import CallRecording as CallRecording
from sentdm_async.types.voice import CallRecordings as CallRecordings
from sentdm_async.types.voice import CallTimelineEntry as CallTimelineEntry
from sentdm_async.types.voice import VoiceToken as VoiceToken
from sentdm_async.types.webhooks import EventType as EventType
from sentdm_async.types.webhooks import EventTypeList as EventTypeList
from sentdm_async.types.webhooks import Webhook as Webhook
from sentdm_async.types.webhooks import WebhookDelivery as WebhookDelivery
from sentdm_async.types.webhooks import WebhookDeliveryPage as WebhookDeliveryPage
from sentdm_async.types.webhooks import WebhookPage as WebhookPage
from sentdm_async.types.webhooks import WebhookSecret as WebhookSecret
from sentdm_async.types.webhooks import WebhookTestResult as WebhookTestResult

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
    "AsyncAPIResponse",
    "AsyncPager",
    "AsyncSent",
    "AuthenticationError",
    "BadRequestError",
    "BillingContact",
    "Brand",
    "BrandBusiness",
    "BrandCompliance",
    "BrandContact",
    "Button",
    "Call",
    "CallPage",
    "CallParticipant",
    "CallParty",
    "CallRecording",
    "CallRecordings",
    "CallTimelineEntry",
    "Campaign",
    "CampaignUseCase",
    "ChannelScore",
    "ClientStats",
    "ConflictError",
    "Contact",
    "ContactMessageSummary",
    "ContactPage",
    "DestinationCountry",
    "EventType",
    "EventTypeList",
    "HeaderMedia",
    "Hooks",
    "InternalServerError",
    "InvalidIdError",
    "JobMismatchError",
    "JobNotFoundError",
    "Me",
    "MeChannel",
    "MeChannels",
    "MeProfile",
    "MeWhatsappChannel",
    "Media",
    "Message",
    "MessageBody",
    "MessagePage",
    "NotFoundError",
    "NumberLookup",
    "Pagination",
    "PaginationCursors",
    "PermissionDeniedError",
    "PollPolicy",
    "Profile",
    "ProfileCompletion",
    "ProfileList",
    "ProfileSettings",
    "RateBudget",
    "RateLimitError",
    "RawRequest",
    "Recipient",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "SendResult",
    "SentError",
    "StatusEvent",
    "StepEvent",
    "Template",
    "TemplatePage",
    "ThrottleEvent",
    "TokenBucket",
    "UnprocessableEntityError",
    "User",
    "UserList",
    "VoiceCallbackTest",
    "VoiceCallbackTestError",
    "VoiceCallbackTestRequest",
    "VoiceCallbackTestResponse",
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
    "WebhookSecret",
    "WebhookTestResult",
    "__version__",
]
