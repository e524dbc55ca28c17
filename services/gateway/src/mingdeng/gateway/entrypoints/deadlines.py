"""Limits on slow and idle connections (docs/api.md, "Slow and idle connections").

uvicorn closes a connection idle between requests (`timeout_keep_alive`) and can answer 503
beyond a number of connections (`limit_concurrency`), but it waits without end for a request's
headers and its body. So a client trickling a byte now and then (slowloris) held a connection
as long as it liked, and enough of them held every file descriptor. Here:

- `with_deadlines`: a connection sends its request line and headers within
  `header_timeout_s` of opening (or of its first byte after a previous request); else it gets
  408 and is closed. A body answered before it was read (a 401 or a 413 at once) has
  `body_timeout_s` for its rest; then the connection is closed.
- `BodyDeadline`: the whole body arrives within `body_timeout_s` of the headers; else 408
  (`problems.BodyTimeout`) and the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
import resource

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mingdeng.gateway.entrypoints.problems import PROBLEM, BodyTimeout

# file descriptors kept for what is not a client: the database pool, the broker, logs, files
RESERVED_DESCRIPTORS = 256


def connection_budget() -> int:
    """The default for most connections at once: the process's open-file limit less those
    kept for the rest, so a flood of connections never takes the database's or the broker's."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(soft - RESERVED_DESCRIPTORS, 64)


class BodyDeadline:
    """Plain ASGI middleware: `receive` raises BodyTimeout once the request's body is not
    complete `seconds` after its headers. A request without a body, and the rest of a request
    once its body is in (a stream waiting for the client to leave), are left alone."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds
        complete = False

        async def receive_by_deadline() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(self.seconds) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, receive_by_deadline, send)


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and int(value) > 0):
            return True
    return False


def with_deadlines(header_s: float, body_s: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, with a deadline for each request's line and headers, and
    one for the rest of a body that was answered before it was read (a 401 or 413 at once):
    uvicorn reads that rest to keep the connection, and each byte of it put off the close."""
    timed_out = _problem_408(f"the request's headers did not arrive within {header_s:g} s")

    class Deadlines(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _rest_timer: asyncio.TimerHandle | None = None
        _request_begun = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_header_timer()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._request_begun = True
            if self._header_timer is None:
                self._arm_header_timer()

        def on_headers_complete(self) -> None:
            self._cancel_timers()
            self._request_begun = False
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            answered = self.cycle
            if answered is not None and answered.more_body and not self.transport.is_closing():
                self._rest_timer = self.loop.call_later(body_s, self._rest_expired, answered)

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_timers()
            super().connection_lost(exc)

        def _arm_header_timer(self) -> None:
            self._header_timer = self.loop.call_later(header_s, self._headers_expired)

        def _cancel_timers(self) -> None:
            for timer in (self._header_timer, self._rest_timer):
                if timer is not None:
                    timer.cancel()
            self._header_timer = self._rest_timer = None

        def _headers_expired(self) -> None:
            self._header_timer = None
            if self.transport.is_closing():
                return
            if self.cycle is not None and not self.cycle.response_complete:
                self._arm_header_timer()  # a pipelined request waits behind an answer
                return
            if self._request_begun:
                self.transport.write(timed_out)
            self.transport.close()

        def _rest_expired(self, answered: object) -> None:
            self._rest_timer = None
            if self.cycle is answered and self.cycle.more_body:  # still that body's rest
                self.transport.close()

    return Deadlines


def _problem_408(detail: str) -> bytes:
    body = json.dumps(
        {"type": "about:blank", "title": "Request timeout", "status": 408, "detail": detail}
    ).encode()
    head = (
        f"HTTP/1.1 408 Request Timeout\r\ncontent-type: {PROBLEM}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body
