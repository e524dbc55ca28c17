from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Annotated

import asyncpg
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mingdeng.gateway.adapters.ingestion import EventPublisher
from mingdeng.gateway.adapters.repository import OrgCache
from mingdeng.gateway.adapters.tokens import InvalidToken, TokenReader
from mingdeng.gateway.domain.access import Org, Principal, Role
from mingdeng.gateway.entrypoints.problems import Problem, problems
from mingdeng.gateway.settings import GatewaySettings

bearer = HTTPBearer(auto_error=False, description="a token from `mingdeng-gateway token`")


def settings_of(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def connection(request: Request):  # type: ignore[no-untyped-def]
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as conn:
        yield conn


async def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None:
        raise Problem(401, "Unauthorized", "send Authorization: Bearer <token>")
    tokens: TokenReader = request.app.state.tokens
    try:
        return tokens.read(credentials.credentials)
    except InvalidToken as error:
        raise Problem(401, "Unauthorized", f"invalid token: {error}") from None


def requires(*roles: Role):  # type: ignore[no-untyped-def]
    async def check(viewer: Annotated[Principal, Depends(principal)]) -> Principal:
        if viewer.role not in roles:
            raise Problem(403, "Forbidden", f"the {viewer.role} role may not do this")
        return viewer

    return check


class RateLimiter:
    """A token bucket per token subject: `per_minute` events a minute on average, in bursts of
    up to `burst` (a backfill posts its batches back to back). A refusal says when to retry."""

    def __init__(
        self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_second = per_minute / 60
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # subject: (events left, as of)

    def take(self, subject: str, count: int) -> None:
        now = self._clock()
        left, since = self._buckets.get(subject, (self.burst, now))
        left = min(self.burst, left + (now - since) * self.per_second)
        if count > left:
            raise Problem(
                429,
                "Too many events",
                f"at most {self.per_second * 60:.0f} events a minute per token, in bursts of"
                f" {self.burst}",
                retry_after_s=math.ceil((count - left) / self.per_second),
            )
        self._buckets[subject] = (left - count, now)


Connection = Annotated[asyncpg.Connection, Depends(connection)]


async def organisation(request: Request) -> Org:
    """Who belongs where, for who-may-see-what: cached until the registry changes (a database
    connection is taken from the pool only to read it again)."""
    cache: OrgCache = request.app.state.org_cache
    pool: asyncpg.Pool = request.app.state.pool
    return await cache.get(pool)


Organisation = Annotated[Org, Depends(organisation)]
Limit = Annotated[int, Query(ge=1, le=500, description="at most this many items")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="skip this many items")]
Viewer = Annotated[Principal, Depends(requires("admin", "secretary", "leader", "member"))]
Publisher = Annotated[Principal, Depends(requires("admin", "publisher"))]
VIEWER_PROBLEMS = problems(401, 403, 422, 503)  # of every route that takes a token


async def publisher_of(request: Request) -> EventPublisher:
    publisher: EventPublisher = request.app.state.publisher
    return publisher
