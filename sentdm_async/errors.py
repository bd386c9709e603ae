"""Exceptions raised by sentdm_async.

Every error the library raises is a `SentError`; aiohttp and msgspec exceptions are translated
once, in the transport, and never reach the caller unwrapped::

    SentError
    ├── APIError                      .message .code .details .doc_url .request_id
    │   ├── APIStatusError            .status_code .retry_after
    │   │   ├── BadRequestError            400
    │   │   ├── AuthenticationError        401
    │   │   ├── PermissionDeniedError      403
    │   │   ├── NotFoundError              404
    │   │   ├── ConflictError              409
    │   │   ├── UnprocessableEntityError   422
    │   │   ├── RateLimitError             429
    │   │   └── InternalServerError        >= 500
    │   ├── APIResponseValidationError     body is not the documented envelope
    │   └── APIConnectionError        no usable response (as in the official SDK, an APIError)
    │       └── APITimeoutError       (also a TimeoutError)
    ├── InvalidIdError                an id that cannot be sent (also a ValueError)
    ├── JobMismatchError              a job resumed with other settings (also a ValueError)
    ├── JobNotFoundError              waiting on a job never enqueued (also a LookupError)
    └── WatchTimeoutError             a watch deadline passed (also a TimeoutError)

The API key never appears in an error message, and no error chains an aiohttp or msgspec
exception (their reprs can carry the request's headers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentdm_async.types.messages import Activity

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "InvalidIdError",
    "JobMismatchError",
    "JobNotFoundError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "SentError",
    "UnprocessableEntityError",
    "WatchTimeoutError",
]


class SentError(Exception):
    """Base class of every exception raised by sentdm_async."""


class APIError(SentError):
    """The API answered, but not with the data asked for.

    Attributes:
        message: Human-readable explanation (the API's own message when it sent one).
        code: The API's error code, e.g. ``RESOURCE_003``; ``None`` when the body had none.
        details: Field-level validation messages, ``{field: [message, ...]}``, when present.
        doc_url: Link to the API's documentation of ``code``, when present.
        request_id: The API's request id (``meta.request_id`` or ``X-Request-Id``), for support.
        method: HTTP method of the request.
        path: Path of the request, e.g. ``/v3/messages/abc/activities``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, list[str]] | None = None,
        doc_url: str | None = None,
        request_id: str | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.message = message
        self.code = code
        self.details = details
        self.doc_url = doc_url
        self.request_id = request_id
        self.method = method
        self.path = path
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [f"{self.method} {self.path}".strip()]
        parts.extend(self._extra_parts())
        if self.code:
            parts.append(self.code)
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        prefix = ", ".join(p for p in parts if p)
        return f"{prefix}: {self.message}" if prefix else self.message

    def _extra_parts(self) -> list[str]:
        return []


class APIStatusError(APIError):
    """The API answered with an error status (4xx or 5xx).

    Attributes:
        status_code: The HTTP status.
        retry_after: Seconds the server asked us to wait (``Retry-After``), if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        retry_after: float | None = None,
        code: str | None = None,
        details: dict[str, list[str]] | None = None,
        doc_url: str | None = None,
        request_id: str | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(
            message,
            code=code,
            details=details,
            doc_url=doc_url,
            request_id=request_id,
            method=method,
            path=path,
        )

    def _extra_parts(self) -> list[str]:
        return [str(self.status_code)]


class BadRequestError(APIStatusError):
    """HTTP 400: the request was invalid (see `details`)."""


class AuthenticationError(APIStatusError):
    """HTTP 401: the API key is missing, wrong, revoked or expired."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the key may not do this (role, KYC, profile scoping)."""


class NotFoundError(APIStatusError):
    """HTTP 404: no such message, contact or path."""


class ConflictError(APIStatusError):
    """HTTP 409: e.g. the same Idempotency-Key is still in flight (``CONFLICT_001``)."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422: understood but refused by a business rule."""


class RateLimitError(APIStatusError):
    """HTTP 429: the account's rate limit is exhausted (``BUSINESS_002``)."""


class InternalServerError(APIStatusError):
    """HTTP 5xx: the API failed."""


class APIResponseValidationError(APIError):
    """The body was not the documented envelope: HTML, truncated, empty, wrong shape or too big.

    Attributes:
        status_code: The HTTP status of the response.
        body_excerpt: The first few hundred characters of the body, for diagnosis.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body_excerpt: str = "",
        request_id: str | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status_code = status_code
        self.body_excerpt = body_excerpt
        super().__init__(message, request_id=request_id, method=method, path=path)

    def _extra_parts(self) -> list[str]:
        return [str(self.status_code)]


class APIConnectionError(APIError):
    """No usable response: the connection failed, was refused or dropped, or the client closed.

    An `APIError` as in the official SDK, so ``except APIError`` catches it too; ``code``,
    ``details``, ``doc_url`` and ``request_id`` are ``None`` (no response was read).
    """

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message, method=method, path=path)


class APITimeoutError(APIConnectionError, TimeoutError):
    """The request attempt timed out (after the configured retries)."""


class InvalidIdError(SentError, ValueError):
    """An id that cannot be sent: empty, too long, ``.``/``..``, control characters, no UTF-8.

    Raised before any request; in bulk jobs and watches it is that id's error.
    """


class JobMismatchError(SentError, ValueError):
    """A durable job resumed with other settings than it started with (its ``chunk_size``)."""


class JobNotFoundError(SentError, LookupError):
    """Waiting on a job of `sentdm_async.workers` that was never enqueued."""


class WatchTimeoutError(SentError, TimeoutError):
    """A watch passed its deadline before the message reached a status it was waiting for.

    Attributes:
        message_id: The watched message.
        last_activity: The most recent activity seen, or ``None`` if none was seen.
    """

    def __init__(
        self, message_id: str, last_activity: Activity | None, timeout: float | None = None
    ) -> None:
        self.message_id = message_id
        self.last_activity = last_activity
        self.timeout = timeout
        last = last_activity.status if last_activity is not None else "nothing seen"
        after = f" after {timeout:g}s" if timeout is not None else ""
        super().__init__(f"watch of message {message_id!r} timed out{after} (last status: {last})")


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """Return the exception class for an HTTP error status."""
    if status >= 500:
        return InternalServerError
    return STATUS_ERRORS.get(status, APIStatusError)
