"""The gateway's projector: derived topics and the registry into PostgreSQL read models.

Runs under `ProjectionRunner`, so rows and offsets commit together. A record that cannot be read
is kept in gateway.dead_letters with its reason and its bytes as they were, never dropped, and
never stops the projector; a record that fails otherwise the runner parks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from pydantic import TypeAdapter, ValidationError

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import decode_json, parse_event
from mingdeng.contracts.derived import (
    Bulletin,
    EventStatus,
    IndexScore,
    Notification,
    OutreachView,
    QuarterSelection,
    Selection,
    Task,
)
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.topics import (
    BULLETINS,
    DEAD_LETTER,
    EVENT_STATUS,
    EVENTS,
    NOTIFICATIONS,
    OUTREACH,
    SCORES,
    SELECTIONS,
    TASKS,
    Topic,
)
from mingdeng.gateway.adapters.read_cache import CHANGED_CHANNEL
from mingdeng.runtime.projection import Record
from mingdeng.runtime.settings import KafkaSettings

log = logging.getLogger(__name__)

SELECTION: TypeAdapter[Selection] = TypeAdapter(Selection)
MAX_DEAD_LETTER_BYTES = 4 * 1024 * 1024  # a dead letter carries the refused record inside
PREVIEW_CHARS = 64 * 1024
SCORE_CHANNEL = "mingdeng_scores"
PROJECTOR_GROUP = "mingdeng-gateway-projector"
PROJECTED: tuple[Topic, ...] = (
    EVENTS,
    SCORES,
    SELECTIONS,
    EVENT_STATUS,
    DEAD_LETTER,
    OUTREACH,
    TASKS,
    NOTIFICATIONS,
    BULLETINS,
)


class Projector:
    def __init__(self, kafka: KafkaSettings) -> None:
        self._topics = {kafka.topic(t): t for t in PROJECTED}
        self.topic_names = list(self._topics)

    async def handle(self, connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        # the topics with a record per event, per subject and per quarter are written per batch
        scores: dict[str, IndexScore | None] = {}  # the last of each key; None: it left
        selections: dict[str, Selection] = {}  # the last of each key
        org_changed = False  # a member, department or branch: who may see what moved
        inserts = _Inserts()  # inbound rows that only ever add: one statement per table
        statuses: dict[tuple[str, str], EventStatus] = {}
        for record in records:
            topic = self._topics[record.topic]
            try:
                if record.value is None:
                    if topic is SCORES and record.key:  # a subject that left the standings
                        scores[record.key.decode()] = None
                    continue  # any other tombstone: nothing to show
                if topic is SCORES:
                    score = IndexScore.model_validate_json(record.value)
                    scores[score.key] = score
                elif topic is SELECTIONS:
                    selection = SELECTION.validate_json(record.value)
                    selections[selection.key] = selection
                elif topic is EVENT_STATUS:
                    status = EventStatus.model_validate_json(record.value)
                    statuses[(status.source, status.id)] = status
                elif topic is TASKS:
                    await _task(connection, Task.model_validate_json(record.value))
                elif topic is NOTIFICATIONS:
                    await _notification(connection, Notification.model_validate_json(record.value))
                elif topic is BULLETINS:
                    bulletin = Bulletin.model_validate_json(record.value)
                    await connection.execute(
                        "INSERT INTO gateway.bulletins VALUES ($1, $2) ON CONFLICT (month) DO UPDATE SET body = EXCLUDED.body",
                        bulletin.month,
                        bulletin.model_dump_json(),
                    )
                elif topic is OUTREACH:
                    await _outreach(connection, OutreachView.model_validate_json(record.value))
                elif topic is DEAD_LETTER:
                    body = decode_json(record.value, max_bytes=MAX_DEAD_LETTER_BYTES)
                    await _keep_dead_letter(connection, record, body, "dead-lettered upstream")
                else:
                    org_changed |= await _registry(connection, record.value, inserts)
            except (ValidationError, ValueError) as error:  # InvalidEvent is a ValueError
                log.warning(
                    "unreadable record %s[%d]@%d: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    str(error).replace("\x00", "\\x00")[:500],
                )
                await _keep_dead_letter(
                    connection,
                    record,
                    {
                        "consumer": "gateway.projector",
                        "raw": _preview(record.value),
                        "reasons": [{"field": "(record)", "message": str(error)}],
                        "failed_at": datetime.now(UTC).isoformat(),
                    },
                    type(error).__name__,
                )

        await _scores(connection, scores)
        for selection in selections.values():
            await _selection(connection, selection)
        await _statuses(connection, list(statuses.values()))
        await inserts.write(connection)
        if scores or selections or statuses:  # statuses: what each index is explained by
            await connection.execute("SELECT pg_notify($1, 'rankings')", CHANGED_CHANNEL)
        if org_changed:
            await connection.execute("UPDATE gateway.registry_version SET version = version + 1")
            await connection.execute("SELECT pg_notify($1, 'registry')", CHANGED_CHANNEL)


async def _scores(connection: asyncpg.Connection, scores: dict[str, IndexScore | None]) -> None:
    """Upsert the batch's scores in one statement, delete those that left; a subject new to a
    quarter whose ranking is already projected takes its rank from it. Every change is told to
    the stream (GET /v1/stream) when, and only if, the transaction commits."""
    gone = [key.split("/", 2) for key, score in scores.items() if score is None]
    if gone:
        await connection.execute(
            """DELETE FROM gateway.scores s USING unnest($1::text[], $2::text[], $3::text[])
                   AS d(quarter, level, id)
               WHERE (s.quarter, s.level, s.id) = (d.quarter, d.level, d.id)""",
            *(list(column) for column in zip(*gone, strict=True)),
        )
    kept = [score for score in scores.values() if score is not None]
    if not kept:
        return
    rows = await connection.fetch(
        """INSERT INTO gateway.scores
               (quarter, level, id, department_id, branch_id, index_exact, status, body)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                $6::float8[], $7::text[], $8::jsonb[])
           ON CONFLICT (quarter, level, id) DO UPDATE SET
               department_id = EXCLUDED.department_id, branch_id = EXCLUDED.branch_id,
               index_exact = EXCLUDED.index_exact,
               status = EXCLUDED.status, body = EXCLUDED.body, updated_at = now()
           RETURNING quarter, level, id, rank""",
        [s.quarter for s in kept],
        [s.level for s in kept],
        [s.id for s in kept],
        [s.department_id for s in kept],
        [s.branch_id for s in kept],
        [s.index_exact for s in kept],
        [s.status for s in kept],
        [s.model_dump_json() for s in kept],
    )
    ranks = {(r["quarter"], r["level"], r["id"]): r["rank"] for r in rows}
    unranked = sorted({quarter for (quarter, _, _), rank in ranks.items() if rank is None})
    if unranked:
        for row in await connection.fetch(
            """UPDATE gateway.scores s SET rank = r.rank
               FROM (SELECT sel.key AS quarter, lv.level, e.id, e.rank
                     FROM gateway.selections sel
                     CROSS JOIN (VALUES ('member'), ('department'), ('branch')) AS lv(level)
                     CROSS JOIN LATERAL jsonb_array_elements_text(sel.body->'ranking'->lv.level)
                         WITH ORDINALITY AS e(id, rank)
                     WHERE sel.key = ANY($1::text[])) AS r
               WHERE s.rank IS NULL
                 AND (s.quarter, s.level, s.id) = (r.quarter, r.level, r.id)
               RETURNING s.quarter, s.level, s.id, s.rank""",
            unranked,
        ):
            ranks[(row["quarter"], row["level"], row["id"])] = row["rank"]
    changes = [
        json.dumps(
            {
                "quarter": s.quarter,
                "level": s.level,
                "id": s.id,
                "name": s.name,
                "department_id": s.department_id,
                "branch_id": s.branch_id,
                "rank": ranks.get((s.quarter, s.level, s.id)),
                "index": s.index,
                "status": s.status,
            },
            ensure_ascii=False,
        )
        for s in kept
    ]
    await connection.execute(
        "SELECT pg_notify($1, change) FROM unnest($2::text[]) AS change", SCORE_CHANNEL, changes
    )


async def _selection(connection: asyncpg.Connection, selection: Selection) -> None:
    await connection.execute(
        """INSERT INTO gateway.selections (key, kind, status, body) VALUES ($1, $2, $3, $4)
           ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, status = EXCLUDED.status,
               body = EXCLUDED.body, updated_at = now()""",
        selection.key,
        selection.kind,
        selection.status,
        selection.model_dump_json(),
    )
    if isinstance(selection, QuarterSelection):
        await _rank(connection, selection)


async def _rank(connection: asyncpg.Connection, selection: QuarterSelection) -> None:
    """Ranks from the quarter's ranking order, written only where they moved; each move is an
    index change for the stream too."""
    for level, ids in selection.ranking.model_dump().items():
        await connection.execute(
            """WITH moved AS (
                   UPDATE gateway.scores s SET rank = r.rank
                   FROM unnest($3::text[]) WITH ORDINALITY AS r(id, rank)
                   WHERE s.quarter = $1 AND s.level = $2 AND s.id = r.id
                     AND s.rank IS DISTINCT FROM r.rank
                   RETURNING s.quarter, s.level, s.id, s.department_id, s.branch_id, s.rank,
                             s.status, s.body)
               SELECT pg_notify($4, json_build_object(
                   'quarter', quarter, 'level', level, 'id', id, 'name', body->>'name',
                   'department_id', department_id, 'branch_id', branch_id, 'rank', rank,
                   'index', (body->>'index')::float8, 'status', status)::text)
               FROM moved""",
            selection.quarter,
            level,
            ids,
            SCORE_CHANNEL,
        )


async def _statuses(connection: asyncpg.Connection, statuses: list[EventStatus]) -> None:
    """The batch's statuses and what each event feeds, a statement per table."""
    if not statuses:
        return
    await connection.execute(
        """INSERT INTO gateway.event_status (source, id, status, late_for, body)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
           ON CONFLICT (source, id) DO UPDATE SET status = EXCLUDED.status,
               late_for = EXCLUDED.late_for, body = EXCLUDED.body, updated_at = now()""",
        [s.source for s in statuses],
        [s.id for s in statuses],
        [s.status for s in statuses],
        [s.late_for for s in statuses],
        [s.model_dump_json() for s in statuses],
    )
    fed = [
        (c.quarter, c.level, c.id, c.component, s.source, s.id, s.type)
        for s in statuses
        for c in s.counts_for
    ]
    if fed:
        await connection.execute(
            """INSERT INTO gateway.contributions
                   (quarter, level, subject_id, component, source, id, type)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                    $6::text[], $7::text[])
               ON CONFLICT DO NOTHING""",
            *(list(column) for column in zip(*fed, strict=True)),
        )
    for status in statuses:
        for replaced in status.supersedes:
            await connection.execute(
                """DELETE FROM gateway.contributions o
                   USING gateway.contributions n
                   WHERE o.source = $1 AND o.id = $2 AND n.source = $3 AND n.id = $4
                     AND (o.quarter, o.level, o.subject_id, o.component)
                       = (n.quarter, n.level, n.subject_id, n.component)""",
                replaced.source,
                replaced.id,
                status.source,
                status.id,
            )


