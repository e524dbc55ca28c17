"""The pages read what the API answers, in-process and with the viewer's own token: the same
routes, queries and who-may-see-what rules (docs/api.md), nothing copied."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import Request

from mingdeng.gateway.adapters.tokens import issue_token
from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.web.session import session_token

# The public big screen reads bureau-wide figures with a token of its own (admin scope), and
# shows of them only names, departments, indices and counts: what the office's display shows.
SCREEN = Principal("dashboard-screen", "admin")


class Unreadable(Exception):
    """The API answered something other than 200; `status` and its problem's `detail`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def _client(request: Request, token: str | None) -> httpx.AsyncClient:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=request.app),
        base_url="http://gateway.internal",
        headers=headers,
        timeout=30,
    )


async def read(
    request: Request, path: str, params: dict[str, Any] | None = None, *, as_screen: bool = False
) -> Any:
    """GET `path` of the API as the signed-in viewer (or the big screen); its JSON body."""
    if as_screen:
        settings = request.app.state.settings
        token: str | None = issue_token(
            settings.jwt_secret.get_secret_value(), SCREEN, timedelta(minutes=1)
        )
    else:
        token = session_token(request)
    async with _client(request, token) as client:
        answer = await client.get(path, params={k: v for k, v in (params or {}).items() if v})
    if answer.status_code != 200:
        detail = ""
        if answer.headers.get("content-type", "").startswith("application/problem+json"):
            detail = str(answer.json().get("detail", ""))
        raise Unreadable(answer.status_code, detail)
    return answer.json()


async def read_or(
    request: Request, path: str, params: dict[str, Any] | None = None, *, as_screen: bool = False
) -> Any:
    """`read`, or None when the API has nothing there (404): an empty state, not an error."""
    try:
        return await read(request, path, params, as_screen=as_screen)
    except Unreadable as error:
        if error.status == 404:
            return None
        raise


def viewer_of(request: Request) -> Principal | None:
    found: Principal | None = getattr(request.state, "viewer", None)
    return found
