"""The scoring service: inbound records in, the records to publish out. No Kafka here.

The worker feeds `take` the records of `mingdeng.events.v1` as it reads them, partition by
partition in offset order, and publishes what `take` and `publish_changes` return together with
`next_offsets` in one Kafka transaction. Replay and recovery feed the same methods.

A quarter closes behind a barrier. Whoever accepts a `quarter.closed` (the gateway, or scoring
itself when a quarter is due) writes a copy of it to every partition, marked with the
`BARRIER_HEADER`. A partition that reaches a copy is held there; when every partition has reached
its copy the quarter closes, and the held partitions go on. So the final standings hold exactly
the events that precede the copies: everything accepted before the close, whatever the
interleaving of partitions or the load. A close that arrives without the header (published
straight to Kafka) gets its copies written by scoring; so does a barrier still incomplete after
`barrier_timeout` (a publisher that died half-way).
"""

from __future__ import annotations

import copy
import json
import logging
import pickle
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mingdeng.contracts import events as ev
from mingdeng.contracts.closing import early_close_reason
from mingdeng.contracts.codec import new_event, parse_record, record_identity, serialize_event
from mingdeng.contracts.derived import (
    Contribution,
    DeadLetter,
    EventRef,
    EventStatus,
    IndexScore,
    QuarterSelection,
    RankingChunk,
    RankingSizes,
    SelectedDepartment,
    SelectedMember,
    TopTenMember,
    YearTopTen,
    ranking_chunks,
)
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import Quarter
from mingdeng.contracts.topics import (
    BARRIER_HEADER,
    DEAD_LETTER,
    EVENT_STATUS,
    EVENTS,
    RANKINGS,
    SCORES,
    SELECTIONS,
    Topic,
)
from mingdeng.scoring.domain.engine import Outcome, ScoringEngine
from mingdeng.scoring.domain.indices import FortressScore, VanguardScore
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.domain.snapshots import finals_from, snapshot_of
from mingdeng.scoring.domain.standings import QuarterStandings, Status, TopTen

SCORING_SOURCE = "/mingdeng/scoring"
log = logging.getLogger(__name__)
CHECKPOINT_FORMAT = 5  # bump when the engine's state changes shape: old states are replayed
Header = tuple[str, bytes]


@dataclass(frozen=True)
class InboundRecord:
    """One record of the inbound log, as Kafka gave it."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: tuple[Header, ...] = ()

    @property
    def is_barrier_copy(self) -> bool:
        return any(name == BARRIER_HEADER for name, _ in self.headers)


@dataclass(frozen=True)
class Publication:
    """A record to publish. `value` None is a tombstone; `partition` None means by key."""

    topic: Topic
    key: bytes
    value: bytes | None
    partition: int | None = None
    headers: tuple[Header, ...] = ()


@dataclass
class PendingClose:
    """A quarter's close waiting at its barrier. Two closes of one quarter share it: each
    partition's cut is the first copy of either."""

    quarter: Quarter
    events: dict[tuple[str, str], Event[EventData]]  # in the order they were read
    reached: dict[int, int]  # partition -> offset of its copy
    since: datetime
    copies_written: bool

    @property
    def event(self) -> Event[EventData]:
        return next(iter(self.events.values()))


@dataclass
class Sequencing:
    """Where the service stands in the inbound log (what a checkpoint must keep)."""

    next_offsets: dict[int, int] = field(default_factory=dict)
    completed_closes: set[tuple[str, str]] = field(default_factory=set)


def barrier_copies(event: Event[EventData], partitions: Iterable[int]) -> list[Publication]:
    """A close as it is published: one copy on every partition, each marked as a barrier."""
    value = serialize_event(event)
    return [
        Publication(EVENTS, event.subject.encode(), value, p, ((BARRIER_HEADER, b"1"),))
        for p in partitions
    ]


