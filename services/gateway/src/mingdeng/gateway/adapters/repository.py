"""Queries over the gateway's read models."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from pydantic import TypeAdapter

from mingdeng.contracts.derived import (
    Bulletin,
    IndexScore,
    Notification,
    QuarterSelection,
    Task,
    YearTopTen,
)
from mingdeng.gateway.adapters.agency_schemas import current_agency
from mingdeng.gateway.adapters.read_cache import ReadCache
from mingdeng.gateway.adapters.read_models.selections import SELECTION
from mingdeng.gateway.domain.access import Org

LATE_FIELDS = ("source", "id", "type", "reasons", "at")
T = TypeVar("T")


async def org(connection: asyncpg.Connection) -> Org:
    members = await connection.fetch("SELECT member_id, department_id FROM active_members")
    departments = await connection.fetch(
        "SELECT department_id, branch_id, leader_id FROM departments"
    )
    return Org(
        member_department={r["member_id"]: r["department_id"] for r in members},
        department_branch={r["department_id"]: r["branch_id"] for r in departments},
        department_leader={r["department_id"]: r["leader_id"] for r in departments},
    )


class OrgCache:
    """The registry as of its version (`registry_version`, bumped by the projector with
    every change of a member, department or branch): read again only when it moved. While the
    read cache listens, its registry generation tells that without a query."""

    def __init__(self, changes: ReadCache) -> None:
        self._changes = changes
        # by agency: (the registry version, the read cache's generation, the registry)
        self._orgs: dict[str, tuple[int, int | None, Org]] = {}

    async def get(self, pool: asyncpg.Pool) -> Org:
        """The registry of the request's agency (`current_agency`)."""
        agency = current_agency.get()
        if agency is None:
            raise LookupError("who may see what is asked for outside of any agency")
        generation = self._changes.generation("registry")
        known = self._orgs.get(agency)
        if known is not None and generation is not None and generation == known[1]:
            return known[2]
        async with pool.acquire() as connection:
            version = await connection.fetchval("SELECT version FROM registry_version")
            found = known[2] if known is not None and known[0] == version else None
            if found is None:
                found = await org(connection)
        self._orgs[agency] = (version, generation, found)
        return found


RANKING_ITEM = {
    "member": """json_build_object('rank', rank, 'member_id', id, 'name', body->'name',
                                   'department_id', department_id, 'index', body->'index',
                                   'components', body->'components')""",
    "department": """json_build_object('rank', rank, 'id', id, 'name', body->'name',
                                       'index', body->'index', 'components', body->'components')""",
}
RANKING_ITEM["branch"] = RANKING_ITEM["department"]


@dataclass(frozen=True)
class RankKey:
    """The last item of a page, in the ranking's order (rank, then id; the scores not ranked
    yet, `rank` None, after all ranks): the next page starts after it."""

    rank: int | None
    id: str


@dataclass(frozen=True)
class RankingPage:
    """Which page of which ranking, among `ids` (None: all) and within `department_ids` (None:
    any): `limit` items after `after`, or else after the first `offset`. Ranks stay the
    quarter's: a filter only chooses the rows."""

    quarter: str
    level: str
    ids: frozenset[str] | None
    department_ids: frozenset[str] | None
    limit: int
    offset: int
    after: RankKey | None = None


@dataclass(frozen=True)
class RankedPage:
    """The quarter's status, the page as the API answers it (JSON), and where the next page
    starts (None: this is the last)."""

    status: str
    body: bytes
    next: RankKey | None


# The three ways to a page's rows, one of them taken per request (a parameter each, a
# one-time filter: the other two read nothing). Parameters: $1 quarter, $2 level, $3/$4 where
# to start (see `ranking`), $5 rows wanted, $6/$7 where the unranked scores start, $8/$9 the
# filters, $10 the total when it is kept, $14 how many ranked scores to skip.
RANKED_ROWS = """SELECT k.rank, s.id, s.department_id, s.body
    FROM score_ranks k
    JOIN scores s ON (s.quarter, s.level, s.id) = (k.quarter, k.level, k.id)
    WHERE $11::boolean AND k.quarter = $1 AND k.level = $2
      AND k.rank >= $3 AND (k.rank > $3 OR $4::text IS NULL OR k.id > $4)
    ORDER BY k.rank, k.id OFFSET $14 LIMIT $5"""