async def _outreach(connection: asyncpg.Connection, view: OutreachView) -> None:
    await connection.execute(
        """INSERT INTO gateway.outreach_views (key, view, member_id, body, computed_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (key) DO UPDATE SET view = EXCLUDED.view, member_id = EXCLUDED.member_id,
               body = EXCLUDED.body, computed_at = EXCLUDED.computed_at
           WHERE gateway.outreach_views.computed_at <= EXCLUDED.computed_at""",
        view.key,
        view.view,
        view.member_id,
        json.dumps(view.body, ensure_ascii=False),
        view.computed_at,
    )


async def _task(connection: asyncpg.Connection, task: Task) -> None:
    await connection.execute(
        """INSERT INTO gateway.tasks VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (task_id) DO UPDATE SET assignee_id = EXCLUDED.assignee_id,
               status = EXCLUDED.status, due = EXCLUDED.due, body = EXCLUDED.body""",
        task.task_id,
        task.kind,
        task.assignee_id,
        task.member_id,
        task.status,
        task.due,
        task.model_dump_json(),
    )


async def _notification(connection: asyncpg.Connection, record: Notification) -> None:
    await connection.execute(
        """INSERT INTO gateway.notifications VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (key) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
               body = EXCLUDED.body
           WHERE gateway.notifications.updated_at <= EXCLUDED.updated_at""",
        record.key,
        record.recipient_id,
        record.status,
        record.updated_at,
        record.model_dump_json(),
    )