class ScoringService:
    def __init__(
        self,
        rules: Rules,
        partitions: int,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        barrier_timeout: timedelta = timedelta(seconds=60),
        selection_interval: timedelta = timedelta(0),
        keep_closed_years: bool = False,
        statuses: bool = True,
        inbound_topic: str = EVENTS.name,
    ) -> None:
        """`statuses=False`: a replay that needs only the standings builds no status.
        `selection_interval`: scores are published as they change; a quarter's selection and
        ranking order, and a year's provisional top ten, at most this often (each is a
        message about the whole quarter or year)."""
        self.engine = ScoringEngine(rules, keep_closed_years=keep_closed_years)
        self._statuses = statuses
        self._inbound_topic = inbound_topic  # as dead letters name it: where a re-drive goes
        self.partitions = partitions
        self.sequencing = Sequencing()
        self._clock = clock
        self._barrier_timeout = barrier_timeout
        self._pending: dict[Quarter, PendingClose] = {}
        self._blocked_by: dict[int, Quarter] = {}
        self._held: dict[int, deque[InboundRecord]] = {}
        self._silent_below: dict[int, int] = {}
        self._close_requested: set[Quarter] = set()
        self._last_selection: dict[bytes, bytes] = {}  # open quarters and years only
        self._last_chunks: dict[str, set[str]] = {}  # keys of each open quarter's chunks
        self._selection_interval = selection_interval
        self._selections_owed: set[Quarter] = set()
        self._top_tens_owed: set[int] = set()
        self._selections_sent_at: datetime | None = None
        self.taken = 0  # records taken so far
        # False after the dead-letter topic refused a letter (a broker whose limit is below
        # the producer's): letters then keep a reference to the record, not the record
        self.whole_dead_letters = True

    # --- the inbound log ------------------------------------------------------------------

    # --- checkpoints --------------------------------------------------------------------

    def checkpoint(self) -> bytes:
        """The state as of `next_offsets`: take it between two transactions. The finals go
        beside it as plain data (`snapshots`), readable whatever code or rules come next."""
        engine = copy.copy(self.engine)
        engine.finals, engine.final_top_ten = {}, {}
        finals = snapshot_of(self.engine.finals, self.engine.final_top_ten)
        return pickle.dumps(
            {
                "format": CHECKPOINT_FORMAT,
                "rules_version": self.engine.rules.version,
                "finals": json.dumps(finals).encode(),
                "state": pickle.dumps((engine, self.sequencing), pickle.HIGHEST_PROTOCOL),
            },
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    def restore(self, blob: bytes) -> bool:
        """Take the state of a checkpoint written by this version with the same rules;
        False (and nothing changed) for any other: see `keep_finals_of`."""
        outer = _checkpoint(blob)
        if outer.get("format") != CHECKPOINT_FORMAT:
            return False
        if outer.get("rules_version") != self.engine.rules.version:
            return False
        finals, top_tens = finals_from(json.loads(outer["finals"]))
        engine, sequencing = pickle.loads(outer["state"])
        engine.rules = self.engine.rules
        engine.finals, engine.final_top_ten = finals, top_tens
        engine.forget_published()
        self.engine, self.sequencing = engine, sequencing
        return True

    def keep_finals_of(self, blob: bytes) -> int:
        """For a replay from the start after a checkpoint this service cannot resume from
        (other rules, another version): the finals it holds are taken as they are when their
        quarter's close is replayed, not computed again. How many quarters."""
        finals = _checkpoint(blob).get("finals")
        if finals is None:
            return 0
        self.engine.frozen, self.engine.frozen_top_ten = finals_from(json.loads(finals))
        return len(self.engine.frozen)

    @property
    def replaying(self) -> bool:
        return any(
            self.sequencing.next_offsets.get(p, 0) < offset
            for p, offset in self._silent_below.items()
        )

    @property
    def has_unpublished_changes(self) -> bool:
        """Whether `publish_changes` would publish anything now."""
        return self.engine.has_changes or self._selections_due()

    @property
    def owes_publications(self) -> bool:
        """Whether `publish_changes(everything=True)` would publish anything."""
        return self.engine.has_changes or bool(self._selections_owed or self._top_tens_owed)

    def _selections_due(self) -> bool:
        return bool(self._selections_owed or self._top_tens_owed) and (
            self._selections_sent_at is None
            or self._clock() - self._selections_sent_at >= self._selection_interval
        )

    @property
    def blocked_partitions(self) -> set[int]:
        """Partitions held at a barrier: the reader should pause them."""
        return set(self._blocked_by)

    def next_offsets(self) -> dict[int, int]:
        return dict(self.sequencing.next_offsets)

    def replaying_until(self, offsets: dict[int, int]) -> None:
        """Records below these offsets were taken before (recovery): rebuild state from them
        without their statuses and dead letters again. What they change in the standings is
        published once the replay is over (the same values again, unless a later record changed
        them; a quarter closed during the replay is not published again)."""
        self._silent_below = dict(offsets)

    def take(self, records: Iterable[InboundRecord]) -> list[Publication]:
        out: list[Publication] = []
        for record in records:
            self._take(record, out)
        return out

    def _take(self, record: InboundRecord, out: list[Publication]) -> None:
        partition = record.partition
        if partition in self._blocked_by:
            self._held.setdefault(partition, deque()).append(record)
            return
        self.taken += 1
        silent = record.offset < self._silent_below.get(partition, -1)
        sink: list[Publication] = [] if silent else out
        at = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
        if self.engine.running_since is None:
            self.engine.running_since = at
        try:
            event = parse_record(record.value, record.headers, record.key, now=at)
        except InvalidEvent as error:
            sink.extend(self._rejection(record, error))
            self._advance(partition, record.offset)
            return
        if isinstance(event.data, ev.QuarterClosed):
            self._take_close(record, event, sink, out)
            return
        outcome = self.engine.apply(event)
        if outcome.status != "duplicate" and not silent and self._statuses:
            sink.append(self._status(event, outcome))
        self._advance(partition, record.offset)

    def _advance(self, partition: int, offset: int) -> None:
        self.sequencing.next_offsets[partition] = offset + 1

    def _take_close(
        self,
        record: InboundRecord,
        event: Event[EventData],
        sink: list[Publication],
        out: list[Publication],
    ) -> None:
        """`sink` takes what this record causes (nothing while replaying it); records held at
        the barrier, released here, decide for themselves and go to `out`."""
        assert isinstance(event.data, ev.QuarterClosed)
        quarter = Quarter.parse(event.data.quarter)
        if event.key in self.sequencing.completed_closes:
            self._advance(record.partition, record.offset)  # another copy of a close taken
            return
        refused = event.time < quarter.end and early_close_reason(event) is None
        if quarter in self.engine.closed or refused:
            self._complete([event], sink)  # nothing to wait for: already closed, or refused
            self._advance(record.partition, record.offset)
            return
        pending = self._pending.get(quarter)
        if pending is None:
            pending = self._pending[quarter] = PendingClose(quarter, {}, {}, self._clock(), False)
        pending.events.setdefault(event.key, event)
        pending.reached[record.partition] = record.offset
        self._blocked_by[record.partition] = quarter
        self.sequencing.next_offsets[record.partition] = record.offset  # the copy is not taken yet
        if not record.is_barrier_copy and not pending.copies_written:
            sink.extend(barrier_copies(event, self._unreached(pending)))
            pending.copies_written = True
        if len(pending.reached) == self.partitions:
            self._release(pending, sink, out)
        else:
            self._break_deadlock(sink, out)

    def _unreached(self, pending: PendingClose) -> list[int]:
        return [p for p in range(self.partitions) if p not in pending.reached]

    def _break_deadlock(self, sink: list[Publication], out: list[Publication]) -> None:
        """Copies of closes of two quarters written by two writers at once can cross: close X
        is first on one partition, close Y on another, and each waits for a partition the
        other holds. Then the close of the earlier quarter takes, on the partitions the other
        holds, the other's copy as its cut (what lies between is late for it); decided by the
        log alone, so a replay decides alike."""
        waits_for = {
            quarter: {
                self._blocked_by[p] for p in self._unreached(pending) if p in self._blocked_by
            }
            for quarter, pending in self._pending.items()
        }
        cycle = _cycle(waits_for)
        if not cycle:
            return
        pending = self._pending[min(cycle)]
        for partition in self._unreached(pending):
            if partition in self._blocked_by:
                held_at = self._pending[self._blocked_by[partition]].reached[partition]
                pending.reached.setdefault(partition, held_at)
        if len(pending.reached) == self.partitions:
            self._release(pending, sink, out)

    def _release(
        self, pending: PendingClose, sink: list[Publication], out: list[Publication]
    ) -> None:
        del self._pending[pending.quarter]
        self._complete(list(pending.events.values()), sink)
        released = [p for p, q in self._blocked_by.items() if q == pending.quarter]
        for partition in released:
            del self._blocked_by[partition]
            self._advance(partition, pending.reached[partition])
        for partition in sorted(released):
            held = self._held.get(partition)
            while held and partition not in self._blocked_by:
                self._take(held.popleft(), out)

    def _complete(self, closes: list[Event[EventData]], out: list[Publication]) -> None:
        """The first close takes effect (or is refused); any other of the same quarter finds
        it closed. Each gets one status."""
        for event in closes:
            assert isinstance(event.data, ev.QuarterClosed)
            outcome = self.engine.close(
                Quarter.parse(event.data.quarter), event.time, early_close_reason(event)
            )
            self.sequencing.completed_closes.add(event.key)
            out.append(self._status(event, outcome))
            if outcome.closed is not None:
                out.extend(self._final_publications(outcome.closed))

    # --- what is due without input --------------------------------------------------------

    def due(self, now: datetime) -> list[Publication]:
        """Closes the platform issues itself (10 days after a quarter that ended while it ran),
        and the missing copies of barriers that waited longer than the timeout."""
        out: list[Publication] = []
        for quarter in self.engine.quarters_due_to_close(now):
            close = new_event(
                ev.QuarterClosed(quarter=str(quarter)),
                source=SCORING_SOURCE,
                time=now,
                event_id=f"close-{quarter}",
            )
            if quarter in self._close_requested or quarter in self._pending:
                continue
            self._close_requested.add(quarter)
            out.extend(barrier_copies(close, range(self.partitions)))
        for pending in self._pending.values():
            if not pending.copies_written and now - pending.since >= self._barrier_timeout:
                out.extend(barrier_copies(pending.event, self._unreached(pending)))
                pending.copies_written = True
        return out

    # --- publishing what changed ----------------------------------------------------------

    def publish_changes(self, *, everything: bool = False) -> list[Publication]:
        """Scores, selections and top tens that changed since the last call; selections that
        wait for their interval too with `everything` (a worker that stops)."""
        if self.replaying:
            return []  # what changes is gathered until the replay is over, then published
        changes = self.engine.flush()
        out: list[Publication] = []
        for quarter, changed in sorted(changes.quarters.items()):
            board = self.engine.boards[quarter]
            out += [
                self._score_publication(quarter, "member", m, board.members.get(m))
                for m in sorted(changed.members)
            ]
            out += [
                self._score_publication(quarter, "department", d, board.departments.get(d))
                for d in sorted(changed.departments)
            ]
            out += [
                self._score_publication(quarter, "branch", b, board.branches.get(b))
                for b in sorted(changed.branches)
            ]
            self._selections_owed.add(quarter)
        self._top_tens_owed |= changes.years
        final_years = self._top_tens_owed & self.engine.final_top_ten.keys()
        for year in sorted(final_years):  # published at once, like the final standings
            out += self._if_changed(top_ten_message(self.engine.top_ten(year)).to_json(), str(year))
            self._last_selection.pop(str(year).encode(), None)
        self._top_tens_owed -= final_years
        if everything or self._selections_due():
            out += self._provisional_selections()
        return out

    def _provisional_selections(self) -> list[Publication]:
        out: list[Publication] = []
        for quarter in sorted(self._selections_owed & self.engine.boards.keys()):
            standings = self.engine.boards[quarter].standings(self.engine.rules)
            out += self._standings_publications(standings)
        for year in sorted(self._top_tens_owed):
            out += self._if_changed(top_ten_message(self.engine.top_ten(year)).to_json(), str(year))
        self._selections_owed, self._top_tens_owed = set(), set()
        self._selections_sent_at = self._clock()
        return out

    def _standings_publications(self, standings: QuarterStandings) -> list[Publication]:
        """A quarter's ranking chunks that changed (and tombstones of chunks it no longer
        has), then its selection if it changed."""
        quarter = str(standings.quarter)
        out: list[Publication] = []
        chunks = ranking_messages(standings)
        for chunk in chunks:
            out += self._if_changed(chunk.to_json(), chunk.key, RANKINGS)
        kept = {chunk.key for chunk in chunks}
        stale = [k for k in self._last_chunks.get(quarter, set()) if k not in kept]
        out += [Publication(RANKINGS, key.encode(), None) for key in sorted(stale)]
        for key in stale:
            self._last_selection.pop(key.encode(), None)
        self._last_chunks[quarter] = kept
        out += self._if_changed(selection_message(standings).to_json(), quarter)
        return out

    def _if_changed(self, value: bytes, key: str, topic: Topic = SELECTIONS) -> list[Publication]:
        if self._last_selection.get(key.encode()) == value:
            return []
        self._last_selection[key.encode()] = value
        return [Publication(topic, key.encode(), value)]

    def _score_publication(
        self,
        quarter: Quarter,
        level: str,
        subject_id: str,
        score: VanguardScore | FortressScore | None,
    ) -> Publication:
        key = f"{quarter}/{level}/{subject_id}".encode()
        if score is None:  # left, or no longer registered
            return Publication(SCORES, key, None)
        return Publication(
            SCORES,
            key,
            score_message(quarter, "provisional", self.engine.rules.version, score).to_json(),
        )

    def _final_publications(self, quarter: Quarter) -> list[Publication]:
        standings = self.engine.finals[quarter]
        out = [
            Publication(SCORES, message.key.encode(), message.to_json())
            for message in standings_messages(standings)
        ]
        out += self._standings_publications(standings)
        for key in [str(quarter), *self._last_chunks.pop(str(quarter), set())]:
            self._last_selection.pop(key.encode(), None)  # final: never published again
        self.engine.forget_final(quarter)
        return out

    # --- statuses and rejections ----------------------------------------------------------

    def _status(self, event: Event[EventData], outcome: Outcome) -> Publication:
        reasons = [{"field": "time", "message": outcome.reason}] if outcome.reason else []
        status = EventStatus(
            source=event.source,
            id=event.id,
            type=event.type,
            status="rejected" if outcome.status == "rejected" else "applied",
            detail=None
            if outcome.status == "rejected"
            else "late"
            if outcome.status == "late"
            else "new",
            reasons=[{"field": "data", "message": r["message"]} for r in reasons]
            if outcome.status == "rejected"
            else reasons,
            late_for=str(outcome.late_for) if outcome.late_for else None,
            counts_for=[
                Contribution(
                    quarter=str(c.quarter), level=c.level, id=c.subject_id, component=c.component
                )
                for c in outcome.counts_for
            ],
            supersedes=[
                EventRef(source=source, id=ref_id) for source, ref_id in outcome.supersedes
            ],
            at=self._clock(),
        )
        return Publication(EVENT_STATUS, status.key.encode(), status.to_json())

    def _rejection(self, record: InboundRecord, error: InvalidEvent) -> list[Publication]:
        letter = DeadLetter.of_record(
            consumer="scoring",
            topic=self._inbound_topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=record.headers,
            reasons=error.as_dicts(),
            failed_at=self._clock(),
            whole=self.whole_dead_letters,
        )
        out = [Publication(DEAD_LETTER, (letter.key or "").encode(), letter.to_json())]
        identity = record_identity(record.value, record.headers)
        if identity is not None:
            source, event_id, event_type = identity
            status = EventStatus(
                source=source,
                id=event_id,
                type=event_type,
                status="rejected",
                reasons=error.as_dicts(),
                at=self._clock(),
            )
            out.append(Publication(EVENT_STATUS, status.key.encode(), status.to_json()))
        return out


def _checkpoint(blob: bytes) -> dict[str, Any]:
    """The outer dict of a checkpoint: builtins only, readable by any version."""
    try:
        outer = pickle.loads(blob)
    except (pickle.UnpicklingError, AttributeError, ImportError, EOFError) as error:
        log.warning("a checkpoint that this version cannot read: %s", error)
        return {}
    return outer if isinstance(outer, dict) else {}


def _cycle(waits_for: dict[Quarter, set[Quarter]]) -> set[Quarter]:
    """The members of a cycle in a (small) wait-for graph, if there is one."""

    def visit(node: Quarter, path: list[Quarter]) -> set[Quarter]:
        if node in path:
            return set(path[path.index(node) :])
        for successor in sorted(waits_for.get(node, ())):
            if found := visit(successor, [*path, node]):
                return found
        return set()

    for start in sorted(waits_for):
        if found := visit(start, []):
            return found
    return set()


# --- messages ---------------------------------------------------------------------------


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 2) for name, value in values.items()}


