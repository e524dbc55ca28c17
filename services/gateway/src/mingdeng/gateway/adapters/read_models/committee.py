"""The 机关工委's view across its agencies (issue 25, item 5), schema `committee`.

Unlike every other read model it takes the records of **every** agency, whatever agency the
rest of the gateway serves (the projector hands it each record before it skips another
agency's): an inbound record's agency is its `agency` attribute, a derived record's its
`mingdeng-agency` header. Member ids are kept with their agency: the same id in two agencies is
two people.

Work per record does not grow with history. Each fact that counts keeps a row (a member's
standing, a score, a lecture, a violation); a batch upserts those rows with one statement per
table that also moves the figures they add up to (`Tally`): the new row's share is added and
the replaced row's share taken out, in the same statement, so the figures per agency (members,
sums of indices, lectures a year, violations a quarter) are always the sum of the rows without
ever being counted again. Tasks and coverage are kept as rows only: whether an open task is
overdue depends on the hour of the question, so the query counts an agency's open tasks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg

from mingdeng.contracts import events as ev
from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.codec import parse_record, record_agency
from mingdeng.contracts.derived import IndexScore, Task
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.events import EventData
from mingdeng.contracts.outreach_views import Coverage, OutreachView
from mingdeng.contracts.periods import BUSINESS_TZ, QUARTER_PATTERN, Quarter
from mingdeng.contracts.registry import Stamp
from mingdeng.contracts.topics import EVENTS, OUTREACH, SCORES, TASKS, Topic
from mingdeng.gateway.adapters.read_models.inbound import _wire_types, event_type
from mingdeng.runtime.agencies import header_agency
from mingdeng.runtime.projection import Record

SCHEMA = "committee"
TABLES = (
    "agency_figures",
    "agency_quarters",
    "agency_years",
    "members",
    "member_scores",
    "branch_scores",
    "lectures",
    "violations",
    "tasks",
    "coverage",
)
TOPICS: tuple[Topic, ...] = (EVENTS, SCORES, OUTREACH, TASKS)


@dataclass(frozen=True)
class Tally:
    """Rows of `table` keyed by `key` that add up to the rows of `figures` named by `group`
    (columns of both): each figure column of `adds` sums an expression over a row `r`.
    `on_conflict` says how an incoming row replaces a stored one (`DO UPDATE … WHERE …`);
    `deletes`: the incoming keys are removed instead. One statement moves rows and figures:
    its CTEs read the table as it was before the statement (one snapshot)."""

    table: str
    columns: tuple[tuple[str, str], ...]  # name, SQL type; the order of the rows given
    key: tuple[str, ...]
    figures: str
    group: tuple[str, ...]
    adds: tuple[tuple[str, str], ...]  # figure column, expression over r
    on_conflict: str = ""
    deletes: bool = False

    def sql(self) -> str:
        names = [name for name, _ in self.columns]
        arrays = ", ".join(f"${n}::{kind}[]" for n, (_, kind) in enumerate(self.columns, 1))
        incoming = f"SELECT * FROM unnest({arrays}) AS i({', '.join(names)})"
        key, group = ", ".join(self.key), ", ".join(self.group)
        joined = " AND ".join(f"t.{k} = i.{k}" for k in self.key)
        table = f"{SCHEMA}.{self.table}"
        if self.deletes:
            change = f"DELETE FROM {table} t USING incoming i WHERE {joined} RETURNING t.*"
            added = ""
        else:
            change = (
                f"INSERT INTO {table} AS t ({', '.join(names)}) SELECT * FROM incoming"
                f" ON CONFLICT ({key}) {self.on_conflict} RETURNING t.*"
            )
            added = (
                f"SELECT {group}, {', '.join(f'({e})::numeric' for _, e in self.adds)}"
                " FROM changed r UNION ALL "
            )
        taken = ", ".join(f"-({e})::numeric" for _, e in self.adds)
        columns = [column for column, _ in self.adds]
        moved = ", ".join(f"m{n}" for n in range(len(columns)))
        sums = ", ".join(f"sum(m{n})" for n in range(len(columns)))
        return f"""
            WITH incoming AS ({incoming}),
            before AS (SELECT t.* FROM {table} t JOIN incoming i ON {joined}),
            changed AS ({change}),
            moved ({group}, {moved}) AS (
                {added}SELECT {group}, {taken} FROM before r
                 WHERE ({key}) IN (SELECT {key} FROM changed))
            INSERT INTO {SCHEMA}.{self.figures} AS f ({group}, {", ".join(columns)})
            SELECT {group}, {sums} FROM moved GROUP BY {group}
            HAVING {" OR ".join(f"sum(m{n}) <> 0" for n in range(len(columns)))}
            ON CONFLICT ({group}) DO UPDATE SET
                {", ".join(f"{c} = f.{c} + EXCLUDED.{c}" for c in columns)}"""

    async def write(self, connection: asyncpg.Connection, rows: Iterable[Sequence[object]]) -> None:
        listed = list(rows)
        if listed:
            await connection.execute(self.sql(), *(list(c) for c in zip(*listed, strict=True)))


def later_stamp() -> str:
    return """(t.stamp, t.stamp_source COLLATE "C", t.stamp_id COLLATE "C")
            < (EXCLUDED.stamp, EXCLUDED.stamp_source COLLATE "C", EXCLUDED.stamp_id COLLATE "C")"""


MEMBERS = Tally(
    table="members",
    columns=(
        ("agency", "text"),
        ("member_id", "text"),
        ("active", "boolean"),
        ("stamp", "timestamptz"),
        ("stamp_source", "text"),
        ("stamp_id", "text"),
    ),
    key=("agency", "member_id"),
    figures="agency_figures",
    group=("agency",),
    adds=(("members", "r.active::int"),),
    on_conflict=f"""DO UPDATE SET active = EXCLUDED.active, stamp = EXCLUDED.stamp,
        stamp_source = EXCLUDED.stamp_source, stamp_id = EXCLUDED.stamp_id
        WHERE {later_stamp()}""",
)
_SCORE_KEY = (("agency", "text"), ("quarter", "text"))
MEMBER_SCORES = Tally(
    table="member_scores",
    columns=(*_SCORE_KEY, ("member_id", "text"), ("index_exact", "float8")),
    key=("agency", "quarter", "member_id"),
    figures="agency_quarters",
    group=("agency", "quarter"),
    adds=(("vanguard_sum", "r.index_exact"), ("vanguard_count", "1")),
    on_conflict="DO UPDATE SET index_exact = EXCLUDED.index_exact",
)
MEMBER_SCORES_GONE = replace(MEMBER_SCORES, deletes=True)
BRANCH_SCORES = Tally(
    table="branch_scores",
    columns=(
        *_SCORE_KEY,
        ("branch_id", "text"),
        ("name", "text"),
        ("index", "float8"),
        ("index_exact", "float8"),
    ),
    key=("agency", "quarter", "branch_id"),
    figures="agency_quarters",
    group=("agency", "quarter"),
    adds=(("fortress_sum", "r.index_exact"), ("fortress_count", "1")),
    on_conflict="""DO UPDATE SET name = EXCLUDED.name, index = EXCLUDED.index,
        index_exact = EXCLUDED.index_exact""",
)
BRANCH_SCORES_GONE = replace(BRANCH_SCORES, deletes=True)
LECTURES = Tally(
    table="lectures",
    columns=(
        ("agency", "text"),
        ("lecture_id", "text"),
        ("year", "int"),
        ("delivered_at", "timestamptz"),
    ),
    key=("agency", "lecture_id"),
    figures="agency_years",
    group=("agency", "year"),
    adds=(("lectures", "1"),),
    on_conflict="""DO UPDATE SET year = EXCLUDED.year, delivered_at = EXCLUDED.delivered_at
        WHERE t.delivered_at > EXCLUDED.delivered_at""",
)
VIOLATIONS = Tally(
    table="violations",
    columns=(
        ("agency", "text"),
        ("violation_id", "text"),
        ("quarter", "text"),
        ("logged", "boolean"),
        ("retracted", "boolean"),
    ),
    key=("agency", "violation_id"),
    figures="agency_quarters",
    group=("agency", "quarter"),
    adds=(("violations", "(r.logged AND NOT r.retracted)::int"),),
    on_conflict="""DO UPDATE SET
        quarter = CASE WHEN EXCLUDED.logged THEN EXCLUDED.quarter ELSE t.quarter END,
        logged = t.logged OR EXCLUDED.logged, retracted = t.retracted OR EXCLUDED.retracted""",
)
TASK = """INSERT INTO committee.tasks (agency, task_id, open, due)
    SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::timestamptz[])
    ON CONFLICT (agency, task_id) DO UPDATE SET open = EXCLUDED.open, due = EXCLUDED.due"""
COVERAGE = """INSERT INTO committee.coverage AS t
        (agency, quarter, pairings, visited, rate, computed_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::float8[],
                         $6::timestamptz[])
    ON CONFLICT (agency, quarter) DO UPDATE SET pairings = EXCLUDED.pairings,
        visited = EXCLUDED.visited, rate = EXCLUDED.rate, computed_at = EXCLUDED.computed_at
    WHERE t.computed_at <= EXCLUDED.computed_at"""
RECEIVED = """INSERT INTO committee.agency_figures AS f (agency, last_event_at)
    SELECT * FROM unnest($1::text[], $2::timestamptz[])
    ON CONFLICT (agency) DO UPDATE SET
        last_event_at = greatest(f.last_event_at, EXCLUDED.last_event_at)"""

Key = tuple[str, str]  # agency, id
ScoreKey = tuple[str, str, str]  # agency, quarter, id


@dataclass
class Violation:
    quarter: str = ""
    logged: bool = False
    retracted: bool = False


class CommitteeBatch:
    """What one batch of records (of every agency) means for the committee's tables. Of each
    key only the batch's last word is written (a statement cannot touch a row twice)."""

    def __init__(self, topics: Mapping[str, Topic]) -> None:
        self._topics = topics
        self.received: dict[str, datetime] = {}
        self.members: dict[Key, tuple[bool, Stamp]] = {}
        self.member_scores: dict[ScoreKey, float | None] = {}
        self.branch_scores: dict[ScoreKey, IndexScore | None] = {}
        self.lectures: dict[Key, datetime] = {}
        self.violations: dict[Key, Violation] = {}
        self.tasks: dict[Key, Task] = {}
        self.coverage: dict[Key, tuple[Coverage, datetime]] = {}

    def add(self, record: Record) -> None:
        """Keep what `record` means here; ValueError for a record that cannot be read."""
        topic = self._topics.get(record.topic)
        if topic is EVENTS:
            self._inbound(record)
            return
        agency = header_agency(record.headers)
        if topic is SCORES:
            self._score(agency, record)
        elif topic is TASKS and record.value is not None:
            task = Task.model_validate_json(record.value)
            self.tasks[(agency, task.task_id)] = task
        elif topic is OUTREACH and record.value is not None and b'"coverage"' in record.value:
            view = OutreachView.model_validate_json(record.value)
            body = view.body
            if isinstance(body, Coverage) and re.fullmatch(QUARTER_PATTERN, body.period):
                # a quarter's coverage; a month's is not shown across agencies
                self.coverage[(agency, body.period)] = (body, view.computed_at)

    def _inbound(self, record: Record) -> None:
        if record.value is None:
            return
        agency = record_agency(record.value, record.headers)
        received = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
        self.received[agency] = max(received, self.received.get(agency, received))
        take = READS.get(event_type(record.value, record.headers) or "")
        if take is None:
            return
        try:
            event = parse_record(record.value, record.headers, record.key)
        except InvalidEvent:
            return  # scoring dead-letters an invalid inbound event with its reasons
        take(self, event.agency, event.data, Stamp.of(event))

    def _score(self, agency: str, record: Record) -> None:
        if record.value is None:
            if record.key is None:
                return
            key = record.key.decode()
            if agency != DEFAULT_AGENCY:
                key = key.removeprefix(f"{agency}/")
            quarter, level, subject = key.split("/", 2)
            if level == "member":
                self.member_scores[(agency, quarter, subject)] = None
            elif level == "branch":
                self.branch_scores[(agency, quarter, subject)] = None
            return
        score = IndexScore.model_validate_json(record.value)
        if score.level == "member":
            self.member_scores[(agency, score.quarter, score.id)] = score.index_exact
        elif score.level == "branch":
            self.branch_scores[(agency, score.quarter, score.id)] = score

    def member(self, agency: str, member_id: str, active: bool, stamp: Stamp) -> None:
        known = self.members.get((agency, member_id))
        if known is None or known[1] < stamp:
            self.members[(agency, member_id)] = (active, stamp)

    def lecture(self, agency: str, lecture_id: str, at: datetime) -> None:
        known = self.lectures.get((agency, lecture_id))
        self.lectures[(agency, lecture_id)] = at if known is None else min(at, known)

    def violation(self, agency: str, violation_id: str) -> Violation:
        return self.violations.setdefault((agency, violation_id), Violation())

    async def write(self, connection: asyncpg.Connection) -> None:
        await MEMBERS.write(
            connection,
            (
                (agency, member_id, active, stamp.time, stamp.source, stamp.id)
                for (agency, member_id), (active, stamp) in self.members.items()
            ),
        )
        await _scores(connection, MEMBER_SCORES, MEMBER_SCORES_GONE, self.member_scores,
                      lambda index: (index,))  # fmt: skip
        await _scores(connection, BRANCH_SCORES, BRANCH_SCORES_GONE, self.branch_scores,
                      lambda s: (s.name, s.index, s.index_exact))  # fmt: skip
        await LECTURES.write(
            connection,
            ((agency, lecture_id, at.astimezone(BUSINESS_TZ).year, at)
             for (agency, lecture_id), at in self.lectures.items()),
        )  # fmt: skip
        await VIOLATIONS.write(
            connection,
            ((agency, violation_id, v.quarter, v.logged, v.retracted)
             for (agency, violation_id), v in self.violations.items()),
        )  # fmt: skip
        if self.tasks:
            await connection.execute(TASK, *_columns(
                [(agency, task_id, task.status == "open", task.due)
                 for (agency, task_id), task in self.tasks.items()]))  # fmt: skip
        if self.coverage:
            await connection.execute(COVERAGE, *_columns(
                [(agency, quarter, c.pairings, c.visited, c.rate, at)
                 for (agency, quarter), (c, at) in self.coverage.items()]))  # fmt: skip
        if self.received:
            await connection.execute(RECEIVED, *_columns(list(self.received.items())))


