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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.partitioner import murmur2

from mingdeng.contracts import events as ev
from mingdeng.contracts.agency import DEFAULT_AGENCY
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
    AGENCY_HEADER,
    BARRIER_HEADER,
    DEAD_LETTER,
    EVENT_STATUS,
    EVENTS,
    RANKINGS,
    SCORES,
    SELECTIONS,
    Topic,
)
from mingdeng.runtime.stream import InboundRecord, Publication
from mingdeng.scoring.domain.engine import Outcome, ScoringEngine
from mingdeng.scoring.domain.indices import FortressScore, VanguardScore
from mingdeng.scoring.domain.rules import Rules, shipped_rules
from mingdeng.scoring.domain.snapshots import finals_from, snapshot_of
from mingdeng.scoring.domain.standings import QuarterStandings, Status, TopTen

SCORING_SOURCE = "/mingdeng/scoring"
log = logging.getLogger(__name__)
CHECKPOINT_FORMAT = 7  # bump when the engine's state changes shape: old states are replayed


def is_barrier_copy(record: InboundRecord) -> bool:
    return any(name == BARRIER_HEADER for name, _ in record.headers)


def home_partition(agency: str, partitions: int) -> int:
    """Where a record keyed by the agency goes (Kafka's default partitioner, murmur2)."""
    hashed: int = murmur2(agency.encode())
    return (hashed & 0x7FFFFFFF) % partitions


class MisplacedRecord(RuntimeError):
    """A record of an agency on a partition whose task does not hold that agency: the default
    agency keyed by subject, read by a task of one partition (docs/decisions/0004)."""


BarrierKey = tuple[str, Quarter]  # (agency, quarter): what a barrier closes


@dataclass
class PendingClose:
    """A quarter's close waiting at its barrier. Two closes of one quarter share it: each
    partition's cut is the first copy of either."""

    agency: str
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
        Publication(EVENTS, event.partition_key.encode(), value, p, ((BARRIER_HEADER, b"1"),))
        for p in partitions
    ]


