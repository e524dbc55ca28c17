"""The scoring service: takes events into the engine, says what to store and what to publish.

No Kafka here: the faust worker (entrypoints) stores `Handled.ledger_entry` and `final_snapshot`
in its tables and sends `Outgoing` records. Publishing is incremental: `flush` recomputes the
quarters that events touched and returns only the messages whose content changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import new_event, parse_event
from mingdeng.contracts.derived import EventStatus, IndexScore, QuarterSelection, YearTopTen
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import Quarter
from mingdeng.contracts.topics import EVENT_STATUS, SCORES, SELECTIONS, Topic
from mingdeng.scoring.domain.engine import ScoringEngine
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.messages import (
    score_messages,
    selection_message,
    standings_from_messages,
    top_ten_from_message,
    top_ten_message,
)

SCORING_SOURCE = "/mingdeng/scoring"


@dataclass(frozen=True)
class Outgoing:
    topic: Topic
    key: str
    value: bytes


@dataclass(frozen=True)
class Handled:
    status: Outgoing
    ledger_key: str
    ledger_entry: bytes | None  # None: a duplicate, nothing new to store
    closed: Quarter | None
    final_snapshot: bytes | None


def ledger_key(event: Event[EventData]) -> str:
    return f"{event.source} {event.id}"


class ScoringService:
    def __init__(self, rules: Rules, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.engine = ScoringEngine(rules)
        self._clock = clock
        self._dirty: set[Quarter] = set()
        self._published: dict[tuple[str, str], bytes] = {}  # (topic, key) -> value
        self._running_since: datetime | None = None  # when the first event was received
        self._close_requested: set[Quarter] = set()
        self.restored = False  # set once the stored state has been read back
        self.progress = 0  # events handled so far, for the stall watchdog

    def handle(self, event: Event[EventData]) -> Handled:
        received_at = self._clock()
        self.progress += 1
        self._running_since = self._running_since or received_at
        outcome = self.engine.apply(event)
        self._dirty |= outcome.quarters
        if outcome.late_for is not None:
            self._dirty.add(outcome.late_for)
        status = EventStatus(
            source=event.source,
            id=event.id,
            type=event.type,
            status="rejected" if outcome.status == "rejected" else "applied",
            detail="duplicate"
            if outcome.status == "duplicate"
            else "late"
            if outcome.status == "late"
            else "new",
            reasons=[{"field": "data", "message": outcome.reason}]
            if outcome.status == "rejected" and outcome.reason
            else [],
            late_for=str(outcome.late_for) if outcome.late_for else None,
            at=received_at,
        )
        entry = None
        if outcome.status != "duplicate":
            entry = json.dumps(
                {
                    "event": event.to_cloudevent(),
                    "late_for": str(outcome.late_for) if outcome.late_for else None,
                    "received_at": received_at.isoformat(),
                },
                ensure_ascii=False,
            ).encode()
        snapshot = self._snapshot(outcome.closed) if outcome.closed else None
        return Handled(
            status=Outgoing(EVENT_STATUS, status.key, status.to_json()),
            ledger_key=ledger_key(event),
            ledger_entry=entry,
            closed=outcome.closed,
            final_snapshot=snapshot,
        )

    def restore(self, ledger: Iterable[bytes], finals: Iterable[bytes]) -> None:
        """Rebuild from the stored ledger and final snapshots (after a restart or rebalance)."""
        self.engine = ScoringEngine(self.engine.rules)
        self._running_since = None
        for raw in ledger:
            entry = json.loads(raw)
            received_at = datetime.fromisoformat(entry["received_at"])
            if self._running_since is None or received_at < self._running_since:
                self._running_since = received_at
            late_for = Quarter.parse(entry["late_for"]) if entry["late_for"] else None
            self.engine.restore(parse_event(entry["event"], latest=True), late_for)
        for raw in finals:
            snapshot = json.loads(raw)
            scores = [IndexScore.model_validate(s) for s in snapshot["scores"]]
            selection = QuarterSelection.model_validate(snapshot["selection"])
            top_ten = (
                YearTopTen.model_validate(snapshot["top_ten"]) if snapshot["top_ten"] else None
            )
            standings = standings_from_messages(scores, selection)
            self.engine.restore_final(standings, top_ten_from_message(top_ten) if top_ten else None)
        self._dirty |= set(self.engine.quarters())
        self._published.clear()
        self.restored = True

    def flush(self) -> list[Outgoing]:
        """Messages for what changed since the last flush."""
        if not self._dirty:
            return []
        quarters, self._dirty = sorted(self._dirty), set()
        candidates: list[Outgoing] = []
        for quarter in quarters:
            standings = self.engine.standings(quarter)
            for score in score_messages(standings):
                candidates.append(Outgoing(SCORES, score.key, score.to_json()))
            selection = selection_message(standings, self.engine.late.get(quarter, []))
            candidates.append(Outgoing(SELECTIONS, selection.key, selection.to_json()))
        for year in sorted({q.year for q in quarters}):
            top_ten = top_ten_message(self.engine.top_ten(year))
            candidates.append(Outgoing(SELECTIONS, top_ten.key, top_ten.to_json()))
        changed = [o for o in candidates if self._published.get((o.topic.name, o.key)) != o.value]
        self._published.update({(o.topic.name, o.key): o.value for o in changed})
        return changed

    def due_closes(self, now: datetime) -> list[Event[EventData]]:
        """`quarter.closed` events the platform issues itself, for quarters that ended while it
        ran (since it received its first event). Their ids make them idempotent."""
        if self._running_since is None:
            return []
        due = [
            quarter
            for quarter in self.engine.quarters_due_to_close(now, self._running_since)
            if quarter not in self._close_requested
        ]
        self._close_requested.update(due)
        return [
            new_event(
                ev.QuarterClosed(quarter=str(quarter)),
                source=SCORING_SOURCE,
                time=now,
                event_id=f"close-{quarter}",
            )
            for quarter in due
        ]

    def _snapshot(self, quarter: Quarter) -> bytes:
        standings = self.engine.standings(quarter)
        top_ten = self.engine.final_top_ten.get(quarter.year) if quarter.number == 4 else None
        document: dict[str, Any] = {
            "scores": [s.model_dump(mode="json") for s in score_messages(standings)],
            "selection": selection_message(standings, []).model_dump(mode="json"),
            "top_ten": top_ten_message(top_ten).model_dump(mode="json") if top_ten else None,
        }
        return json.dumps(document, ensure_ascii=False).encode()
