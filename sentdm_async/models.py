"""The models under their old path: kept so ``from sentdm_async.models import ...`` still works.

The models live in `sentdm_async.types`, one module per family; import them from there (or from
`sentdm_async`). This module only re-exports the names it used to define.
"""

from sentdm_async.types import FAILURE_STATUSES as FAILURE_STATUSES
from sentdm_async.types import INBOUND_TERMINAL as INBOUND_TERMINAL
from sentdm_async.types import SUCCESS_STATUSES as SUCCESS_STATUSES
from sentdm_async.types import TERMINAL_STATUSES as TERMINAL_STATUSES
from sentdm_async.types import Activity as Activity
from sentdm_async.types import ActivityFailure as ActivityFailure
from sentdm_async.types import ActivityLog as ActivityLog
from sentdm_async.types import ActivityOk as ActivityOk
from sentdm_async.types import ActivityResult as ActivityResult
from sentdm_async.types import Button as Button
from sentdm_async.types import Contact as Contact
from sentdm_async.types import ContactPage as ContactPage
from sentdm_async.types import HeaderMedia as HeaderMedia
from sentdm_async.types import Media as Media
from sentdm_async.types import Message as Message
from sentdm_async.types import MessageBody as MessageBody
from sentdm_async.types import Pagination as Pagination
from sentdm_async.types import Recipient as Recipient
from sentdm_async.types import SendResult as SendResult
from sentdm_async.types import StatusEvent as StatusEvent
from sentdm_async.types import WatchEvent as WatchEvent
from sentdm_async.types import dec_hook as dec_hook
from sentdm_async.types import json_decoder as json_decoder

__all__ = [
    "FAILURE_STATUSES",
    "INBOUND_TERMINAL",
    "SUCCESS_STATUSES",
    "TERMINAL_STATUSES",
    "Activity",
    "ActivityFailure",
    "ActivityLog",
    "ActivityOk",
    "ActivityResult",
    "Button",
    "Contact",
    "ContactPage",
    "HeaderMedia",
    "Media",
    "Message",
    "MessageBody",
    "Pagination",
    "Recipient",
    "SendResult",
    "StatusEvent",
    "WatchEvent",
    "dec_hook",
    "json_decoder",
]
