"""A capturing HTTP server on a real loopback socket: records requests, answers a canned body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

__all__ = ["Captured", "CapturingServer"]


@dataclass(frozen=True)
class Captured:
    """The parts of a request both clients must agree on (headers are left out)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: Any

    def describe(self) -> str:
        """Return a one-line summary for an assertion message."""
        return f"{self.method} {self.path} query={list(self.query)} body={self.body!r}"


@dataclass
class CapturingServer:
    """Answers every request with ``status`` and ``body``; ``requests`` holds what arrived."""

    status: int = 200
    body: Any = None
    requests: list[Captured] = field(default_factory=list)
    _server: TestServer | None = None

    async def start(self) -> str:
        """Start on 127.0.0.1 and return the base URL."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return str(self._server.make_url("")).rstrip("/")

    async def close(self) -> None:
        """Stop the server."""
        if self._server is not None:
            await self._server.close()

    def answer(self, status: int, body: Any) -> None:
        """Answer the next requests with ``status`` and JSON ``body`` (``None``: no body)."""
        self.status, self.body = status, body
        self.requests.clear()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.requests.append(
            Captured(
                method=request.method,
                path=request.path,
                query=tuple(sorted(request.query.items())),
                body=json.loads(raw) if raw else None,
            )
        )
        if self.body is None:
            return web.Response(status=self.status)
        return web.json_response(self.body, status=self.status)
