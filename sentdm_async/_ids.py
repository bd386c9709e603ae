"""Message ids: validated before any request and quoted so they cannot leave their segment."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import quote

__all__ = ["MAX_ID_LENGTH", "check_message_id", "message_path"]

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
MAX_ID_LENGTH: Final = 256


def check_message_id(message_id: object) -> str:
    """Validate a message id before any request and return it.

    Raises:
        TypeError: Not a string.
        ValueError: Empty, too long, with control characters, or ``.``/``..`` (which would
            change the URL path even when quoted).
    """
    if not isinstance(message_id, str):
        raise TypeError(f"message_id must be a str, got {type(message_id).__name__}")
    if not message_id or message_id.isspace():
        raise ValueError("message_id must not be empty")
    if len(message_id) > MAX_ID_LENGTH:
        raise ValueError(f"message_id is longer than {MAX_ID_LENGTH} characters")
    if message_id in (".", "..") or _CONTROL.search(message_id):
        raise ValueError(f"message_id {message_id!r} is not a valid id")
    return message_id


def message_path(message_id: str, suffix: str = "") -> str:
    """Return ``/v3/messages/{id}{suffix}`` with the id quoted so it cannot leave its segment."""
    return f"/v3/messages/{quote(check_message_id(message_id), safe='')}{suffix}"
