"""Organisational life (issue 24) read from the log: each branch's meetings (三会一课, 主题党日)
and how each member expected took part, and the frontline secondments (一线锻炼). The newest
record of a meeting or a secondment by stamp `(time, source, id)` holds; a meeting's presence
rows are those of the record that holds. Whether a branch is 未按期 is the notifier's rule: the
pages read it from its `meeting` tasks."""

from __future__ import annotations

import asyncpg

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import EventBatch, EventReadModel

NEWER = """(EXCLUDED.time, EXCLUDED.source COLLATE "C", EXCLUDED.id COLLATE "C")
    > ({table}.time, {table}.source COLLATE "C", {table}.id COLLATE "C")"""
MEETING = f"""
    INSERT INTO meetings (meeting_id, branch_id, kind, held_on, topic, minutes,
        recorded_by, expected, attended, on_leave, absent, time, source, id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
    ON CONFLICT (meeting_id) DO UPDATE SET branch_id = EXCLUDED.branch_id,
        kind = EXCLUDED.kind, held_on = EXCLUDED.held_on, topic = EXCLUDED.topic,
        minutes = EXCLUDED.minutes, recorded_by = EXCLUDED.recorded_by,
        expected = EXCLUDED.expected, attended = EXCLUDED.attended,
        on_leave = EXCLUDED.on_leave, absent = EXCLUDED.absent, time = EXCLUDED.time,
        source = EXCLUDED.source, id = EXCLUDED.id
    WHERE {NEWER.format(table="meetings")}
    RETURNING true"""
FORGET_PRESENCE = "DELETE FROM meeting_presence WHERE meeting_id = $1"
PRESENCE = """
    INSERT INTO meeting_presence (meeting_id, member_id, presence, reason, held_on)
    VALUES ($1, $2, $3, $4, $5)"""
SECONDMENT = f"""
    INSERT INTO secondments (secondment_id, member_id, post, campaign, from_on,
        until_on, time, source, id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (secondment_id) DO UPDATE SET member_id = EXCLUDED.member_id,
        post = EXCLUDED.post, campaign = EXCLUDED.campaign, from_on = EXCLUDED.from_on,
        until_on = EXCLUDED.until_on, time = EXCLUDED.time, source = EXCLUDED.source,
        id = EXCLUDED.id
    WHERE {NEWER.format(table="secondments")}"""


def presence_rows(data: ev.MeetingHeld) -> list[tuple[object, ...]]:
    """(meeting, member, presence, reason of a leave, day) of everyone the record names."""
    day = data.held_on
    return [
        *((data.meeting_id, m, "attended", None, day) for m in data.attendees),
        *(
            (data.meeting_id, leave.member_id,
             "leave_granted" if leave.granted else "leave_refused", leave.reason, day)
            for leave in data.leaves
        ),
        *((data.meeting_id, m, "absent", None, day) for m in data.absentees),
    ]  # fmt: skip


class OrganisationLifeBatch(EventBatch):
    def __init__(self) -> None:
        self.meetings: list[Event[ev.MeetingHeld]] = []
        self.secondments: list[tuple[object, ...]] = []

    def meeting(self, event: Event[ev.MeetingHeld]) -> None:
        self.meetings.append(event)

    def secondment(self, event: Event[ev.SecondmentAssigned]) -> None:
        d = event.data
        self.secondments.append((d.secondment_id, d.member_id, d.post, d.campaign, d.from_on,
                                 d.until_on, event.time, event.source, event.id))  # fmt: skip

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        for event in self.meetings:  # a few a day: a statement each, so the newest holds
            d = event.data
            refused = sum(1 for leave in d.leaves if not leave.granted)
            held = await connection.fetchval(
                MEETING, d.meeting_id, d.branch_id, d.kind, d.held_on, d.topic, d.minutes,
                d.recorded_by, len(d.attendees) + len(d.leaves) + len(d.absentees),
                len(d.attendees), len(d.leaves) - refused, len(d.absentees) + refused,
                event.time, event.source, event.id,
            )  # fmt: skip
            if held:
                await connection.execute(FORGET_PRESENCE, d.meeting_id)
                await connection.executemany(PRESENCE, presence_rows(d))
        if self.secondments:
            await connection.executemany(SECONDMENT, self.secondments)
        return set()


READ_MODEL = EventReadModel(
    tables=("meetings", "meeting_presence", "secondments"),
    batch=OrganisationLifeBatch,
    reads={
        ev.MeetingHeld: OrganisationLifeBatch.meeting,
        ev.SecondmentAssigned: OrganisationLifeBatch.secondment,
    },
)