UNRANKED_ROWS = """SELECT NULL::integer AS rank, s.id, s.department_id, s.body
    FROM scores s
    WHERE $12::boolean AND s.quarter = $1 AND s.level = $2 AND s.id > $6
      AND NOT EXISTS (SELECT FROM score_ranks k
                      WHERE (k.quarter, k.level, k.id) = (s.quarter, s.level, s.id))
    ORDER BY s.id OFFSET $7 LIMIT $5"""
FILTERED_ROWS = """SELECT k.rank, s.id, s.department_id, s.body
    FROM scores s
    LEFT JOIN score_ranks k ON (k.quarter, k.level, k.id) = (s.quarter, s.level, s.id)
    WHERE $13::boolean AND s.quarter = $1 AND s.level = $2
      AND ($8::text[] IS NULL OR s.id = ANY($8::text[]))
      AND ($9::text[] IS NULL OR s.department_id = ANY($9::text[]))
      AND ($4::text IS NULL
           OR CASE WHEN $3::integer IS NULL THEN k.rank IS NULL AND s.id > $4
                   ELSE k.rank IS NULL OR k.rank > $3 OR (k.rank = $3 AND s.id > $4) END)
    ORDER BY k.rank NULLS LAST, s.id OFFSET $7 LIMIT $5"""


# The page of a whole ranking whose scores all have a rank (the usual page, public ones too):
# a range of ranks, nothing else. A statement of its own because PostgreSQL plans the general
# one above for every request (its generic plan costs the branches a request does not take):
# 0.7 against 1.4 ms a page at 20,000 members. $1 quarter, $2 level, $3/$4 where to start,
# $5 rows wanted, $6 the total.
RANKS_ONLY_PAGE = {
    level: f"""WITH page AS (
            SELECT k.rank, s.id, s.department_id, s.body
            FROM score_ranks k
            JOIN scores s ON (s.quarter, s.level, s.id) = (k.quarter, k.level, k.id)
            WHERE k.quarter = $1 AND k.level = $2
              AND k.rank >= $3 AND (k.rank > $3 OR $4::text IS NULL OR k.id > $4)
            ORDER BY k.rank, k.id LIMIT $5),
        shown AS (SELECT * FROM page ORDER BY rank, id LIMIT $5 - 1),
        quarter AS (
            SELECT coalesce((SELECT status FROM selections WHERE key = $1), 'provisional')
            AS status)
        SELECT status, json_build_object(
                   'quarter', $1::text, 'status', status, 'total', $6::bigint,
                   'items', coalesce(
                       (SELECT json_agg({item} ORDER BY rank, id) FROM shown), '[]'))::text AS body,
               (SELECT count(*) FROM page) = $5 AS more,
               last.rank AS last_rank, last.id AS last_id
        FROM quarter
        LEFT JOIN (SELECT rank, id FROM shown ORDER BY rank DESC, id DESC LIMIT 1) AS last ON true"""
    for level, item in RANKING_ITEM.items()
}


