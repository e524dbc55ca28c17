"""Lectures (讲堂): each as scheduled (the newest schedule by time) and its earliest delivery,
and who attended (the first attendance of each member stays)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import EventBatch, EventReadModel


class LectureBatch(EventBatch):
    def __init__(self) -> None:
        self.schedules: list[tuple[object, ...]] = []
        self.deliveries: list[tuple[str, datetime, str]] = []
        self.attendances: list[tuple[str, str, datetime]] = []

    def scheduled(self, event: Event[ev.LectureScheduled]) -> None:
        data = event.data
        self.schedules.append(
            (
                data.lecture_id,
                data.date,
                data.module,
                data.theme,
                data.title,
                data.speaker_id,
                event.time,
            )
        )

    def delivered(self, event: Event[ev.LectureDelivered]) -> None:
        self.deliveries.append((event.data.lecture_id, event.time, event.data.speaker_id))

    def attended(self, event: Event[ev.LectureAttended]) -> None:
        self.attendances.append((event.data.lecture_id, event.data.member_id, event.time))

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        if self.schedules:
            await connection.executemany(
                """INSERT INTO lectures
                       (lecture_id, date, module, theme, title, speaker_id, scheduled_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (lecture_id) DO UPDATE SET date = EXCLUDED.date,
                       module = EXCLUDED.module, theme = EXCLUDED.theme, title = EXCLUDED.title,
                       speaker_id = EXCLUDED.speaker_id, scheduled_at = EXCLUDED.scheduled_at
                   WHERE lectures.scheduled_at IS NULL
                      OR lectures.scheduled_at <= EXCLUDED.scheduled_at""",
                self.schedules,
            )
        if self.deliveries:
            await connection.executemany(
                """INSERT INTO lectures (lecture_id, delivered_at, delivered_by)
                   VALUES ($1, $2, $3)
                   ON CONFLICT (lecture_id) DO UPDATE SET delivered_at = EXCLUDED.delivered_at,
                       delivered_by = EXCLUDED.delivered_by
                   WHERE lectures.delivered_at IS NULL
                      OR lectures.delivered_at > EXCLUDED.delivered_at""",
                self.deliveries,
            )
        if self.attendances:  # one statement for the batch: there are many
            await connection.execute(
                """INSERT INTO attendances
                   SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
                   ON CONFLICT DO NOTHING""",
                *map(list, zip(*self.attendances, strict=True)),
            )
        return set()


READ_MODEL = EventReadModel(
    tables=("lectures", "attendances"),
    batch=LectureBatch,
    reads={
        ev.LectureScheduled: LectureBatch.scheduled,
        ev.LectureDelivered: LectureBatch.delivered,
        ev.LectureAttended: LectureBatch.attended,
    },
)
