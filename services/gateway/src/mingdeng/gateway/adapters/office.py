"""Reads for the office (admin): what upstream sent that was refused (the dead letters the
projector keeps in dead_letters, the events scoring rejected in event_status),
newest first; and who speaks at the lectures."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import asyncpg

from mingdeng.gateway.domain.rotation import Scheduled, Speaker

PREVIEW_CHARS = 2000


async def dead_letters(
    connection: asyncpg.Connection, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    total = await connection.fetchval("SELECT count(*) FROM dead_letters")
    rows = await connection.fetch(
        """SELECT topic, partition, "offset", body, reason, redriven_at
           FROM dead_letters
           ORDER BY body->>'failed_at' DESC, topic, partition, "offset" DESC
           LIMIT $1 OFFSET $2""",
        limit,
        offset,
    )
    items = []
    for row in rows:
        letter = json.loads(row["body"])
        raw = str(letter.get("raw", ""))
        items.append(
            {
                "ref": f"d:{row['topic']}:{row['partition']}:{row['offset']}",
                "consumer": letter.get("consumer"),
                "topic": letter.get("topic", row["topic"]),
                "partition": letter.get("partition", row["partition"]),
                "offset": letter.get("offset", row["offset"]),
                "key": letter.get("key"),
                "kind": row["reason"],
                "reasons": letter.get("reasons", []),
                "failed_at": letter.get("failed_at"),
                "redriven_at": row["redriven_at"],
                "raw_preview": raw[:PREVIEW_CHARS],
                "raw_chars": len(raw),
            }
        )
    return total, items


async def rejected_events(
    connection: asyncpg.Connection, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    total = await connection.fetchval("SELECT count(*) FROM event_status WHERE status = 'rejected'")
    rows = await connection.fetch(
        """SELECT body FROM event_status WHERE status = 'rejected'
           ORDER BY body->>'at' DESC, source, id LIMIT $1 OFFSET $2""",
        limit,
        offset,
    )
    fields = ("source", "id", "type", "reasons", "at")
    return total, [{k: json.loads(r["body"]).get(k) for k in fields} for r in rows]


async def speakers(
    connection: asyncpg.Connection, today: date
) -> tuple[list[Speaker], list[tuple[str, datetime]], list[Scheduled]]:
    """The roster (active party members), every delivery (in business time) and the lectures
    scheduled from `today` on that are not delivered yet."""
    roster = await connection.fetch(
        """SELECT member_id, name, department_id FROM active_members
           WHERE party_member ORDER BY member_id"""
    )
    delivered = await connection.fetch(
        """SELECT delivered_by, delivered_at AT TIME ZONE 'Asia/Shanghai' AS delivered_at
           FROM lectures WHERE delivered_at IS NOT NULL AND delivered_by IS NOT NULL"""
    )
    scheduled = await connection.fetch(
        """SELECT lecture_id, date, title, speaker_id FROM lectures
           WHERE delivered_at IS NULL AND date >= $1 AND speaker_id IS NOT NULL""",
        today,
    )
    return (
        [Speaker(r["member_id"], r["name"], r["department_id"]) for r in roster],
        [(r["delivered_by"], r["delivered_at"]) for r in delivered],
        [
            Scheduled(r["lecture_id"], r["date"], r["title"] or "", r["speaker_id"])
            for r in scheduled
        ],
    )
