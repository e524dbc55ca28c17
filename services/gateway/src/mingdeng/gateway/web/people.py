"""Who a commendation is for, from the gateway's registry (the tasks carry ids only)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Family:
    """Who an exemplar is, for the leader who carries their 喜报 and for the office."""

    name: str
    department: str
    home_address: str | None


async def families(pool: asyncpg.Pool, member_ids: set[str]) -> dict[str, Family]:
    """Name, department and the family's address of members (the registry's, now). Shown only
    to the office and to the leader a commendation of the member is assigned to."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            """SELECT m.member_id, m.name, coalesce(d.name, m.department_id) AS department,
                      m.home_address
                 FROM gateway.members m
                 LEFT JOIN gateway.departments d ON d.department_id = m.department_id
                WHERE m.member_id = ANY($1::text[])""",
            sorted(member_ids),
        )
    return {r["member_id"]: Family(r["name"], r["department"], r["home_address"]) for r in rows}