async def ranking(connection: asyncpg.Connection, page: RankingPage) -> RankedPage:
    """A page of a ranking as the API answers it, encoded by PostgreSQL; only the page's rows
    are read. The total is the projector's (`ranking_totals`, `score_totals`), counted only
    within a viewer's own part of the bureau. Over the whole ranking a page is a range of ranks
    (an index scan) at any offset whenever each id of the ranking has a score (the projector
    keeps that count too: so it is once a batch's chunks are read); until then the ranks are
    walked in order (an index scan too) up to the page; within a filter the rows are read in
    order up to the page."""
    totals = await connection.fetchrow(
        """SELECT scored, ranked, matched FROM ranking_totals
           WHERE quarter = $1 AND level = $2""",
        page.quarter,
        page.level,
    )
    scored, ranked, matched = (
        (totals["scored"], totals["ranked"], totals["matched"]) if totals else (0, 0, 0)
    )
    after, whole = page.after, page.ids is None and page.department_ids is None
    total: int | None = scored if whole else None
    if page.ids is None and page.department_ids is not None:
        total = await connection.fetchval(
            """SELECT coalesce(sum(scored), 0) FROM score_totals
               WHERE quarter = $1 AND level = $2 AND department_id = ANY($3::text[])""",
            page.quarter,
            page.level,
            list(page.department_ids),
        )
    by_rank, skipped = whole, 0
    if by_rank and after is None and matched == ranked:  # each rank has a score: skip ranks
        start: tuple[int | None, str | None] = (page.offset + 1, None)
        unranked: tuple[str, int] = ("", max(0, page.offset - matched))
    elif by_rank and after is None:  # some ranks still wait for their score: skip scores
        start, skipped = (1, None), page.offset
        unranked = ("", max(0, page.offset - matched))
    elif by_rank and after is not None:
        start = (after.rank if after.rank is not None else ranked + 1, after.id)
        unranked = ("" if after.rank is not None else after.id, 0)
    else:
        start = (None, None) if after is None else (after.rank, after.id)
        unranked = ("", page.offset if after is None else 0)  # $7: the filtered rows' offset
    if by_rank and scored == matched and skipped == 0:
        row = await connection.fetchrow(
            RANKS_ONLY_PAGE[page.level], page.quarter, page.level, *start, page.limit + 1, total
        )
    else:
        row = await connection.fetchrow(
            f"""WITH page AS (
                    SELECT rank, id, department_id, body
                    FROM (({RANKED_ROWS}) UNION ALL ({UNRANKED_ROWS}) UNION ALL ({FILTERED_ROWS}))
                        AS found
                    ORDER BY rank NULLS LAST, id LIMIT $5),
                shown AS (SELECT * FROM page ORDER BY rank NULLS LAST, id LIMIT $5 - 1),
                quarter AS (
                    SELECT coalesce(
                        (SELECT status FROM selections WHERE key = $1), 'provisional')
                    AS status)
                SELECT status, json_build_object(
                           'quarter', $1::text,
                           'status', status,
                           'total', coalesce($10::bigint, (
                               SELECT count(*) FROM scores s
                               WHERE s.quarter = $1 AND s.level = $2
                                 AND ($8::text[] IS NULL OR s.id = ANY($8::text[]))
                                 AND ($9::text[] IS NULL OR s.department_id = ANY($9::text[])))),
                           'items', coalesce(
                               (SELECT json_agg({RANKING_ITEM[page.level]} ORDER BY rank NULLS LAST, id)
                                FROM shown), '[]'))::text AS body,
                       (SELECT count(*) FROM page) = $5 AS more,
                       last.rank AS last_rank, last.id AS last_id
                FROM quarter
                LEFT JOIN (SELECT rank, id FROM shown ORDER BY rank DESC NULLS FIRST, id DESC LIMIT 1)
                    AS last ON true""",
            page.quarter,
            page.level,
            *start,
            page.limit + 1,
            *unranked,
            None if page.ids is None else list(page.ids),
            None if page.department_ids is None else list(page.department_ids),
            total,
            by_rank,
            by_rank and scored > matched,  # scores that the quarter's ranking does not have yet
            not by_rank,
            skipped,
        )
    following = RankKey(row["last_rank"], row["last_id"]) if row["more"] else None
    return RankedPage(row["status"], row["body"].encode(), following)


