"""A watch saved as bytes and read back: the format of `Watcher.checkpoint` and `restore`.

msgpack through msgspec, tagged with its version (``sentdm-watcher-1``), about 60 bytes a
message: each message still watched (its log position, the rank of the latest step yielded,
its own ``until`` and deadline as Unix time, so the time a restart takes counts against it),
the events not read yet, and whether `finish` was called. What the silence curves and push
health learned is not kept. `load` refuses, with a `SentError`, bytes no watcher could have
written.
"""

from __future__ import annotations

import contextlib
import math
from typing import Final

import msgspec

from sentdm_async import errors
from sentdm_async._core.ids import check_id
from sentdm_async._watch.policy import STATUS_RANK
from sentdm_async.errors import APIError, APIStatusError, SentError, WatchTimeoutError
from sentdm_async.types._decode import dec_hook
from sentdm_async.types.messages import Activity, WatchEvent

__all__ = ["Checkpoint", "SavedError", "SavedEvent", "SavedMessage", "dump", "load"]


class SavedError(msgspec.Struct, array_like=True):
    """An error event in a checkpoint: its class, message, and status and code if any."""

    kind: str
    message: str
    status: int | None = None
    code: str | None = None

    @classmethod
    def save(cls, error: SentError) -> SavedError:
        """Keep what rebuilds ``error``."""
        status = error.status_code if isinstance(error, APIStatusError) else None
        code = error.code if isinstance(error, APIError) else None
        return cls(type(error).__name__, getattr(error, "message", str(error)), status, code)

    def load(self, message_id: str, last: Activity | None) -> SentError:
        """The error again: its own class where one can be rebuilt, else a `SentError`."""
        if self.kind == "WatchTimeoutError":
            return WatchTimeoutError(message_id, last)
        kind = getattr(errors, self.kind, None)
        if not isinstance(kind, type) or not issubclass(kind, SentError):
            return SentError(f"{self.kind}: {self.message}")
        if issubclass(kind, APIStatusError) and self.status:
            return kind(self.message, status_code=self.status, code=self.code)
        with contextlib.suppress(TypeError):  # a constructor that needs more
            return kind(self.message)
        return SentError(f"{self.kind}: {self.message}")


class SavedEvent(msgspec.Struct, array_like=True):
    """A `WatchEvent` not read yet when the checkpoint was taken."""

    message_id: str
    activity: Activity | None
    error: SavedError | None
    done: bool

    @classmethod
    def save(cls, event: WatchEvent) -> SavedEvent:
        """Keep ``event``."""
        error = event.error
        saved = None if error is None else SavedError.save(error)
        return cls(event.message_id, event.activity, saved, event.done)

    def load(self) -> WatchEvent:
        """The event again."""
        error = None if self.error is None else self.error.load(self.message_id, self.activity)
        return WatchEvent(
            message_id=self.message_id, activity=self.activity, error=error, done=self.done
        )


class SavedMessage(msgspec.Struct, array_like=True, kw_only=True):
    """One watched message in a checkpoint."""

    message_id: str
    seen: int  # activities of its log already read
    rank: int  # STATUS_RANK of the latest step yielded (-1: none)
    stop: list[str] | None  # None: the watcher's default
    deadline: float | None  # Unix time, so the time a restart takes counts
    last: Activity | None


class Checkpoint(msgspec.Struct, tag="sentdm-watcher-1", kw_only=True):
    """A whole watch."""

    messages: list[SavedMessage]
    pending: list[SavedEvent]
    finished: bool


_ENCODER: Final = msgspec.msgpack.Encoder()


_DECODER: Final = msgspec.msgpack.Decoder(Checkpoint, dec_hook=dec_hook)


def dump(checkpoint: Checkpoint) -> bytes:
    """``checkpoint`` as bytes."""
    return _ENCODER.encode(checkpoint)


def _check_saved(message: SavedMessage) -> None:
    """Refuse a checkpoint entry no watcher could have written."""
    check_id(message.message_id, "message_id")
    deadline = message.deadline
    if deadline is not None and not math.isfinite(deadline):
        raise SentError(f"checkpoint: message {message.message_id!r} has a deadline of {deadline}")
    if message.seen < 0 or not -1 <= message.rank <= max(STATUS_RANK.values()):
        raise SentError(f"checkpoint: message {message.message_id!r} has an impossible position")


def load(data: bytes) -> Checkpoint:
    """Read and check a checkpoint whole, before anything of it is used.

    Raises:
        SentError: Not a checkpoint, or an entry no watcher could have written.
        InvalidIdError: A message id in it is malformed.
    """
    try:
        checkpoint = _DECODER.decode(data)
    except (msgspec.DecodeError, RecursionError, TypeError):
        raise SentError("not a watcher checkpoint (or from an incompatible version)") from None
    for message in checkpoint.messages:
        _check_saved(message)
    return checkpoint