def _columns(rows: Sequence[Sequence[object]]) -> list[list[object]]:
    return [list(column) for column in zip(*rows, strict=True)]


S = TypeVar("S")


async def _scores(
    connection: asyncpg.Connection,
    kept: Tally,
    gone: Tally,
    scores: Mapping[ScoreKey, S | None],
    values: Callable[[S], tuple[object, ...]],
) -> None:
    await kept.write(connection, ((*key, *values(s)) for key, s in scores.items() if s is not None))
    gone_keys = [key for key, s in scores.items() if s is None]
    if gone_keys:  # a deletion needs only the key; the other columns are not read
        blanks = tuple(None for _ in gone.columns[len(gone.key) :])
        await gone.write(connection, ((*key, *blanks) for key in gone_keys))


# --- the inbound events it reads ------------------------------------------------------------

Take = Callable[[CommitteeBatch, str, Any, Stamp], None]


def _registered(batch: CommitteeBatch, agency: str, data: ev.MemberRegistered, at: Stamp) -> None:
    batch.member(agency, data.member_id, True, at)


def _left(batch: CommitteeBatch, agency: str, data: ev.MemberLeft, at: Stamp) -> None:
    batch.member(agency, data.member_id, False, at)


def _delivered(batch: CommitteeBatch, agency: str, data: ev.LectureDelivered, at: Stamp) -> None:
    batch.lecture(agency, data.lecture_id, at.time)


def _logged(batch: CommitteeBatch, agency: str, data: ev.ViolationLogged, at: Stamp) -> None:
    violation = batch.violation(agency, data.violation_id)
    violation.quarter, violation.logged = str(Quarter.of(at.time)), True


def _retracted(batch: CommitteeBatch, agency: str, data: ev.ViolationRetracted, at: Stamp) -> None:
    batch.violation(agency, data.violation_id).retracted = True


TAKES: dict[type[EventData], Take] = {
    ev.MemberRegistered: _registered,
    ev.MemberLeft: _left,
    ev.LectureDelivered: _delivered,
    ev.ViolationLogged: _logged,
    ev.ViolationRetracted: _retracted,
}
READS: dict[str, Take] = {wire: take for kind, take in TAKES.items() for wire in _wire_types(kind)}


async def forget(connection: asyncpg.Connection) -> None:
    """Empty the committee's tables (a rebuild reads every agency's records again)."""
    await connection.execute(f"TRUNCATE {', '.join(f'{SCHEMA}.{t}' for t in TABLES)}")
