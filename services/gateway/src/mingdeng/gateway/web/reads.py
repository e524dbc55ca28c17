"""The pages read what the API answers, in-process and with the viewer's own token: the same
routes, queries and who-may-see-what rules (docs/api.md), nothing copied. Each answer is read as
its answer model (`entrypoints/answers.py`, the contracts' models); a refusal becomes the
sentence of a `PageError` here, once. Pages take the `Api` port as a dependency, so a test
hands them a fake of it (`app.dependency_overrides[api_of]`, or a direct call)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Protocol, TypeVar

import httpx
from fastapi import Depends, Request
from pydantic import BaseModel

from mingdeng.gateway.adapters.tokens import issue_token
from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.web.directory import Directory, read_directory
from mingdeng.gateway.web.session import session_token

# The public big screen reads bureau-wide figures with a token of its own (admin scope), and
# shows of them only names, departments, indices and counts: what the office's display shows.
SCREEN = Principal("dashboard-screen", "admin")
A = TypeVar("A", bound=BaseModel)
Params = Mapping[str, str | int | list[str] | None]


class PageError(Exception):
    """Shown to the person as a sentence on a page, with the HTTP status."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence


def refusal(status: int) -> PageError:
    """What a person reads when the API answers `status` instead of 200."""
    if status == 403:
        return PageError(403, "您的身份无权查看这部分内容。")
    if status == 503:
        return PageError(503, "数据库或消息服务暂时无法连接，请稍后刷新重试。")
    return PageError(status, f"数据暂时无法读取（错误 {status}），请稍后重试。")


class Api(Protocol):
    """What the pages read: the API's answers as their models, and the names of the registry."""

    async def get(self, answer: type[A], path: str, params: Params | None = None) -> A:
        """The answer of GET `path`; a `PageError` when the API refuses."""

    async def find(self, answer: type[A], path: str, params: Params | None = None) -> A | None:
        """`get`, or None when the API has nothing there (404): an empty state, not an error."""

    async def directory(self) -> Directory:
        """Names of members, departments, branches, households and lectures."""


class AppApi:
    """The gateway's own API, over an in-process ASGI client, with `token`."""

    def __init__(self, request: Request, token: str | None) -> None:
        self._app = request.app
        self._token = token

    async def _answer(self, path: str, params: Params | None) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self._app),
            base_url="http://gateway.internal",
            headers=headers,
            timeout=30,
        ) as client:
            return await client.get(
                path, params={k: v for k, v in (params or {}).items() if v not in (None, "")}
            )

    async def get(self, answer: type[A], path: str, params: Params | None = None) -> A:
        found = await self.find(answer, path, params)
        if found is None:
            raise refusal(404)
        return found

    async def find(self, answer: type[A], path: str, params: Params | None = None) -> A | None:
        response = await self._answer(path, params)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise refusal(response.status_code)
        return answer.model_validate_json(response.content)

    async def directory(self) -> Directory:
        async with self._app.state.pool.acquire() as connection:
            return await read_directory(connection)


def api_of(request: Request) -> Api:
    """The API as the signed-in viewer sees it."""
    return AppApi(request, session_token(request))


def screen_api_of(request: Request) -> Api:
    """The API as the public big screen sees it (a one-minute admin token of its own)."""
    secret = request.app.state.settings.jwt_secret.get_secret_value()
    return AppApi(request, issue_token(secret, SCREEN, timedelta(minutes=1)))


ViewerApi = Annotated[Api, Depends(api_of)]
ScreenApi = Annotated[Api, Depends(screen_api_of)]


def viewer_of(request: Request) -> Principal | None:
    found: Principal | None = getattr(request.state, "viewer", None)
    return found
