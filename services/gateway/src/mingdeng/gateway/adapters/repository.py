"""Queries over the gateway's read models."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from mingdeng.gateway.domain.access import Org


async def org(connection: asyncpg.Connection) -> Org:
    members = await connection.fetch(
        "SELECT member_id, department_id FROM gateway.members"
        " WHERE left_at IS NULL OR left_at < registered_at"
    )
    departments = await connection.fetch(
        "SELECT department_id, branch_id, leader_id FROM gateway.departments"
    )
    return Org(
        member_department={r["member_id"]: r["department_id"] for r in members},
        department_branch={r["department_id"]: r["branch_id"] for r in departments},
        department_leader={r["department_id"]: r["leader_id"] for r in departments},
    )


async def scores(connection: asyncpg.Connection, quarter: str, level: str) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        "SELECT body FROM gateway.scores WHERE quarter = $1 AND level = $2 ORDER BY rank, id",
        quarter,
        level,
    )
    return [json.loads(row["body"]) for row in rows]


async def score(
    connection: asyncpg.Connection, quarter: str, level: str, subject_id: str
) -> dict[str, Any] | None:
    body = await connection.fetchval(
        "SELECT body FROM gateway.scores WHERE quarter = $1 AND level = $2 AND id = $3",
        quarter,
        level,
        subject_id,
    )
    return json.loads(body) if body else None


async def selection(connection: asyncpg.Connection, key: str) -> dict[str, Any] | None:
    body = await connection.fetchval("SELECT body FROM gateway.selections WHERE key = $1", key)
    return json.loads(body) if body else None


async def event_status(
    connection: asyncpg.Connection, source: str, event_id: str
) -> dict[str, Any] | None:
    row = await connection.fetchrow(
        """SELECT s.body AS status, a.accepted_at
           FROM gateway.accepted_events a
           FULL JOIN gateway.event_status s ON s.source = a.source AND s.id = a.id
           WHERE coalesce(a.source, s.source) = $1 AND coalesce(a.id, s.id) = $2""",
        source,
        event_id,
    )
    if row is None:
        return None
    if row["status"] is None:
        return {"source": source, "id": event_id, "status": "accepted"}
    return dict(json.loads(row["status"]))


async def department_names(connection: asyncpg.Connection) -> dict[str, str]:
    rows = await connection.fetch("SELECT department_id, name FROM gateway.departments")
    return {row["department_id"]: row["name"] for row in rows}


async def outreach_view(connection: asyncpg.Connection, key: str) -> tuple[Any, datetime] | None:
    row = await connection.fetchrow(
        "SELECT body, computed_at FROM gateway.outreach_views WHERE key = $1", key
    )
    return (json.loads(row["body"]), row["computed_at"]) if row else None