async def _keep_dead_letter(
    connection: asyncpg.Connection, record: Record, body: object, reason: str
) -> None:
    """The readable body (NUL characters, which jsonb refuses, shown as U+FFFD) beside the
    record's bytes exactly as they were."""
    await connection.execute(
        """INSERT INTO gateway.dead_letters (topic, partition, "offset", body, raw, reason)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
        record.topic,
        record.partition,
        record.offset,
        json.dumps(_storable(body), ensure_ascii=False),
        record.value,
        reason,
    )


def _preview(value: bytes | None) -> str | None:
    return None if value is None else value[:PREVIEW_CHARS].decode(errors="replace")


def _storable(value: object) -> object:
    """`value` with every NUL in its strings replaced (its depth is bounded by decode_json)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


REGISTRY_READS = frozenset(
    kind.event_type
    for kind in (
        ev.BranchRegistered,
        ev.DepartmentRegistered,
        ev.MemberRegistered,
        ev.MemberLeft,
        ev.LectureScheduled,
        ev.LectureDelivered,
        ev.LectureAttended,
        ev.KpiReported,
    )
)


def _event_type(value: bytes) -> object:
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        return None
    return document.get("type") if isinstance(document, dict) else None


@dataclass
class _Inserts:
    """Attendances and KPI reports of a batch: rows that are only ever added (the first one of a
    key stays), written with one statement per table after the batch."""

    attendances: list[tuple[str, str, datetime]] = field(default_factory=list)
    kpis: list[tuple[object, ...]] = field(default_factory=list)

    async def write(self, connection: asyncpg.Connection) -> None:
        if self.attendances:
            await connection.execute(
                """INSERT INTO gateway.attendances
                   SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
                   ON CONFLICT DO NOTHING""",
                *map(list, zip(*self.attendances, strict=True)),
            )
        if self.kpis:
            await connection.execute(
                """INSERT INTO gateway.kpis
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                        $5::text[], $6::text[], $7::float8[], $8::text[],
                                        $9::timestamptz[])
                   ON CONFLICT DO NOTHING""",
                *map(list, zip(*self.kpis, strict=True)),
            )


async def _registry(connection: asyncpg.Connection, value: bytes, inserts: _Inserts) -> bool:
    """Project an inbound event (attendances and KPI reports into `inserts`); True when it
    changed a member, department or branch."""
    if _event_type(value) not in REGISTRY_READS:
        return False  # most inbound events: no need to validate what nothing here reads
    try:
        event = parse_event(value)
    except InvalidEvent:
        return False  # scoring dead-letters invalid inbound events with their reasons
    data, at = event.data, event.time
    org_changed = isinstance(
        data, ev.BranchRegistered | ev.DepartmentRegistered | ev.MemberRegistered | ev.MemberLeft
    )
    match data:
        case ev.BranchRegistered():
            await connection.execute(
                """INSERT INTO gateway.branches VALUES ($1, $2, $3)
                   ON CONFLICT (branch_id) DO UPDATE SET name = EXCLUDED.name, stamp = EXCLUDED.stamp
                   WHERE gateway.branches.stamp <= EXCLUDED.stamp""",
                data.branch_id,
                data.name,
                at,
            )
        case ev.DepartmentRegistered():
            await connection.execute(
                """INSERT INTO gateway.departments VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (department_id) DO UPDATE SET name = EXCLUDED.name,
                       branch_id = EXCLUDED.branch_id, leader_id = EXCLUDED.leader_id,
                       stamp = EXCLUDED.stamp
                   WHERE gateway.departments.stamp <= EXCLUDED.stamp""",
                data.department_id,
                data.name,
                data.branch_id,
                data.leader_id,
                at,
            )
        case ev.MemberRegistered():
            await connection.execute(
                """INSERT INTO gateway.members
                       (member_id, name, department_id, phone, roles, party_member, registered_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (member_id) DO UPDATE SET name = EXCLUDED.name,
                       department_id = EXCLUDED.department_id, phone = EXCLUDED.phone,
                       roles = EXCLUDED.roles, party_member = EXCLUDED.party_member,
                       registered_at = EXCLUDED.registered_at
                   WHERE gateway.members.registered_at <= EXCLUDED.registered_at""",
                data.member_id,
                data.name,
                data.department_id,
                data.phone,
                list(data.roles),
                data.party_member,
                at,
            )
        case ev.MemberLeft():
            await connection.execute(
                """INSERT INTO gateway.members
                       (member_id, name, department_id, roles, party_member, registered_at, left_at)
                   VALUES ($1, $1, '', '{}', false, '-infinity', $2)
                   ON CONFLICT (member_id) DO UPDATE SET left_at = EXCLUDED.left_at
                   WHERE gateway.members.left_at IS NULL OR gateway.members.left_at < EXCLUDED.left_at""",
                data.member_id,
                at,
            )
        case ev.LectureScheduled():
            await connection.execute(
                """INSERT INTO gateway.lectures
                       (lecture_id, date, module, theme, title, speaker_id, scheduled_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (lecture_id) DO UPDATE SET date = EXCLUDED.date,
                       module = EXCLUDED.module, theme = EXCLUDED.theme, title = EXCLUDED.title,
                       speaker_id = EXCLUDED.speaker_id, scheduled_at = EXCLUDED.scheduled_at
                   WHERE gateway.lectures.scheduled_at IS NULL
                      OR gateway.lectures.scheduled_at <= EXCLUDED.scheduled_at""",
                data.lecture_id,
                data.date,
                data.module,
                data.theme,
                data.title,
                data.speaker_id,
                at,
            )
        case ev.LectureDelivered():
            await connection.execute(
                """INSERT INTO gateway.lectures (lecture_id, delivered_at, delivered_by)
                   VALUES ($1, $2, $3)
                   ON CONFLICT (lecture_id) DO UPDATE SET delivered_at = EXCLUDED.delivered_at,
                       delivered_by = EXCLUDED.delivered_by
                   WHERE gateway.lectures.delivered_at IS NULL
                      OR gateway.lectures.delivered_at > EXCLUDED.delivered_at""",
                data.lecture_id,
                at,
                data.speaker_id,
            )
        case ev.LectureAttended():
            inserts.attendances.append((data.lecture_id, data.member_id, at))
        case ev.KpiReported():
            inserts.kpis.append(
                (
                    event.source,
                    event.id,
                    data.subject_type,
                    data.subject_id,
                    data.metric,
                    data.period,
                    data.value,
                    data.unit,
                    at,
                )
            )
        case _:
            pass  # other inbound types are read by other projections
    return org_changed


PROJECTION_TABLES = (
    "tasks",
    "notifications",
    "bulletins",
    "scores",
    "selections",
    "event_status",
    "dead_letters",
    "branches",
    "departments",
    "members",
    "outreach_views",
    "lectures",
    "attendances",
    "kpis",
)


async def forget_projections(connection: asyncpg.Connection, consumer: str) -> None:
    """Empty every read model and the projector's offsets: its next start reads the log again.
    The ingestion ledger (gateway.accepted_events) is not a projection and stays."""
    async with connection.transaction():
        tables = ", ".join(f"gateway.{table}" for table in PROJECTION_TABLES)
        await connection.execute(f"TRUNCATE {tables}")
        await connection.execute("UPDATE gateway.registry_version SET version = version + 1")
        await connection.execute("SELECT pg_notify($1, 'all')", CHANGED_CHANNEL)
        await connection.execute(
            "DELETE FROM public.consumer_offsets WHERE consumer = $1", consumer
        )
