"""The report's practice (issue 24), read from the log: rounds of 党性体检 and each member's
political health card (政治“保健卡”) with its review, and 支部结对共建 with the activities held
together. A card filled again replaces its answers until it is reviewed; the first review
holds (a card and its review share a subject, the member, so they arrive in order)."""

from __future__ import annotations

from itertools import groupby

import asyncpg

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import EventBatch, EventReadModel

ROUND = """
    INSERT INTO health_card_rounds (round_id, title, questions, closes_on, opened_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (round_id) DO UPDATE SET title = EXCLUDED.title, questions = EXCLUDED.questions,
        closes_on = EXCLUDED.closes_on, opened_at = EXCLUDED.opened_at
    WHERE EXCLUDED.opened_at >= health_card_rounds.opened_at"""  # the newest word holds
CARD = """
    INSERT INTO health_cards (round_id, member_id, answers, filled_at)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (round_id, member_id) DO UPDATE SET answers = EXCLUDED.answers,
        filled_at = EXCLUDED.filled_at
    WHERE health_cards.reviewed_at IS NULL"""
REVIEW = """
    UPDATE health_cards SET reviewer_id = $3, comment = $4, reviewed_at = $5
    WHERE round_id = $1 AND member_id = $2 AND reviewed_at IS NULL"""
PAIRING = """
    INSERT INTO branch_pairings (pairing_id, branch_id, partner, partner_kind, since, time)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (pairing_id) DO UPDATE SET branch_id = EXCLUDED.branch_id,
        partner = EXCLUDED.partner, partner_kind = EXCLUDED.partner_kind,
        since = EXCLUDED.since, time = EXCLUDED.time
    WHERE EXCLUDED.time >= branch_pairings.time"""
ACTIVITY = """
    INSERT INTO pairing_activities (activity_id, pairing_id, held_on, title,
        participants, notes, time)
    VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"""


class PracticeBatch(EventBatch):
    def __init__(self) -> None:
        self.rows: list[tuple[str, tuple[object, ...]]] = []  # in the order read

    def round_opened(self, event: Event[ev.HealthCardRoundOpened]) -> None:
        d = event.data
        self.rows.append((ROUND, (d.round_id, d.title, list(d.questions), d.closes_on,
                                  event.time)))  # fmt: skip

    def filled(self, event: Event[ev.HealthCardFilled]) -> None:
        d = event.data
        self.rows.append((CARD, (d.round_id, d.member_id, list(d.answers), event.time)))

    def reviewed(self, event: Event[ev.HealthCardReviewed]) -> None:
        d = event.data
        self.rows.append((REVIEW, (d.round_id, d.member_id, d.reviewer_id, d.comment,
                                   event.time)))  # fmt: skip

    def paired(self, event: Event[ev.BranchPaired]) -> None:
        d = event.data
        self.rows.append((PAIRING, (d.pairing_id, d.branch_id, d.partner, d.partner_kind,
                                    d.since, event.time)))  # fmt: skip

    def activity(self, event: Event[ev.PairingActivityHeld]) -> None:
        d = event.data
        self.rows.append((ACTIVITY, (d.activity_id, d.pairing_id, d.held_on, d.title,
                                     list(d.participants), d.notes, event.time)))  # fmt: skip

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        """One pipelined executemany per run of rows of one statement, in the order read."""
        for sql, run in groupby(self.rows, key=lambda statement: statement[0]):
            await connection.executemany(sql, [row for _, row in run])
        return set()


READ_MODEL = EventReadModel(
    tables=("health_card_rounds", "health_cards", "branch_pairings", "pairing_activities"),
    batch=PracticeBatch,
    reads={
        ev.HealthCardRoundOpened: PracticeBatch.round_opened,
        ev.HealthCardFilled: PracticeBatch.filled,
        ev.HealthCardReviewed: PracticeBatch.reviewed,
        ev.BranchPaired: PracticeBatch.paired,
        ev.PairingActivityHeld: PracticeBatch.activity,
    },
)
