"""The notifier's store in PostgreSQL (schema `notify`, adapters/sql/): the events it read, the
outbox (once per key; claimed, settled), tasks, bulletins, selections and schedule claims; and
what the publisher reads of them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.codec import parse_event, serialize_event
from mingdeng.contracts.derived import Bulletin, Notification, QuarterSelection, Task
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.privacy import mask_phone
from mingdeng.notify.store import Claimed, Queued, Status

EVENT_TABLE = "notify.events"
FORGET_INSTANCES_AFTER = timedelta(days=1)


class PostgresStore:
    """The store on a connection, in the transaction its caller holds."""

    def __init__(self, connection: asyncpg.Connection, agency: str = DEFAULT_AGENCY) -> None:
        self.connection = connection
        self.agency = agency

    def of(self, agency: str) -> PostgresStore:
        return PostgresStore(self.connection, agency)

    # --- intake ---------------------------------------------------------------------------

    async def keep_events(self, events: Sequence[Event[EventData]]) -> list[Event[EventData]]:
        """In one statement for the whole batch (a round trip per event was most of a batch's
        time)."""
        if not events:
            return []
        kept = await self.connection.fetch(
            """INSERT INTO notify.events (source, id, type, time, body)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                                    $5::jsonb[])
               ON CONFLICT DO NOTHING RETURNING source, id""",
            [e.source for e in events],
            [e.id for e in events],
            [e.type for e in events],
            [e.time for e in events],
            [serialize_event(e).decode() for e in events],
        )
        new = {(row["source"], row["id"]) for row in kept}
        first: dict[tuple[str, str], Event[EventData]] = {}
        for event in events:
            if event.key in new:
                first.setdefault(event.key, event)
        return list(first.values())

    async def agencies(self) -> list[str]:
        rows = await self.connection.fetch(
            """WITH RECURSIVE found AS (
                   (SELECT agency FROM notify.events ORDER BY agency LIMIT 1)
                   UNION ALL
                   SELECT (SELECT agency FROM notify.events WHERE agency > found.agency
                           ORDER BY agency LIMIT 1)
                   FROM found WHERE found.agency IS NOT NULL)
               SELECT agency FROM found WHERE agency IS NOT NULL
               UNION SELECT DISTINCT agency FROM notify.selections"""
        )  # a walk of the events' index by agency: a lookup per agency, not a read of all
        return sorted(row["agency"] for row in rows)

    async def events(self, agencies: Sequence[str]) -> list[Event[EventData]]:
        rows = await self.connection.fetch(
            """SELECT body FROM notify.events WHERE agency = ANY($1::text[])
               ORDER BY time, source, id""",
            list(agencies),
        )
        return [parse_event(json.loads(row["body"])) for row in rows]

    async def keep_selection(self, selection: QuarterSelection) -> None:
        await self.connection.execute(
            """INSERT INTO notify.selections (quarter, body, agency) VALUES ($1, $2, $3)
               ON CONFLICT (agency, quarter) DO UPDATE SET body = EXCLUDED.body""",
            selection.quarter,
            selection.model_dump_json(),
            self.agency,
        )

    async def selections(self, agencies: Sequence[str]) -> list[tuple[str, QuarterSelection]]:
        rows = await self.connection.fetch(
            """SELECT agency, body FROM notify.selections WHERE agency = ANY($1::text[])
               ORDER BY agency, quarter""",
            list(agencies),
        )
        return [(row["agency"], QuarterSelection.model_validate_json(row["body"])) for row in rows]

    async def save_task(self, task: Task) -> bool:
        changed = await self.connection.fetchval(
            """INSERT INTO notify.tasks (task_id, body, agency) VALUES ($1, $2, $3)
               ON CONFLICT (agency, task_id) DO UPDATE SET body = EXCLUDED.body, version = notify.tasks.version + 1
               WHERE notify.tasks.body <> EXCLUDED.body RETURNING true""",
            task.task_id,
            task.model_dump_json(),
            self.agency,
        )
        return bool(changed)

    async def tasks(self) -> list[Task]:
        rows = await self.connection.fetch(
            "SELECT body FROM notify.tasks WHERE agency = $1 ORDER BY task_id", self.agency
        )
        return [Task.model_validate_json(row["body"]) for row in rows]

    async def task(self, task_id: str) -> Task | None:
        body = await self.connection.fetchval(
            "SELECT body FROM notify.tasks WHERE agency = $1 AND task_id = $2", self.agency, task_id
        )
        return None if body is None else Task.model_validate_json(body)

    async def open_commendations(self) -> dict[str, list[Task]]:
        rows = await self.connection.fetch(
            """SELECT agency, body FROM notify.tasks
               WHERE body ->> 'kind' = 'commendation' AND body ->> 'status' = 'open'
               ORDER BY agency, task_id"""
        )
        tasks: dict[str, list[Task]] = {}
        for row in rows:
            tasks.setdefault(row["agency"], []).append(Task.model_validate_json(row["body"]))
        return tasks

    async def open_meeting_tasks(self, branch_id: str, kind: str) -> list[Task]:
        rows = await self.connection.fetch(
            """SELECT body FROM notify.tasks
               WHERE agency = $3 AND body ->> 'kind' = 'meeting' AND body ->> 'status' = 'open'
                 AND body ->> 'branch_id' = $1 AND body ->> 'cause' = $2
               ORDER BY task_id""",
            branch_id,
            kind,
            self.agency,
        )
        return [Task.model_validate_json(row["body"]) for row in rows]

    # --- the outbox -----------------------------------------------------------------------

    async def enqueue(self, message: Queued) -> bool:
        created = await self.connection.fetchval(
            """INSERT INTO notify.outbox
                   (key, rule, recipient_id, cause, phone, text, params, urgent, status, reason, not_before,
                    agency)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               ON CONFLICT (agency, key) DO NOTHING RETURNING true""",
            message.key,
            message.rule,
            message.recipient_id,
            message.cause,
            message.phone,
            message.text,
            json.dumps(message.params, ensure_ascii=False),
            message.urgent,
            message.status,
            message.reason,
            message.not_before,
            self.agency,
        )
        return bool(created)

    async def claim_next(self, now: datetime, claimant: str) -> Claimed | None:
        record = await self.connection.fetchrow(
            """UPDATE notify.outbox SET status = 'sending', attempts = attempts + 1, claimed_at = $1,
                   claimed_by = $2, updated_at = $1, version = version + 1
               WHERE (agency, key) = (
                   SELECT agency, key FROM notify.outbox WHERE status = 'queued' AND not_before <= $1
                   ORDER BY urgent DESC, not_before, agency, key FOR UPDATE SKIP LOCKED LIMIT 1)
               RETURNING *""",
            now,
            claimant,
        )
        return _claimed(record) if record else None

    async def settle(
        self,
        key: str,
        now: datetime,
        *,
        status: Status,
        reason: str | None = None,
        provider: str | None = None,
        provider_message_id: str | None = None,
        not_before: datetime | None = None,
    ) -> None:
        await self.connection.execute(
            """UPDATE notify.outbox SET status = $2, reason = $3, provider = coalesce($4, provider),
                   provider_message_id = coalesce($5, provider_message_id),
                   sent_at = CASE WHEN $2 = 'sent' THEN $6 ELSE sent_at END,
                   not_before = coalesce($7, not_before), updated_at = $6, version = version + 1
               WHERE agency = $8 AND key = $1""",
            key,
            status,
            reason,
            provider,
            provider_message_id,
            now,
            not_before,
            self.agency,
        )

    async def postpone(self, key: str, now: datetime, not_before: datetime, reason: str) -> None:
        await self.connection.execute(
            "UPDATE notify.outbox SET attempts = attempts - 1 WHERE agency = $1 AND key = $2",
            self.agency,
            key,
        )
        await self.settle(key, now, status="queued", not_before=not_before, reason=reason)

    async def sent_to(self, phone: str, since: datetime) -> list[datetime]:
        rows = await self.connection.fetch(
            """SELECT sent_at FROM notify.outbox
               WHERE status = 'sent' AND phone = $1 AND sent_at > $2""",
            phone,
            since,
        )
        return [row["sent_at"] for row in rows]

    async def unsettled(
        self, claimed_before: datetime, seen_before: datetime, instance: str
    ) -> list[Claimed]:
        rows = await self.connection.fetch(
            """SELECT o.* FROM notify.outbox o
                   LEFT JOIN notify.instances i ON i.instance_id = o.claimed_by
               WHERE o.status = 'sending'
                 AND (o.claimed_at < $1
                      OR (o.claimed_by IS DISTINCT FROM $3
                          AND (i.seen_at IS NULL OR i.seen_at < $2)))
               ORDER BY o.agency, o.key""",
            claimed_before,
            seen_before,
            instance,
        )
        return [_claimed(r) for r in rows]

    async def seen(self, instance: str, now: datetime) -> None:
        await self.connection.execute(
            """INSERT INTO notify.instances (instance_id, seen_at) VALUES ($1, $2)
               ON CONFLICT (instance_id) DO UPDATE SET seen_at = EXCLUDED.seen_at""",
            instance,
            now,
        )
        await self.connection.execute(  # those gone long ago: their claims are settled by now
            "DELETE FROM notify.instances WHERE seen_at < $1", now - FORGET_INSTANCES_AFTER
        )

    async def gone(self, instance: str) -> None:
        await self.connection.execute(
            "DELETE FROM notify.instances WHERE instance_id = $1", instance
        )

    # --- schedules ------------------------------------------------------------------------

    async def claim_period(self, schedule: str, period: str) -> bool:
        claimed = await self.connection.fetchval(
            """INSERT INTO notify.schedule_runs (schedule, period, agency) VALUES ($1, $2, $3)
               ON CONFLICT DO NOTHING RETURNING true""",
            schedule,
            period,
            self.agency,
        )
        return bool(claimed)

    async def maxims_sent(self) -> dict[str, str]:
        rows = await self.connection.fetch(
            "SELECT maxim_id, last_sent_on FROM notify.maxim_rotation WHERE agency = $1",
            self.agency,
        )
        return {row["maxim_id"]: row["last_sent_on"] for row in rows}

    async def maxim_sent(self, maxim_id: str, day: str) -> None:
        await self.connection.execute(
            """INSERT INTO notify.maxim_rotation (maxim_id, last_sent_on, agency) VALUES ($1, $2, $3)
               ON CONFLICT (agency, maxim_id) DO UPDATE SET last_sent_on = EXCLUDED.last_sent_on""",
            maxim_id,
            day,
            self.agency,
        )

    async def keep_bulletin(self, document: Bulletin) -> None:
        await self.connection.execute(
            """INSERT INTO notify.bulletins (month, body, agency) VALUES ($1, $2, $3)
               ON CONFLICT (agency, month) DO NOTHING""",
            document.month,
            document.model_dump_json(),
            self.agency,
        )


class PostgresStores:
    """A store per transaction, each on a connection of the pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresStore]:
        async with self.pool.acquire() as connection, connection.transaction():
            yield PostgresStore(connection)