def score_message(
    quarter: Quarter, status: Status, rules_version: str, score: VanguardScore | FortressScore
) -> IndexScore:
    if isinstance(score, VanguardScore):
        return IndexScore(
            quarter=str(quarter),
            level="member",
            id=score.member_id,
            name=score.name,
            department_id=score.department_id,
            party_member=score.party_member,
            index=round(score.index, 2),
            index_exact=score.index,
            components=_rounded(score.components),
            details={
                "study_rate": score.study_rate,
                "lectures_given": score.lectures_given,
                "households_visited": score.households_visited,
                "violations": score.violations,
                **{f"worth_{kind}": round(points, 4) for kind, points in score.worth},
            },
            status=status,
            rules_version=rules_version,
        )
    # counts, not the lists: a department's message must not grow with its members
    details: dict[str, float | int | list[str]] = {
        "members": len(score.members),
        "violations": score.violations,
    }
    if score.level == "branch":
        details["departments"] = len(score.departments)
    return IndexScore(
        quarter=str(quarter),
        level="branch" if score.level == "branch" else "department",
        id=score.id,
        name=score.name,
        branch_id=score.branch_id,
        index=round(score.index, 2),
        index_exact=score.index,
        components=_rounded(score.components),
        details=details,
        status=status,
        rules_version=rules_version,
    )


