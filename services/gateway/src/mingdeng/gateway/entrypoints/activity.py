"""Lectures, KPIs and the live stream of index changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from mingdeng.contracts.periods import PERIOD_PATTERN
from mingdeng.gateway.adapters import repository
from mingdeng.gateway.adapters.agency_schemas import schema_of
from mingdeng.gateway.adapters.read_models.scores import score_channel
from mingdeng.gateway.domain.access import Scope, scope_of
from mingdeng.gateway.entrypoints.answers import Kpis, LectureStats
from mingdeng.gateway.entrypoints.deps import (
    VIEWER_PROBLEMS,
    Connection,
    Limit,
    Offset,
    Organisation,
    Viewer,
    settings_of,
)
from mingdeng.runtime.clients import postgres_connection

router = APIRouter(prefix="/v1", tags=["activity"], responses=VIEWER_PROBLEMS)

KEEPALIVE_S = 15.0


@router.get("/lectures/stats")
async def lecture_stats(
    viewer: Viewer, connection: Connection, year: Annotated[int, Query(ge=2000, le=2100)]
) -> LectureStats:
    """Lecture hall (讲堂) figures of a year: sessions held and attendances (person-times), by
    module, theme and speaker."""
    return LectureStats.model_validate(await repository.lecture_stats(connection, year))


@router.get("/kpis")
async def kpis(
    viewer: Viewer,
    org: Organisation,
    connection: Connection,
    subject_type: Literal["member", "department", "bureau"] | None = None,
    subject_id: str | None = None,
    metric: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$")] = None,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Kpis:
    """Reported KPIs, the latest per (subject, metric, period) by time, with their history.
    Bureau figures are for everyone; members' and departments' follow the viewer's scope."""
    scope = scope_of(viewer, org)
    items = [
        item
        for item in await repository.kpis(connection, subject_type, subject_id, metric, period)
        if _visible(scope, item["subject_type"], item["subject_id"])
    ]
    return Kpis.model_validate({"total": len(items), "items": items[offset : offset + limit]})


def _visible(scope: Scope, subject_type: str, subject_id: str) -> bool:
    if subject_type == "member":
        return scope.allows_member(subject_id)
    if subject_type == "department":
        return scope.allows_department(subject_id)
    return True


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "`event: score` with the changed index as JSON in `data`; a "
            "`: keepalive` comment every 15 s",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def stream(
    request: Request, viewer: Viewer, org: Organisation, connection: Connection
) -> StreamingResponse:
    """Server-sent events (`event: score`) as indices change, for the viewer's part of the
    bureau: its agency's channel only."""
    scope = scope_of(viewer, org)
    dsn = settings_of(request).postgres.dsn

    def allowed(change: dict[str, str]) -> bool:
        if change["level"] == "branch":
            return scope.allows_branch(change["id"])
        return _visible(scope, change["level"], change["id"])

    async def events() -> AsyncIterator[str]:
        changes: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)
        listener = await postgres_connection(dsn)

        def on_change(_: object, __: int, ___: str, payload: str) -> None:
            if not changes.full():
                changes.put_nowait(payload)

        await listener.add_listener(score_channel(schema_of(viewer.agency)), on_change)
        try:
            yield ": connected\n\n"
            while True:  # a client gone is noticed at the next write, a keepalive at the latest
                try:
                    payloads = [await asyncio.wait_for(changes.get(), KEEPALIVE_S)]
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                while not changes.empty():  # all that came meanwhile, in one write
                    payloads.append(changes.get_nowait())
                chunk = "".join(
                    f"event: score\ndata: {payload}\n\n"
                    for payload in payloads
                    if allowed(json.loads(payload))
                )
                if chunk:
                    yield chunk
        finally:
            await listener.close()

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
