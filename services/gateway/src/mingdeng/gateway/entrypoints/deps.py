from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Annotated

import asyncpg
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mingdeng.gateway.adapters.ingestion import EventPublisher
from mingdeng.gateway.adapters.tokens import InvalidToken, read_token
from mingdeng.gateway.domain.access import Principal, Role
from mingdeng.gateway.entrypoints.problems import Problem
from mingdeng.gateway.settings import GatewaySettings

bearer = HTTPBearer(auto_error=False, description="a token from `mingdeng-gateway token`")


def settings_of(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def connection(request: Request):  # type: ignore[no-untyped-def]
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as conn:
        yield conn


def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None:
        raise Problem(401, "Unauthorized", "send Authorization: Bearer <token>")
    secret = settings_of(request).jwt_secret.get_secret_value()
    try:
        return read_token(secret, credentials.credentials)
    except InvalidToken as error:
        raise Problem(401, "Unauthorized", f"invalid token: {error}") from None


def requires(*roles: Role):  # type: ignore[no-untyped-def]
    def check(viewer: Annotated[Principal, Depends(principal)]) -> Principal:
        if viewer.role not in roles:
            raise Problem(403, "Forbidden", f"the {viewer.role} role may not do this")
        return viewer

    return check


class RateLimiter:
    """A sliding one-minute window per token subject, for ingestion."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def take(self, subject: str, count: int) -> None:
        now = time.monotonic()
        window = self._seen[subject]
        while window and window[0] < now - 60:
            window.popleft()
        if len(window) + count > self.per_minute:
            raise Problem(
                429, "Too many events", f"at most {self.per_minute} events a minute per token"
            )
        window.extend([now] * count)


Connection = Annotated[asyncpg.Connection, Depends(connection)]
Limit = Annotated[int, Query(ge=1, le=500, description="at most this many items")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="skip this many items")]
Viewer = Annotated[Principal, Depends(requires("admin", "secretary", "leader", "member"))]
Publisher = Annotated[Principal, Depends(requires("admin", "publisher"))]


def publisher_of(request: Request) -> EventPublisher:
    publisher: EventPublisher = request.app.state.publisher
    return publisher