async def score(
    connection: asyncpg.Connection, quarter: str, level: str, subject_id: str
) -> tuple[IndexScore, int | None] | None:
    """A subject's score, and its rank (None until the quarter's ranking has it)."""
    row = await connection.fetchrow(
        """SELECT k.rank, s.body FROM scores s
           LEFT JOIN score_ranks k USING (quarter, level, id)
           WHERE s.quarter = $1 AND s.level = $2 AND s.id = $3""",
        quarter,
        level,
        subject_id,
    )
    return (IndexScore.model_validate_json(row["body"]), row["rank"]) if row else None


CONTRIBUTION = """c.source, c.id, c.type, f.time, f.data FROM contributions AS c
    LEFT JOIN event_facts AS f ON f.source = c.source AND f.id = c.id"""


def _contribution(row: asyncpg.Record) -> dict[str, Any]:
    """An event that fed an index: its source, id and type, and when it happened and its data
    when the gateway has read the event itself (`read_models.facts`)."""
    data = json.loads(row["data"]) if row["data"] is not None else None
    return {"source": row["source"], "id": row["id"], "type": row["type"], "time": row["time"],
            "data": data}  # fmt: skip


async def contributions(
    connection: asyncpg.Connection, quarter: str, level: str, subject_id: str, first: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
    """The first `first` events that fed each component of a subject's index (as scoring
    attributed them, by source and id), and how many fed each component in all."""
    rows = await connection.fetch(
        f"""SELECT * FROM (
               SELECT c.component,
                      count(*) OVER (PARTITION BY c.component) AS total,
                      row_number() OVER (PARTITION BY c.component ORDER BY c.source, c.id) AS n,
                      {CONTRIBUTION}
               WHERE c.quarter = $1 AND c.level = $2 AND c.subject_id = $3) AS numbered
           WHERE n <= $4 ORDER BY component, source, id""",
        quarter,
        level,
        subject_id,
        first,
    )
    found: dict[str, list[dict[str, Any]]] = {}
    totals: dict[str, int] = {}
    for row in rows:
        found.setdefault(row["component"], []).append(_contribution(row))
        totals[row["component"]] = row["total"]
    return found, totals


async def contributions_page(
    connection: asyncpg.Connection,
    quarter: str,
    level: str,
    subject_id: str,
    component: str,
    limit: int,
    offset: int,
    after: tuple[str, str] | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """A page of the events that fed one component, by source and id (those after `after`,
    an index range, or else after the first `offset`); and how many in all."""
    where = "quarter = $1 AND level = $2 AND subject_id = $3 AND component = $4"
    rows = await connection.fetch(
        f"""SELECT {CONTRIBUTION}
            WHERE c.quarter = $1 AND c.level = $2 AND c.subject_id = $3 AND c.component = $4
              AND ($7::text IS NULL OR (c.source, c.id) > ($7, $8))
            ORDER BY c.source, c.id LIMIT $5 OFFSET $6""",
        quarter,
        level,
        subject_id,
        component,
        limit,
        0 if after else offset,
        *(after or (None, None)),
    )
    total = await connection.fetchval(
        f"SELECT count(*) FROM contributions WHERE {where}",
        quarter,
        level,
        subject_id,
        component,
    )
    return total, [_contribution(row) for row in rows]


async def late_events(connection: asyncpg.Connection, quarter: str) -> list[dict[str, Any]]:
    """Events read after `quarter` closed: kept, listed, not applied; with why."""
    rows = await connection.fetch(
        """SELECT body FROM event_status WHERE late_for = $1
           ORDER BY body->>'at', source, id""",
        quarter,
    )
    return [{k: v for k, v in json.loads(row["body"]).items() if k in LATE_FIELDS} for row in rows]


async def selection(
    connection: asyncpg.Connection, key: str
) -> QuarterSelection | YearTopTen | None:
    """The selections of a quarter, or the top ten of a year (`key`: 2026Q3, 2026)."""
    body = await connection.fetchval("SELECT body FROM selections WHERE key = $1", key)
    return SELECTION.validate_json(body) if body else None


async def event_status(
    connection: asyncpg.Connection, agency: str, source: str, event_id: str
) -> dict[str, Any] | None:
    """What became of an event of `agency` (the ledger is the platform's: filtered by it)."""
    row = await connection.fetchrow(
        """SELECT s.body AS status, a.accepted_at
           FROM (SELECT * FROM gateway.accepted_events WHERE agency_id = $3) a
           FULL JOIN event_status s ON s.source = a.source AND s.id = a.id
           WHERE coalesce(a.source, s.source) = $1 AND coalesce(a.id, s.id) = $2""",
        source,
        event_id,
        agency,
    )
    if row is None:
        return None
    if row["status"] is None:
        return {"source": source, "id": event_id, "status": "accepted"}
    return dict(json.loads(row["status"]))


async def department_names(connection: asyncpg.Connection) -> dict[str, str]:
    rows = await connection.fetch("SELECT department_id, name FROM departments")
    return {row["department_id"]: row["name"] for row in rows}


async def outreach_view(
    connection: asyncpg.Connection, key: str, body: TypeAdapter[T]
) -> tuple[T, datetime] | None:
    """An outreach view read as `body`, the model of its view, and when outreach computed it."""
    row = await connection.fetchrow(
        "SELECT body, computed_at FROM outreach_views WHERE key = $1", key
    )
    return (body.validate_json(row["body"]), row["computed_at"]) if row else None


LINE_ORDER = {
    "coverage_member": 'member_id COLLATE "C"',
    "overdue_pairing": "(body->>'days_without_visit')::int DESC, member_id COLLATE \"C\", "
    "body->>'household_id' COLLATE \"C\"",
    "unpaired_household": "body->>'household_id' COLLATE \"C\"",
}


async def outreach_lines(
    connection: asyncpg.Connection, view: str, body: TypeAdapter[T], period: str | None = None
) -> tuple[list[T], datetime] | None:
    """The lines of an outreach list with something to show, in the list's order, and when
    outreach computed the newest of them (without lines: its newest computation of any view;
    None before it published anything)."""
    in_period = "AND period = $2" if period is not None else "AND $2::text IS NULL"
    rows = await connection.fetch(
        f"""SELECT body, computed_at FROM outreach_views
            WHERE view = $1 {in_period} AND body <> 'null'::jsonb ORDER BY {LINE_ORDER[view]}""",
        view,
        period,
    )
    computed_at = max((row["computed_at"] for row in rows), default=None) or (
        await connection.fetchval("SELECT max(computed_at) FROM outreach_views")
    )
    if computed_at is None:
        return None
    return [body.validate_json(row["body"]) for row in rows], computed_at


async def lecture_stats(connection: asyncpg.Connection, year: int) -> dict[str, Any]:
    """Lectures delivered in `year` (business time) and their attendances (person-times)."""
    rows = await connection.fetch(
        """SELECT l.lecture_id, l.module, l.theme, l.delivered_by, m.name AS speaker_name,
                  to_char(l.delivered_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS month,
                  (SELECT count(*) FROM attendances a WHERE a.lecture_id = l.lecture_id) AS attendances
           FROM lectures l LEFT JOIN members m ON m.member_id = l.delivered_by
           WHERE l.delivered_at IS NOT NULL
             AND extract(year FROM l.delivered_at AT TIME ZONE 'Asia/Shanghai') = $1
           ORDER BY l.lecture_id""",
        year,
    )

    def tally(key: str) -> list[dict[str, Any]]:
        found: dict[str, list[int]] = {}
        for row in rows:
            counts = found.setdefault(row[key] or "unscheduled", [0, 0])
            counts[0] += 1
            counts[1] += row["attendances"]
        return [{key: k, "sessions": s, "attendances": a} for k, (s, a) in sorted(found.items())]

    speakers: dict[str, dict[str, Any]] = {}
    for row in rows:
        speaker = speakers.setdefault(
            row["delivered_by"],
            {"speaker_id": row["delivered_by"], "name": row["speaker_name"], "sessions": 0},
        )
        speaker["sessions"] += 1
    return {
        "year": year,
        "sessions": len(rows),
        "issues": len({row["month"] for row in rows}),
        "attendances": sum(row["attendances"] for row in rows),
        "by_module": tally("module"),
        "by_theme": tally("theme"),
        "by_speaker": sorted(speakers.values(), key=lambda s: (-s["sessions"], s["speaker_id"])),
    }


async def kpis(
    connection: asyncpg.Connection,
    subject_type: str | None,
    subject_id: str | None,
    metric: str | None,
    period: str | None,
) -> list[dict[str, Any]]:
    """Reported KPIs: the latest per (subject, metric, period) by time, with the history."""
    rows = await connection.fetch(
        """SELECT * FROM kpis
           WHERE ($1::text IS NULL OR subject_type = $1) AND ($2::text IS NULL OR subject_id = $2)
             AND ($3::text IS NULL OR metric = $3) AND ($4::text IS NULL OR period = $4)
           ORDER BY subject_type, subject_id, metric, period, reported_at DESC, source DESC, id DESC""",
        subject_type,
        subject_id,
        metric,
        period,
    )
    items: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["subject_type"], row["subject_id"], row["metric"], row["period"])
        report = {
            "value": row["value"],
            "unit": row["unit"],
            "reported_at": row["reported_at"].isoformat(),
            "source": row["source"],
            "id": row["id"],
        }
        if key not in items:
            items[key] = {
                "subject_type": key[0],
                "subject_id": key[1],
                "metric": key[2],
                "period": key[3],
                **report,
                "history": [],
            }
        items[key]["history"].append(report)
    return list(items.values())


async def tasks(
    connection: asyncpg.Connection,
    assignee_id: str | None,
    status: str | None,
    kind: str | None = None,
) -> list[Task]:
    rows = await connection.fetch(
        """SELECT body FROM tasks
           WHERE ($1::text IS NULL OR assignee_id = $1) AND ($2::text IS NULL OR status = $2)
             AND ($3::text IS NULL OR kind = $3)
           ORDER BY due, task_id""",
        assignee_id,
        status,
        kind,
    )
    return [Task.model_validate_json(row["body"]) for row in rows]


async def talk_tasks(connection: asyncpg.Connection) -> list[Task]:
    """The notifier's talk tasks after violations that were not cancelled (retracted), soonest
    due first: the talks owed."""
    rows = await connection.fetch(
        """SELECT body FROM tasks WHERE kind = 'talk' AND status <> 'cancelled'
           ORDER BY due, task_id"""
    )
    return [Task.model_validate_json(row["body"]) for row in rows]


async def notifications(
    connection: asyncpg.Connection,
    recipient_id: str | None,
    limit: int,
    offset: int,
    after: tuple[datetime, str] | None = None,
) -> tuple[list[Notification], tuple[datetime, str] | None]:
    """Newest first, then by key: those after `after` (an index range), or else after the
    first `offset`; and the sort key of the last when there are more."""
    rows = await connection.fetch(
        """SELECT updated_at, key, body FROM notifications
           WHERE ($1::text IS NULL OR recipient_id = $1)
             AND ($4::timestamptz IS NULL OR updated_at < $4 OR (updated_at = $4 AND key > $5))
           ORDER BY updated_at DESC, key LIMIT $2 OFFSET $3""",
        recipient_id,
        limit + 1,
        0 if after else offset,
        *(after or (None, None)),
    )
    last = rows[limit - 1] if len(rows) > limit else None
    found = [Notification.model_validate_json(row["body"]) for row in rows[:limit]]
    return found, None if last is None else (last["updated_at"], last["key"])


async def bulletin(connection: asyncpg.Connection, month: str) -> Bulletin | None:
    body = await connection.fetchval("SELECT body FROM bulletins WHERE month = $1", month)
    return Bulletin.model_validate_json(body) if body else None