def _claimed(record: asyncpg.Record) -> Claimed:
    return Claimed(
        record["agency"],
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


# --- what the publisher reads: rows whose version is ahead of what was published -----------


@dataclass(frozen=True)
class Unpublished:
    """A row to publish at its version: its agency, its key on the topic, its record."""

    agency: str
    key: str
    body: bytes
    version: int


# each table the publisher reads: its key column, and how its row becomes a record
PUBLISHED_TABLES = {"outbox": "key", "tasks": "task_id", "bulletins": "month"}


async def claim_unpublished(
    connection: asyncpg.Connection, table: str, limit: int = 500
) -> list[Unpublished]:
    """Rows of `table` not yet published at their current version, locked until the caller's
    transaction ends: another notifier skips them (each version is published by one
    instance; by a second only if the first died between the broker's ack and its commit)."""
    key_column = PUBLISHED_TABLES[table]
    rows = await connection.fetch(
        f"""SELECT *, {key_column} AS published_key FROM notify.{table}
            WHERE version > published_version ORDER BY agency, {key_column}
            LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )
    return [
        Unpublished(
            r["agency"],
            r["published_key"],
            _notification(r).to_json() if table == "outbox" else r["body"].encode(),
            r["version"],
        )
        for r in rows
    ]


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
    connection: asyncpg.Connection, table: str, rows: Sequence[Unpublished]
) -> None:
    key_column = PUBLISHED_TABLES[table]
    await connection.executemany(
        f"""UPDATE notify.{table} SET published_version = $3
            WHERE agency = $1 AND {key_column} = $2 AND published_version < $3""",
        [(row.agency, row.key, row.version) for row in rows],
    )


async def outbox_depth(connection: asyncpg.Connection) -> dict[str, int]:
    """Messages in the outbox, by status."""
    rows = await connection.fetch("SELECT status, count(*) AS n FROM notify.outbox GROUP BY status")
    return {row["status"]: row["n"] for row in rows}