def standings_messages(standings: QuarterStandings) -> list[IndexScore]:
    scores: list[VanguardScore | FortressScore] = [
        *standings.members,
        *standings.departments,
        *standings.branches,
    ]
    return [
        score_message(standings.quarter, standings.status, standings.rules_version, score)
        for score in scores
    ]


def selection_message(standings: QuarterStandings) -> QuarterSelection:
    members = {m.member_id: m for m in standings.members}
    departments = {d.id: d for d in standings.departments}
    return QuarterSelection(
        quarter=str(standings.quarter),
        status=standings.status,
        rules_version=standings.rules_version,
        exemplars=[
            SelectedMember(
                rank=rank,
                member_id=member_id,
                name=members[member_id].name,
                department_id=members[member_id].department_id,
                index=round(members[member_id].index, 2),
            )
            for rank, member_id in enumerate(standings.exemplars, 1)
        ],
        excellent_departments=[
            SelectedDepartment(
                rank=rank,
                department_id=department_id,
                name=departments[department_id].name,
                index=round(departments[department_id].index, 2),
            )
            for rank, department_id in enumerate(standings.excellent_departments, 1)
        ],
        ranked=RankingSizes(
            member=len(standings.members),
            department=len(standings.departments),
            branch=len(standings.branches),
        ),
    )


def ranking_messages(standings: QuarterStandings) -> list[RankingChunk]:
    """The quarter's ranking order, every level, in chunks (`derived.ranking_chunks`)."""
    quarter, status = str(standings.quarter), standings.status
    return [
        *ranking_chunks(quarter, "member", [m.member_id for m in standings.members], status),
        *ranking_chunks(quarter, "department", [d.id for d in standings.departments], status),
        *ranking_chunks(quarter, "branch", [b.id for b in standings.branches], status),
    ]


def top_ten_message(top_ten: TopTen) -> YearTopTen:
    return YearTopTen(
        year=top_ten.year,
        status=top_ten.status,
        rules_version=top_ten.rules_version,
        members=[
            TopTenMember(
                rank=rank,
                member_id=m.member_id,
                name=m.name,
                department_id=m.department_id,
                mean_index=round(m.mean_index, 2),
                quarters={q: round(v, 2) for q, v in m.quarters.items()},
            )
            for rank, m in enumerate(top_ten.members, 1)
        ],
    )
