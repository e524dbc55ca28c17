"""Reads of the report's practice (read model `practice`, and `work`'s reports for 在职党员进社区):
rounds of 党性体检 and the cards of the members a viewer sees, 支部结对共建 with its activities
of a year, and members' community 报到. `among` limits the rows to those members, `branches` to
those branches (None: everyone)."""

from __future__ import annotations

import asyncpg

MEMBERS = "($1::text[] IS NULL OR m.member_id = ANY($1::text[]))"


async def rounds(connection: asyncpg.Connection) -> list[asyncpg.Record]:
    found: list[asyncpg.Record] = await connection.fetch(
        "SELECT * FROM health_card_rounds ORDER BY closes_on DESC, round_id"
    )
    return found


async def round_of(connection: asyncpg.Connection, round_id: str) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "SELECT * FROM health_card_rounds WHERE round_id = $1", round_id
    )


async def cards(
    connection: asyncpg.Connection, round_id: str, among: list[str] | None
) -> list[asyncpg.Record]:
    """Each active party member seen, with their branch and their card of the round (its
    columns None while they have not filled it in), by branch and member."""
    found: list[asyncpg.Record] = await connection.fetch(
        f"""SELECT m.member_id, d.branch_id, c.answers, c.filled_at, c.reviewer_id, c.comment,
                   c.reviewed_at
            FROM active_members m
            JOIN departments d USING (department_id)
            LEFT JOIN health_cards c ON c.round_id = $2 AND c.member_id = m.member_id
            WHERE m.party_member AND {MEMBERS}
            ORDER BY d.branch_id, m.member_id""",
        among, round_id,
    )  # fmt: skip
    return found


async def own_cards(connection: asyncpg.Connection, member_id: str) -> list[asyncpg.Record]:
    found: list[asyncpg.Record] = await connection.fetch(
        "SELECT * FROM health_cards WHERE member_id = $1", member_id
    )
    return found


async def pairings(
    connection: asyncpg.Connection, branches: list[str] | None, year: int
) -> list[asyncpg.Record]:
    """Each pairing of the branches, with its activities of `year` and their person-times."""
    found: list[asyncpg.Record] = await connection.fetch(
        """SELECT p.pairing_id, p.branch_id, p.partner, p.partner_kind, p.since,
                  count(a.activity_id) AS activities,
                  coalesce(sum(cardinality(a.participants)), 0) AS person_times
           FROM branch_pairings p
           LEFT JOIN pairing_activities a ON a.pairing_id = p.pairing_id
                AND extract(year FROM a.held_on) = $2
           WHERE ($1::text[] IS NULL OR p.branch_id = ANY($1::text[]))
           GROUP BY p.pairing_id ORDER BY p.branch_id, p.since, p.pairing_id""",
        branches, year,
    )  # fmt: skip
    return found


async def pairing_activities(
    connection: asyncpg.Connection, branches: list[str] | None, year: int, limit: int,
    offset: int,
) -> tuple[int, list[asyncpg.Record]]:  # fmt: skip
    where = """extract(year FROM a.held_on) = $2
               AND ($1::text[] IS NULL OR p.branch_id = ANY($1::text[]))"""
    source = """pairing_activities a
                JOIN branch_pairings p USING (pairing_id)"""
    total = await connection.fetchval(f"SELECT count(*) FROM {source} WHERE {where}",
                                      branches, year)  # fmt: skip
    rows = await connection.fetch(
        f"""SELECT a.activity_id, a.pairing_id, p.branch_id, p.partner, a.held_on, a.title,
                   a.participants, a.notes
            FROM {source} WHERE {where}
            ORDER BY a.held_on DESC, a.activity_id LIMIT $3 OFFSET $4""",
        branches, year, limit, offset,
    )  # fmt: skip
    return total, rows


async def community(
    connection: asyncpg.Connection, among: list[str] | None, year: int
) -> list[asyncpg.Record]:
    """Each active member seen who has a confirmed community report: the community of their
    latest one, the day of their first report to it (their 报到), and how many confirmed
    community reports (person-times in the community) they made in `year`; by branch."""
    found: list[asyncpg.Record] = await connection.fetch(
        f"""WITH confirmed AS (
                SELECT r.member_id, r.title, r.happened_on, r.report_id
                FROM reports r JOIN active_members m USING (member_id)
                WHERE r.kind = 'community' AND r.status = 'confirmed' AND {MEMBERS}),
            latest AS (
                SELECT DISTINCT ON (member_id) member_id, title AS community
                FROM confirmed ORDER BY member_id, happened_on DESC, report_id DESC)
            SELECT l.member_id, d.branch_id, l.community,
                   (SELECT min(c.happened_on) FROM confirmed c
                    WHERE c.member_id = l.member_id AND c.title = l.community) AS reported_on,
                   (SELECT count(*) FROM confirmed c WHERE c.member_id = l.member_id
                    AND extract(year FROM c.happened_on) = $2) AS activities
            FROM latest l JOIN active_members m USING (member_id)
            JOIN departments d USING (department_id)
            ORDER BY d.branch_id, l.member_id""",
        among, year,
    )  # fmt: skip
    return found


async def party_members_by_branch(
    connection: asyncpg.Connection, among: list[str] | None
) -> dict[str, int]:
    rows = await connection.fetch(
        f"""SELECT d.branch_id, count(*) AS members FROM active_members m
            JOIN departments d USING (department_id)
            WHERE m.party_member AND {MEMBERS} GROUP BY d.branch_id""",
        among,
    )  # fmt: skip
    return {row["branch_id"]: row["members"] for row in rows}
