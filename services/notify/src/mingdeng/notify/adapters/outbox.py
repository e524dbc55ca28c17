"""The outbox in PostgreSQL: enqueue once per key, claim, settle."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from mingdeng.contracts.derived import Notification, Task
from mingdeng.contracts.privacy import mask_phone


@dataclass(frozen=True)
class Row:
    key: str
    rule: str
    recipient_id: str
    phone: str | None
    text: str
    params: dict[str, str]
    urgent: bool
    attempts: int
    created_at: datetime
    claimed_at: datetime | None


def _row(record: asyncpg.Record) -> Row:
    return Row(
        record["key"],
        record["rule"],
        record["recipient_id"],
        record["phone"],
        record["text"],
        json.loads(record["params"]),
        record["urgent"],
        record["attempts"],
        record["created_at"],
        record["claimed_at"],
    )


async def enqueue(
    connection: asyncpg.Connection,
    *,
    key: str,
    rule: str,
    recipient_id: str,
    cause: str,
    phone: str | None,
    text: str,
    params: dict[str, str],
    urgent: bool,
    not_before: datetime,
    status: str = "queued",
    reason: str | None = None,
) -> bool:
    """Add a message unless its key exists; True when it was new."""
    created = await connection.fetchval(
        """INSERT INTO notify.outbox
               (key, rule, recipient_id, cause, phone, text, params, urgent, status, reason, not_before)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (key) DO NOTHING RETURNING true""",
        key,
        rule,
        recipient_id,
        cause,
        phone,
        text,
        json.dumps(params, ensure_ascii=False),
        urgent,
        status,
        reason,
        not_before,
    )
    return bool(created)


async def claim_next(connection: asyncpg.Connection, now: datetime) -> Row | None:
    """Take the next due message, marking it 'sending' (commit before calling the provider)."""
    record = await connection.fetchrow(
        """UPDATE notify.outbox SET status = 'sending', attempts = attempts + 1, claimed_at = $1,
               updated_at = $1, version = version + 1
           WHERE key = (SELECT key FROM notify.outbox WHERE status = 'queued' AND not_before <= $1
                        ORDER BY urgent DESC, not_before, key FOR UPDATE SKIP LOCKED LIMIT 1)
           RETURNING *""",
        now,
    )
    return _row(record) if record else None


async def settle(
    connection: asyncpg.Connection,
    key: str,
    now: datetime,
    *,
    status: str,
    reason: str | None = None,
    provider: str | None = None,
    provider_message_id: str | None = None,
    not_before: datetime | None = None,
) -> None:
    await connection.execute(
        """UPDATE notify.outbox SET status = $2, reason = $3, provider = coalesce($4, provider),
               provider_message_id = coalesce($5, provider_message_id),
               sent_at = CASE WHEN $2 = 'sent' THEN $6 ELSE sent_at END,
               not_before = coalesce($7, not_before), updated_at = $6, version = version + 1
           WHERE key = $1""",
        key,
        status,
        reason,
        provider,
        provider_message_id,
        now,
        not_before,
    )


async def sent_to(connection: asyncpg.Connection, phone: str, since: datetime) -> list[datetime]:
    rows = await connection.fetch(
        "SELECT sent_at FROM notify.outbox WHERE status = 'sent' AND phone = $1 AND sent_at > $2",
        phone,
        since,
    )
    return [row["sent_at"] for row in rows]


async def unsettled(connection: asyncpg.Connection, claimed_before: datetime) -> list[Row]:
    """Messages left 'sending' (a crash between claim and record)."""
    rows = await connection.fetch(
        "SELECT * FROM notify.outbox WHERE status = 'sending' AND claimed_at < $1 ORDER BY key",
        claimed_before,
    )
    return [_row(r) for r in rows]


async def save_task(connection: asyncpg.Connection, task: Task) -> bool:
    """Insert or update a task; True when something changed."""
    changed = await connection.fetchval(
        """INSERT INTO notify.tasks (task_id, body) VALUES ($1, $2)
           ON CONFLICT (task_id) DO UPDATE SET body = EXCLUDED.body, version = notify.tasks.version + 1
           WHERE notify.tasks.body <> EXCLUDED.body RETURNING true""",
        task.task_id,
        task.model_dump_json(),
    )
    return bool(changed)


async def tasks(connection: asyncpg.Connection) -> list[Task]:
    rows = await connection.fetch("SELECT body FROM notify.tasks ORDER BY task_id")
    return [Task.model_validate_json(row["body"]) for row in rows]


async def unpublished_notifications(
    connection: asyncpg.Connection, limit: int = 500
) -> list[tuple[Notification, int]]:
    rows = await connection.fetch(
        "SELECT * FROM notify.outbox WHERE version > published_version ORDER BY updated_at LIMIT $1",
        limit,
    )
    return [(_notification(r), r["version"]) for r in rows]


def _notification(r: asyncpg.Record) -> Notification:
    return Notification(
        key=r["key"],
        rule=r["rule"],
        recipient_id=r["recipient_id"],
        cause=r["cause"],
        phone=mask_phone(r["phone"]),
        text=r["text"],
        status=r["status"],
        reason=r["reason"],
        provider=r["provider"],
        provider_message_id=r["provider_message_id"],
        attempts=r["attempts"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


async def mark_published(
    connection: asyncpg.Connection, table: str, key_column: str, versions: dict[str, int]
) -> None:
    assert table in ("outbox", "tasks", "bulletins") and key_column in ("key", "task_id", "month")
    await connection.executemany(
        f"UPDATE notify.{table} SET published_version = $2 WHERE {key_column} = $1 AND published_version < $2",
        list(versions.items()),
    )


async def unpublished(
    connection: asyncpg.Connection, table: str, key_column: str, limit: int = 500
) -> list[tuple[str, str, int]]:
    """(key, body, version) of tasks or bulletins not yet published at their current version."""
    assert table in ("tasks", "bulletins") and key_column in ("task_id", "month")
    rows = await connection.fetch(
        f"SELECT {key_column} AS key, body, version FROM notify.{table} WHERE version > published_version LIMIT $1",
        limit,
    )
    return [(r["key"], r["body"], r["version"]) for r in rows]
