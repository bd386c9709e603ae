"""Fault injection: queued faults, spontaneous fault rates and the bodies faults answer with."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import msgspec
from aiohttp import web

from sentdm_async.simulator._http import DEFAULT_CODES, ROUTES, Reply, error_body, ok_body
from sentdm_async.simulator._model import format_ts

if TYPE_CHECKING:
    import random
    from collections.abc import Mapping

FAULT_KINDS: Final = frozenset(
    {
        "delay",
        "drop",
        "empty",
        "html",
        "html200",
        "null_data",
        "oversize",
        "raw",
        "status",
        "truncated",
        "wrong_shape",
    }
)
"""Kinds accepted by `Simulator.inject`."""

SPONTANEOUS_KINDS: Final = ("500", "502", "503", "504", "drop")
"""Keys accepted in `Simulator.fault_rates`, in the order they are tested."""

HTML_BAD_GATEWAY: Final = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
HTML_OK: Final = b"<!DOCTYPE html><html><head><title>Sent</title></head><body>OK</body></html>"
_PAD_CHUNK: Final = b"x" * 65_536
_NIL_ID: Final = "00000000-0000-4000-8000-000000000000"


class Fault(NamedTuple):
    """One queued fault, consumed by one matching request."""

    kind: str
    route: str | None
    status: int = 500
    code: str | None = None
    headers: Mapping[str, str] | None = None
    delay: float = 0.0
    size: int = 0
    body: bytes = b""


class FaultRates(dict[str, float]):
    """``Simulator.fault_rates``: a dict that rejects unknown keys and bad probabilities."""

    def __init__(self, rates: Mapping[str, float] | None = None) -> None:
        super().__init__()
        self.update(rates or {})

    def __setitem__(self, key: str, value: float) -> None:
        if key not in SPONTANEOUS_KINDS:
            msg = f"unknown fault rate key {key!r}; expected one of {SPONTANEOUS_KINDS}"
            raise KeyError(msg)
        if not 0.0 <= value <= 1.0:
            msg = f"fault rate for {key!r} must be within 0..1, got {value}"
            raise ValueError(msg)
        super().__setitem__(key, value)

    def update(self, *args: Any, **kwargs: float) -> None:
        """Set several rates, validating each."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


class FaultQueue:
    """Queued faults (FIFO, each consumed by one matching request) plus spontaneous rates."""

    def __init__(self, rng: random.Random) -> None:
        """Create an empty queue; ``rng`` draws the spontaneous faults."""
        self._queue: list[Fault] = []
        self._rng = rng
        self.rates = FaultRates()

    def add(self, fault: Fault, times: int) -> None:
        """Validate ``fault`` and queue it ``times`` times."""
        if fault.kind not in FAULT_KINDS:
            msg = f"unknown fault kind {fault.kind!r}; expected one of {sorted(FAULT_KINDS)}"
            raise ValueError(msg)
        if fault.route is not None and fault.route not in ROUTES:
            msg = f"unknown route {fault.route!r}; expected one of {sorted(ROUTES)}"
            raise ValueError(msg)
        if times < 1 or not 100 <= fault.status <= 599 or fault.delay < 0 or fault.size < 1:
            msg = "times >= 1, 100 <= status <= 599, delay >= 0 and size >= 1 are required"
            raise ValueError(msg)
        self._queue.extend([fault] * times)

    def clear(self) -> None:
        """Forget every queued fault (the rates stay)."""
        self._queue.clear()

    def take(self, route: str) -> Fault | None:
        """Return the fault for one request on ``route``, or None to answer normally."""
        queue = self._queue
        if queue:
            for i, fault in enumerate(queue):
                if fault.route is None or fault.route == route:
                    del queue[i]
                    return fault
        rates = self.rates
        if rates:
            x = self._rng.random()
            for key in SPONTANEOUS_KINDS:
                x -= rates.get(key, 0.0)
                if x < 0:
                    if key == "drop":
                        return Fault("drop", None)
                    return Fault("status", None, int(key))
        return None


def fault_reply(fault: Fault, meta: bytes) -> Reply:
    """Return the reply of a fault that needs no real answer (not drop/delay/truncated/oversize).

    Args:
        fault: the fault.
        meta: the encoded ``meta`` object for envelopes.
    """
    kind = fault.kind
    if kind == "status":
        code = fault.code or DEFAULT_CODES.get(fault.status) or "INTERNAL_001"
        return Reply(fault.status, error_body(code, meta), {})
    if kind == "html":
        return Reply(
            fault.status if fault.status != 500 else 502, HTML_BAD_GATEWAY, {}, "text/html"
        )
    if kind == "html200":
        return Reply(200, HTML_OK, {}, "text/html")
    if kind == "empty":
        return Reply(200, b"", {})
    if kind == "raw":  # exactly these bytes, status and headers: a hostile server's answer
        return Reply(fault.status, fault.body, {}, "")
    data = b"null" if kind == "null_data" else b"[1,2,3]"  # wrong_shape
    return Reply(200, ok_body(data, meta), {})


async def stream_oversize(
    request: web.Request,
    size: int,
    meta: bytes,
    message_id: str | None,
    headers: dict[str, str],
) -> web.StreamResponse:
    """Stream a valid activities envelope of ``size`` bytes, padding one description.

    The body is written in 64 KiB slices of one shared chunk, so memory stays flat however big
    ``size`` is. If ``size`` is below the envelope's own length the envelope is sent unpadded.
    """
    stamp = format_ts(datetime.now(UTC), 0)
    head = b'{"success":true,"data":{"message_id":%s,"activities":[{"status":"QUEUED",' % (
        msgspec.json.encode(message_id or _NIL_ID)
    )
    head += b'"description":"'
    tail = (
        b'","from":null,"timestamp":"%s","price":null,"active_contact_price":null}],'
        b'"pagination":null},"error":null,"meta":%s}' % (stamp.encode(), meta)
    )
    pad = max(0, size - len(head) - len(tail))
    response = web.StreamResponse(status=200, headers=headers)
    response.content_type = "application/json"
    response.content_length = len(head) + pad + len(tail)
    try:
        await response.prepare(request)
        await response.write(head)
        while pad > 0:
            chunk = _PAD_CHUNK if pad >= len(_PAD_CHUNK) else _PAD_CHUNK[:pad]
            await response.write(chunk)
            pad -= len(chunk)
        await response.write(tail)
    except ConnectionError:
        pass  # the client gave up on the huge body, which is what this fault is for
    return response
