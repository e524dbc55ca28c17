"""The gateway's read model of organisational life in PostgreSQL (issue 24): a meeting's record
and its attendance, the newest record by stamp holds in any order, in one batch or several."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

import asyncpg
import pytest

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import new_event, serialize_event
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.contracts.topics import EVENTS
from tests.integration.gateway.test_projector import connection, dsn, project, records

pytestmark = pytest.mark.integration
__all__ = ["connection", "dsn"]  # the fixtures of test_projector.py, a database of our own
AT = datetime(2026, 11, 30, 18, tzinfo=BUSINESS_TZ)


def record(attendees: tuple[str, ...], absentees: tuple[str, ...], granted: bool, n: int) -> bytes:
    data = ev.MeetingHeld(
        meeting_id="mt1", branch_id="b1", kind="committee", held_on=date(2026, 11, 30),
        topic=f"第{n}稿", attendees=attendees, absentees=absentees,
        leaves=(ev.MeetingLeave(member_id="m3", reason="出差", granted=granted),),
        recorded_by="m1",
    )  # fmt: skip
    event = new_event(data, source="/dashboard", time=AT + timedelta(minutes=n), event_id=f"e{n}")
    return serialize_event(event)


async def test_the_newest_record_of_a_meeting_holds_in_any_order(
    connection: asyncpg.Connection,
) -> None:
    first = record(("m1", "m2"), (), True, 1)
    corrected = record(("m1",), ("m2",), False, 2)  # m2 was absent after all, m3's leave refused
    for order in itertools.permutations([first, corrected]):
        for batches in ([list(order)], [[order[0]], [order[1]]]):
            await connection.execute("TRUNCATE gateway.meetings, gateway.meeting_presence")
            for batch in batches:
                await project(connection, records(EVENTS, batch))
            meeting = await connection.fetchrow(
                "SELECT topic, expected, attended, on_leave, absent FROM gateway.meetings"
            )
            assert tuple(meeting) == ("第2稿", 3, 1, 0, 2), (order, batches)
            presence = await connection.fetch(
                "SELECT member_id, presence, reason FROM gateway.meeting_presence ORDER BY 1"
            )
            assert [tuple(r) for r in presence] == [
                ("m1", "attended", None),
                ("m2", "absent", None),
                ("m3", "leave_refused", "出差"),
            ]