class AgencyBook:
    """One agency's scoring: its engine, and what was last published of its quarters and
    years. Agencies share nothing: the same member id in two agencies is two people."""

    def __init__(self, agency: str, rules: Rules, keep_closed_years: bool) -> None:
        self.agency = agency
        self.engine = ScoringEngine(rules, keep_closed_years=keep_closed_years)
        self.last_selection: dict[bytes, bytes] = {}  # open quarters and years only
        self.last_chunks: dict[str, set[str]] = {}  # keys of each open quarter's chunks
        self.selections_owed: set[Quarter] = set()
        self.top_tens_owed: set[int] = set()
        self.close_requested: set[Quarter] = set()

    def publication(self, topic: Topic, key: str, value: bytes | None) -> Publication:
        """A record of this agency's: the default agency's keyed as before agencies; any
        other's keyed `{agency}/…` and marked with the AGENCY_HEADER."""
        if self.agency == DEFAULT_AGENCY:
            return Publication(topic, key.encode(), value)
        return Publication(
            topic,
            f"{self.agency}/{key}".encode(),
            value,
            headers=((AGENCY_HEADER, self.agency.encode()),),
        )


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
        reads: Sequence[int] | None = None,
    ) -> None:
        """`rules`: the 机关工委's, under which an agency is scored unless its registration
        names another version of the shipped ones (`rules_version`); `rules` also stands for
        its own version.
        `statuses=False`: a replay that needs only the standings builds no status.
        `selection_interval`: scores are published as they change; a quarter's selection and
        ranking order, and a year's provisional top ten, at most this often (each is a
        message about the whole quarter or year). `reads`: the partitions of the inbound log
        this service is fed (all by default): a task of one partition holds the agencies whose
        key goes there, and a barrier spans only what it reads."""
        self._rules = rules
        self._versions = {**shipped_rules(), rules.version: rules}
        self._keep_closed_years = keep_closed_years
        self.books: dict[str, AgencyBook] = {}
        self._statuses = statuses
        self._inbound_topic = inbound_topic  # as dead letters name it: where a re-drive goes
        self.partitions = partitions
        self.reads = tuple(range(partitions)) if reads is None else tuple(reads)
        self.sequencing = Sequencing()
        self._clock = clock
        self._barrier_timeout = barrier_timeout
        self._pending: dict[BarrierKey, PendingClose] = {}
        self._blocked_by: dict[int, BarrierKey] = {}
        self._held: dict[int, deque[InboundRecord]] = {}
        self._silent_below: dict[int, int] = {}
        self._selection_interval = selection_interval
        self._selections_sent_at: datetime | None = None
        self.taken = 0  # records taken so far
        # False after the dead-letter topic refused a letter (a broker whose limit is below
        # the producer's): letters then keep a reference to the record, not the record
        self.whole_dead_letters = True

    # --- agencies ---------------------------------------------------------------------------

    def book(self, agency: str) -> AgencyBook:
        book = self.books.get(agency)
        if book is None:
            book = self.books[agency] = AgencyBook(agency, self._rules, self._keep_closed_years)
        return book

    def _rules_of(self, engine: ScoringEngine) -> Rules | None:
        """The rules the agency of `engine` has chosen; None for a version not known here."""
        version = engine.chosen_rules_version
        return self._rules if version is None else self._versions.get(version)

    def engine_of(self, agency: str) -> ScoringEngine:
        return self.book(agency).engine

    @property
    def engine(self) -> ScoringEngine:
        """The default agency's engine (a one-agency installation's only one)."""
        return self.engine_of(DEFAULT_AGENCY)

    # --- checkpoints --------------------------------------------------------------------

    def checkpoint(self) -> bytes:
        """The state as of `next_offsets`: take it between two transactions. The finals go
        beside it as plain data (`snapshots`), readable whatever code or rules come next."""
        engines, by_agency = {}, {}
        for agency, book in self.books.items():
            engines[agency] = engine = copy.copy(book.engine)
            engine.finals, engine.final_top_ten = {}, {}
            by_agency[agency] = snapshot_of(book.engine.finals, book.engine.final_top_ten)
        finals = _finals_document(by_agency)
        return pickle.dumps(
            {
                "format": CHECKPOINT_FORMAT,
                "rules_version": self._rules.version,
                "finals": json.dumps(finals).encode(),
                "state": pickle.dumps((engines, self.sequencing), pickle.HIGHEST_PROTOCOL),
            },
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    def restore(self, blob: bytes) -> bool:
        """Take the state of a checkpoint written by this version with the same rules;
        False (and nothing changed) for any other: see `keep_finals_of`."""
        outer = _checkpoint(blob)
        if outer.get("format") != CHECKPOINT_FORMAT:
            return False
        if outer.get("rules_version") != self._rules.version:
            return False
        finals = _finals_by_agency(json.loads(outer["finals"]))
        engines, sequencing = pickle.loads(outer["state"])
        if any(engine.rules != self._rules_of(engine) for engine in engines.values()):
            return False  # an agency's rules are not what they were: replay
        self.books = {}
        for agency, engine in engines.items():
            engine.finals, engine.final_top_ten = finals_from(finals[agency])
            engine.forget_published()
            self.book(agency).engine = engine
        self.sequencing = sequencing
        return True

    def keep_finals_of(self, blob: bytes) -> int:
        """For a replay from the start after a checkpoint this service cannot resume from
        (other rules, another version): the finals it holds are taken as they are when their
        quarter's close is replayed, not computed again. How many quarters."""
        finals = _checkpoint(blob).get("finals")
        if finals is None:
            return 0
        for agency, snapshot in _finals_by_agency(json.loads(finals)).items():
            engine = self.engine_of(agency)
            engine.frozen, engine.frozen_top_ten = finals_from(snapshot)
        return sum(len(book.engine.frozen) for book in self.books.values())

    @property
    def replaying(self) -> bool:
        return any(
            self.sequencing.next_offsets.get(p, 0) < offset
            for p, offset in self._silent_below.items()
        )

    @property
    def has_unpublished_changes(self) -> bool:
        """Whether `publish_changes` would publish anything now."""
        return any(b.engine.has_changes for b in self.books.values()) or self._selections_due()

    @property
    def owes_publications(self) -> bool:
        """Whether `publish_changes(everything=True)` would publish anything."""
        return any(
            b.engine.has_changes or b.selections_owed or b.top_tens_owed
            for b in self.books.values()
        )

    def _selections_due(self) -> bool:
        return any(b.selections_owed or b.top_tens_owed for b in self.books.values()) and (
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
        try:
            event = parse_record(record.value, record.headers, record.key, now=at)
        except InvalidEvent as error:
            sink.extend(self._rejection(record, error))
            self._advance(partition, record.offset)
            return
        if len(self.reads) < self.partitions and (
            home_partition(event.agency, self.partitions) != partition
        ):
            if not is_barrier_copy(record):
                raise MisplacedRecord(
                    f"{partition}:{record.offset} of agency {event.agency!r}, keyed"
                    f" {record.key!r}, is not on its agency's partition: run scoring unpartitioned"
                )
            self._advance(partition, record.offset)  # the copy of its home partition counts
            return
        book = self.book(event.agency)
        if book.engine.running_since is None:
            book.engine.running_since = at
        if isinstance(event.data, ev.QuarterClosed):
            self._take_close(record, event, sink, out)
            return
        outcome = book.engine.apply(event)
        if isinstance(event.data, ev.AgencyRegistered):
            chosen = self._rules_of(book.engine)
            assert chosen is not None, "the contracts admit the shipped versions only"
            book.engine.adopt(chosen)
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
        # another agency than the default one has all its records on one partition, in
        # order: its close needs no barrier unless one was written for it
        in_order = not event.of_default_agency and not is_barrier_copy(record)
        barrier = (event.agency, quarter)
        if (
            quarter in self.engine_of(event.agency).closed
            or refused
            or (in_order and barrier not in self._pending)
        ):
            self._complete([event], sink)  # nothing to wait for
            self._advance(record.partition, record.offset)
            return
        pending = self._pending.get(barrier)
        if pending is None:
            pending = self._pending[barrier] = PendingClose(
                event.agency, quarter, {}, {}, self._clock(), False
            )
        pending.events.setdefault(event.key, event)
        pending.reached[record.partition] = record.offset
        self._blocked_by[record.partition] = barrier
        self.sequencing.next_offsets[record.partition] = record.offset  # the copy is not taken yet
        if not is_barrier_copy(record) and not pending.copies_written:
            sink.extend(barrier_copies(event, self._unreached(pending)))
            pending.copies_written = True
        if len(pending.reached) == len(self.reads):
            self._release(pending, sink, out)
        else:
            self._break_deadlock(sink, out)

    def _unreached(self, pending: PendingClose) -> list[int]:
        return [p for p in self.reads if p not in pending.reached]

    def _break_deadlock(self, sink: list[Publication], out: list[Publication]) -> None:
        """Copies of closes of two quarters written by two writers at once can cross: close X
        is first on one partition, close Y on another, and each waits for a partition the
        other holds. Then the close of the earlier quarter takes, on the partitions the other
        holds, the other's copy as its cut (what lies between is late for it); decided by the
        log alone, so a replay decides alike."""
        waits_for = {
            barrier: {
                self._blocked_by[p] for p in self._unreached(pending) if p in self._blocked_by
            }
            for barrier, pending in self._pending.items()
        }
        cycle = _cycle(waits_for)
        if not cycle:
            return
        pending = self._pending[min(cycle)]
        for partition in self._unreached(pending):
            if partition in self._blocked_by:
                held_at = self._pending[self._blocked_by[partition]].reached[partition]
                pending.reached.setdefault(partition, held_at)
        if len(pending.reached) == len(self.reads):
            self._release(pending, sink, out)

    def _release(
        self, pending: PendingClose, sink: list[Publication], out: list[Publication]
    ) -> None:
        barrier = (pending.agency, pending.quarter)
        del self._pending[barrier]
        self._complete(list(pending.events.values()), sink)
        released = [p for p, b in self._blocked_by.items() if b == barrier]
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
            book = self.book(event.agency)
            outcome = book.engine.close(
                Quarter.parse(event.data.quarter), event.time, early_close_reason(event)
            )
            self.sequencing.completed_closes.add(event.key)
            out.append(self._status(event, outcome))
            if outcome.closed is not None:
                out.extend(self._final_publications(book, outcome.closed))

    # --- what is due without input --------------------------------------------------------

    def due(self, now: datetime) -> list[Publication]:
        """Closes the platform issues itself (10 days after a quarter that ended while it ran),
        and the missing copies of barriers that waited longer than the timeout."""
        out: list[Publication] = []
        for agency, book in sorted(self.books.items()):
            for quarter in book.engine.quarters_due_to_close(now):
                if quarter in book.close_requested or (agency, quarter) in self._pending:
                    continue
                book.close_requested.add(quarter)
                out.extend(self._automatic_close(agency, quarter, now))
        for pending in self._pending.values():
            if not pending.copies_written and now - pending.since >= self._barrier_timeout:
                out.extend(barrier_copies(pending.event, self._unreached(pending)))
                pending.copies_written = True
        return out

    def _automatic_close(self, agency: str, quarter: Quarter, now: datetime) -> list[Publication]:
        """The default agency's as barrier copies; another's as one record, keyed by the
        agency, in order on its partition."""
        default = agency == DEFAULT_AGENCY
        close = new_event(
            ev.QuarterClosed(quarter=str(quarter)),
            source=SCORING_SOURCE,
            time=now,
            event_id=f"close-{quarter}" if default else f"close-{agency}-{quarter}",
            agency=agency,
        )
        if default:
            return barrier_copies(close, self.reads)
        return [Publication(EVENTS, close.partition_key.encode(), serialize_event(close))]

    # --- publishing what changed ----------------------------------------------------------

    def publish_changes(self, *, everything: bool = False) -> list[Publication]:
        """Scores, selections and top tens that changed since the last call; selections that
        wait for their interval too with `everything` (a worker that stops)."""
        if self.replaying:
            return []  # what changes is gathered until the replay is over, then published
        out: list[Publication] = []
        for _, book in sorted(self.books.items()):
            out += self._changes_of(book)
        if everything or self._selections_due():
            for _, book in sorted(self.books.items()):
                out += self._provisional_selections(book)
            self._selections_sent_at = self._clock()
        return out

    def _changes_of(self, book: AgencyBook) -> list[Publication]:
        engine = book.engine
        changes = engine.flush()
        out: list[Publication] = []
        for quarter, changed in sorted(changes.quarters.items()):
            board = engine.boards[quarter]
            out += [
                self._score_publication(book, quarter, "member", m, board.members.get(m))
                for m in sorted(changed.members)
            ]
            out += [
                self._score_publication(book, quarter, "department", d, board.departments.get(d))
                for d in sorted(changed.departments)
            ]
            out += [
                self._score_publication(book, quarter, "branch", b, board.branches.get(b))
                for b in sorted(changed.branches)
            ]
            book.selections_owed.add(quarter)
        book.top_tens_owed |= changes.years
        final_years = book.top_tens_owed & engine.final_top_ten.keys()
        for year in sorted(final_years):  # published at once, like the final standings
            message = top_ten_message(engine.top_ten(year)).to_json()
            out += self._if_changed(book, message, str(year))
            book.last_selection.pop(str(year).encode(), None)
        book.top_tens_owed -= final_years
        return out

    def _provisional_selections(self, book: AgencyBook) -> list[Publication]:
        engine = book.engine
        out: list[Publication] = []
        for quarter in sorted(book.selections_owed & engine.boards.keys()):
            standings = engine.boards[quarter].standings(engine.rules)
            out += self._standings_publications(book, standings)
        for year in sorted(book.top_tens_owed):
            message = top_ten_message(engine.top_ten(year)).to_json()
            out += self._if_changed(book, message, str(year))
        book.selections_owed, book.top_tens_owed = set(), set()
        return out

    def _standings_publications(
        self, book: AgencyBook, standings: QuarterStandings
    ) -> list[Publication]:
        """A quarter's ranking chunks that changed (and tombstones of chunks it no longer
        has), then its selection if it changed."""
        quarter = str(standings.quarter)
        out: list[Publication] = []
        chunks = ranking_messages(standings)
        for chunk in chunks:
            out += self._if_changed(book, chunk.to_json(), chunk.key, RANKINGS)
        kept = {chunk.key for chunk in chunks}
        stale = [k for k in book.last_chunks.get(quarter, set()) if k not in kept]
        out += [book.publication(RANKINGS, key, None) for key in sorted(stale)]
        for key in stale:
            book.last_selection.pop(key.encode(), None)
        book.last_chunks[quarter] = kept
        out += self._if_changed(book, selection_message(standings).to_json(), quarter)
        return out

    def _if_changed(
        self, book: AgencyBook, value: bytes, key: str, topic: Topic = SELECTIONS
    ) -> list[Publication]:
        if book.last_selection.get(key.encode()) == value:
            return []
        book.last_selection[key.encode()] = value
        return [book.publication(topic, key, value)]

    def _score_publication(
        self,
        book: AgencyBook,
        quarter: Quarter,
        level: str,
        subject_id: str,
        score: VanguardScore | FortressScore | None,
    ) -> Publication:
        key = f"{quarter}/{level}/{subject_id}"
        if score is None:  # left, or no longer registered
            return book.publication(SCORES, key, None)
        message = score_message(quarter, "provisional", book.engine.rules.version, score)
        return book.publication(SCORES, key, message.to_json())

    def _final_publications(self, book: AgencyBook, quarter: Quarter) -> list[Publication]:
        standings = book.engine.finals[quarter]
        out = [
            book.publication(SCORES, message.key, message.to_json())
            for message in standings_messages(standings)
        ]
        out += self._standings_publications(book, standings)
        for key in [str(quarter), *book.last_chunks.pop(str(quarter), set())]:
            book.last_selection.pop(key.encode(), None)  # final: never published again
        book.engine.forget_final(quarter)
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
        return self.book(event.agency).publication(EVENT_STATUS, status.key, status.to_json())

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


def _finals_document(by_agency: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The finals of a checkpoint as plain JSON: the default agency's at the top, as a
    checkpoint before agencies held its one agency's, the others' under `agencies`."""
    default = by_agency.get(DEFAULT_AGENCY) or snapshot_of({}, {})
    others = {agency: finals for agency, finals in by_agency.items() if agency != DEFAULT_AGENCY}
    return {**default, "agencies": others}


def _finals_by_agency(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    others = document.pop("agencies", {})
    return {DEFAULT_AGENCY: document, **others}


def _checkpoint(blob: bytes) -> dict[str, Any]:
    """The outer dict of a checkpoint: builtins only, readable by any version."""
    try:
        outer = pickle.loads(blob)
    except (pickle.UnpicklingError, AttributeError, ImportError, EOFError) as error:
        log.warning("a checkpoint that this version cannot read: %s", error)
        return {}
    return outer if isinstance(outer, dict) else {}


def _cycle(waits_for: dict[BarrierKey, set[BarrierKey]]) -> set[BarrierKey]:
    """The members of a cycle in a (small) wait-for graph, if there is one."""

    def visit(node: BarrierKey, path: list[BarrierKey]) -> set[BarrierKey]:
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
