"""The lists of the work done on the pages (violations, appeals, reports, talks) are paged and
counted by PostgreSQL: every page and total equals the full list sorted and filtered by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from mingdeng.gateway.adapters import work

START = datetime(2026, 1, 1, tzinfo=UTC)
MEMBERS = [f"m{n:02d}" for n in range(12)]


@pytest.fixture
def connection(gateway_connection: asyncpg.Connection) -> asyncpg.Connection:
    return gateway_connection


async def test_each_list_pages_and_counts_what_the_viewer_sees(
    connection: asyncpg.Connection,
) -> None:
    rng = random.Random(23)
    violations, appeals, reports, talks = [], [], [], []
    for n in range(90):
        member, moment = rng.choice(MEMBERS), START + timedelta(hours=rng.randrange(24 * 300))
        violations.append((f"v{n:03d}", member, rng.randint(1, 10), "迟到", "i1", moment))
        if rng.random() < 0.5:
            status = rng.choice(["pending", "upheld", "rejected"])
            appeals.append((f"a{n:03d}", f"v{n:03d}", member, "理由", moment, status))
        reports.append((f"r{n:03d}", member, "volunteer", moment.date(), moment,
                        rng.choice(["pending", "confirmed", "rejected"])))  # fmt: skip
        talks.append((f"t{n:03d}", "s1", member, rng.choice(["youth", "leadership", "member"]),
                      moment, "/pages", f"id{n}"))  # fmt: skip
    await connection.executemany(
        """INSERT INTO gateway.violations (violation_id, member_id, rule, description,
           inspector_id, time) VALUES ($1, $2, $3, $4, $5, $6)""", violations)  # fmt: skip
    await connection.executemany(
        """INSERT INTO gateway.appeals (appeal_id, violation_id, member_id, reason, filed_at,
           status) VALUES ($1, $2, $3, $4, $5, $6)""", appeals)  # fmt: skip
    await connection.executemany(
        """INSERT INTO gateway.reports (report_id, member_id, kind, happened_on, submitted_at,
           status) VALUES ($1, $2, $3, $4, $5, $6)""", reports)  # fmt: skip
    await connection.executemany(
        """INSERT INTO gateway.talks (talk_id, host_id, member_id, category, time, source, id)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""", talks)  # fmt: skip

    for among in (None, MEMBERS[:4], ["nobody"]):
        seen = set(MEMBERS if among is None else among)
        expected = {
            "violations": [v[0] for v in sorted(
                (v for v in violations if v[1] in seen), key=lambda v: (-v[5].timestamp(), v[0]))],
            "appeals": [a[0] for a in sorted(
                (a for a in appeals if a[2] in seen),
                key=lambda a: (a[5] != "pending", -a[4].timestamp(), a[0]))],
            "reports": [r[0] for r in sorted(
                (r for r in reports if r[1] in seen),
                key=lambda r: (r[5] != "pending", -r[4].timestamp(), r[0]))],
            "talks": [t[0] for t in sorted(
                (t for t in talks if t[2] in seen and t[4].year == 2026),
                key=lambda t: (-t[4].timestamp(), t[0]))],
        }  # fmt: skip
        for limit, offset in [(5, 0), (7, 3), (100, 0), (4, 200)]:
            found = {
                "violations": await work.violations(connection, among, None, limit, offset),
                "appeals": await work.appeals(connection, among, None, None, limit, offset),
                "reports": await work.reports(connection, among, None, None, limit, offset),
                "talks": await work.talks(
                    connection, among, START, START.replace(year=2027), limit, offset
                ),
            }
            for name, page in found.items():
                key = {"violations": "violation_id", "appeals": "appeal_id",
                       "reports": "report_id", "talks": "talk_id"}[name]  # fmt: skip
                assert page.total == len(expected[name]), name
                assert [row[key] for row in page.rows] == expected[name][offset : offset + limit]
        held = await work.talks_by_category(connection, among, START, START.replace(year=2027))
        assert sum(held.values()) == len(expected["talks"])
    one = appeals[7]
    found = await work.appeals(connection, None, None, None, 1, 0, appeal_id=one[0])
    assert (found.total, [r["appeal_id"] for r in found.rows]) == (1, [one[0]])
    hidden = await work.appeals(connection, ["nobody"], None, None, 1, 0, appeal_id=one[0])
    assert (hidden.total, hidden.rows) == (0, [])
    found = await work.reports(connection, [reports[5][1]], None, None, 1, 0, report_id="r005")
    assert [r["report_id"] for r in found.rows] == ["r005"]
    pending = await work.appeals(connection, None, MEMBERS[0], "pending", 100, 0)
    assert pending.total == sum(1 for a in appeals if a[2] == MEMBERS[0] and a[5] == "pending")
