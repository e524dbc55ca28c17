"""Plain ASGI middleware: unlike `@app.middleware("http")`, it adds no task, queue or copy of
the body per request, and it leaves a streamed response alone."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mingdeng.gateway.entrypoints import problems


class GuardAndCount:
    """Refuses NUL characters in the path or query up front (PostgreSQL stores none), and counts
    the requests answered by method, route and status."""

    def __init__(self, app: ASGIApp, requests: Counter) -> None:
        self.app = app
        self.requests = requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(scope["query_string"]):
            refusal = problems.problem_response(
                422, "Invalid request", "NUL characters are not allowed"
            )
            await refusal(scope, receive, send)
            return
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            self.requests.labels(scope["method"], getattr(route, "path", "unmatched"), status).inc()
