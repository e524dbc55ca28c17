"""Plain ASGI middleware: unlike `@app.middleware("http")`, it adds no task, queue or copy of
the body per request, and it leaves a streamed response alone."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from prometheus_client import Counter
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mingdeng.contracts.agency import DEFAULT_AGENCY, agency_id_problem
from mingdeng.gateway.adapters.agency_schemas import current_agency
from mingdeng.gateway.adapters.tokens import InvalidToken, TokenReader
from mingdeng.gateway.entrypoints import problems
from mingdeng.gateway.web.session import SESSION_COOKIE


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


class RequestAgency:
    """Sets the request's agency (`current_agency`, ADR 0003) before anything reads: the agency
    of its bearer token or session cookie; without either, the `agency` of the query (the
    public board and big screen of an agency), else the default agency. An invalid token sets
    the default agency: the route refuses it (401) before it reads anything."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        agency = _token_agency(request)
        if agency is None:  # a page's own call of the API keeps the page's agency
            asked = request.query_params.get("agency", current_agency.get() or DEFAULT_AGENCY)
            if agency_id_problem(asked) is not None:
                refusal = problems.problem_response(422, "Invalid request", "no such agency")
                await refusal(scope, receive, send)
                return
            agency = asked
        token = current_agency.set(agency)
        try:
            await self.app(scope, receive, send)
        finally:
            current_agency.reset(token)


def _token_agency(request: Request) -> str | None:
    """The agency of the request's bearer token, else of its session; None without either."""
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else ""
    token = token or request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    tokens: TokenReader = request.app.state.tokens
    try:
        return tokens.read(token).agency
    except InvalidToken:
        return DEFAULT_AGENCY
