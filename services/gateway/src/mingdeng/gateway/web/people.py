"""Where an exemplar's family lives, from the gateway's registry (`home_address` of
member.registered; the tasks carry ids only). Shown only to the office and to the leader a
commendation of the member is assigned to; names and departments come from the directory."""

from __future__ import annotations

import asyncpg


async def home_addresses(pool: asyncpg.Pool, member_ids: set[str]) -> dict[str, str]:
    """The registered family address of each of `member_ids` that has one."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            """SELECT member_id, home_address FROM members
                WHERE member_id = ANY($1::text[]) AND home_address IS NOT NULL""",
            sorted(member_ids),
        )
    return {r["member_id"]: r["home_address"] for r in rows}
