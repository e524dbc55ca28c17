"""The work people do on the pages (issue 23), read from the log: violations and retractions
(what a member may appeal), appeals and their decisions, members' reports and whether their
secretary confirmed them (the queue of /branch), talks held, and how far each member has read
their messages. The first decision of an appeal or a report holds; later ones change nothing
(a decision and its filing share a subject, the member, so they arrive in order)."""

from __future__ import annotations

from itertools import groupby

import asyncpg

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import EventBatch, EventReadModel

VIOLATION = """
    INSERT INTO violations (violation_id, member_id, rule, description, inspector_id, time)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (violation_id) DO UPDATE SET member_id = EXCLUDED.member_id,
        rule = EXCLUDED.rule, description = EXCLUDED.description,
        inspector_id = EXCLUDED.inspector_id, time = EXCLUDED.time
    WHERE EXCLUDED.time < violations.time"""  # the earliest, as the notifier keeps it
RETRACTION = """
    INSERT INTO retractions (violation_id, reason, time) VALUES ($1, $2, $3)
    ON CONFLICT (violation_id) DO UPDATE SET reason = EXCLUDED.reason, time = EXCLUDED.time
    WHERE EXCLUDED.time < retractions.time"""
APPEAL = """
    INSERT INTO appeals (appeal_id, violation_id, member_id, reason, filed_at)
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"""
APPEAL_DECIDED = """
    UPDATE appeals SET status = $2, decision_reason = $3, decided_at = $4,
        decided_by = $5, decided_role = $6
    WHERE appeal_id = $1 AND status = 'pending'"""
REPORT = """
    INSERT INTO reports (report_id, member_id, kind, happened_on, household_id, title,
        minutes, notes, submitted_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"""
REPORT_DECIDED = """
    UPDATE reports SET status = $2, decision_reason = $3, decided_at = $4,
        decided_by = $5, counted_as = $6
    WHERE report_id = $1 AND status = 'pending'"""
TALK = """
    INSERT INTO talks (talk_id, host_id, member_id, category, reason, note, time,
        source, id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"""
INBOX_READ = """
    INSERT INTO inbox_reads (member_id, read_until) VALUES ($1, $2)
    ON CONFLICT (member_id) DO UPDATE
    SET read_until = GREATEST(inbox_reads.read_until, EXCLUDED.read_until)"""


def actor(event: Event[ev.EventData]) -> str:
    """Who did it: the dashboard's `actor`, or the publishing system."""
    found = event.extensions.get("actor")
    return found if isinstance(found, str) else event.source


class WorkBatch(EventBatch):
    def __init__(self) -> None:
        # statements in the order read: a decision after its filing in the same batch
        self.rows: list[tuple[str, tuple[object, ...]]] = []

    def violation(self, event: Event[ev.ViolationLogged]) -> None:
        d = event.data
        self.rows.append((VIOLATION, (d.violation_id, d.member_id, d.rule, d.description,
                                      d.inspector_id, event.time)))  # fmt: skip

    def retraction(self, event: Event[ev.ViolationRetracted]) -> None:
        d = event.data
        self.rows.append((RETRACTION, (d.violation_id, d.reason, event.time)))

    def appeal(self, event: Event[ev.AppealFiled]) -> None:
        d = event.data
        self.rows.append((APPEAL, (d.appeal_id, d.violation_id, d.member_id, d.reason,
                                   event.time)))  # fmt: skip

    def upheld(self, event: Event[ev.AppealUpheld]) -> None:
        self._appeal_decided(event, "upheld")

    def rejected(self, event: Event[ev.AppealRejected]) -> None:
        self._appeal_decided(event, "rejected")

    def _appeal_decided(
        self, event: Event[ev.AppealUpheld | ev.AppealRejected], status: str
    ) -> None:
        role = event.extensions.get("actorrole")
        self.rows.append((APPEAL_DECIDED, (event.data.appeal_id, status, event.data.reason,
                                           event.time, actor(event),
                                           role if isinstance(role, str) else None)))  # fmt: skip

    def report(self, event: Event[ev.ReportSubmitted]) -> None:
        d = event.data
        self.rows.append((REPORT, (d.report_id, d.member_id, d.kind, d.happened_on,
                                   d.household_id, d.title, d.minutes, d.notes,
                                   event.time)))  # fmt: skip

    def confirmed(self, event: Event[ev.ReportConfirmed]) -> None:
        d = event.data
        self.rows.append((REPORT_DECIDED, (d.report_id, "confirmed", None, event.time,
                                           actor(event), d.counted_as)))  # fmt: skip

    def report_rejected(self, event: Event[ev.ReportRejected]) -> None:
        d = event.data
        self.rows.append((REPORT_DECIDED, (d.report_id, "rejected", d.reason, event.time,
                                           actor(event), None)))  # fmt: skip

    def talk(self, event: Event[ev.TalkHeld]) -> None:
        d = event.data
        self.rows.append((TALK, (d.talk_id, d.host_id, d.member_id, d.category, d.reason,
                                 d.note, event.time, event.source, event.id)))  # fmt: skip

    def inbox_read(self, event: Event[ev.InboxRead]) -> None:
        self.rows.append((INBOX_READ, (event.data.member_id, event.data.read_until)))

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        """One pipelined executemany per run of rows of one statement, in the order read."""
        for sql, run in groupby(self.rows, key=lambda statement: statement[0]):
            await connection.executemany(sql, [row for _, row in run])
        return set()


READ_MODEL = EventReadModel(
    tables=("violations", "retractions", "appeals", "reports", "talks", "inbox_reads"),
    batch=WorkBatch,
    reads={
        ev.ViolationLogged: WorkBatch.violation,
        ev.ViolationRetracted: WorkBatch.retraction,
        ev.AppealFiled: WorkBatch.appeal,
        ev.AppealUpheld: WorkBatch.upheld,
        ev.AppealRejected: WorkBatch.rejected,
        ev.ReportSubmitted: WorkBatch.report,
        ev.ReportConfirmed: WorkBatch.confirmed,
        ev.ReportRejected: WorkBatch.report_rejected,
        ev.TalkHeld: WorkBatch.talk,
        ev.InboxRead: WorkBatch.inbox_read,
    },
)
