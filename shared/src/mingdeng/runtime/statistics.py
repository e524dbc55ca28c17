"""Planner statistics that keep up with a projection that grows fast.

Autovacuum analyzes a table once a tenth of it changed, but looks only once a minute
(`autovacuum_naptime`), and a busy machine delays it further. A read model that goes from empty
to 100,000 rows within that minute (a quarter's ranking at 100,000 members) is planned as if it
held a row or two: PostgreSQL joined the ranks to the scores by walking every score for each
rank, so a ranking page ran for over 30 s and a chunk of ranks for 10 s (measured in
tests/e2e/test_large_quarter.py; each takes well under a second once analyzed). A projection
runner therefore analyzes the tables of its own schemas that changed that much, looking at most
every few seconds, beside its batches (the batches do not wait for it). The logs of events,
which no plan reads by their statistics, are analyzed from a sample of 3,000 rows and without
their JSON (their migrations): with the default statistics their ANALYZEs were most of
PostgreSQL's time at 1,000 events/s on a young installation (300-750 ms each, 12-16 ms so).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import asyncpg

log = logging.getLogger(__name__)

# the tables of these schemas changed by more than `rows` + `fraction` of what they hold
GROWN = """SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables
           WHERE schemaname = ANY($1::text[]) AND n_mod_since_analyze > $2 + $3 * n_live_tup
           ORDER BY n_mod_since_analyze DESC"""


class FreshStatistics:
    def __init__(
        self,
        schemas: Sequence[str],
        *,
        every_s: float = 2.0,
        rows: int = 1_000,
        fraction: float = 0.2,
    ) -> None:
        self._schemas = list(schemas)
        self._every_s = every_s
        self._rows = rows
        self._fraction = fraction
        self._looked_at = time.monotonic()
        self._looking: asyncio.Task[None] | None = None
        self.analyzed = 0  # tables, since the start

    def keep_up(self, pool: asyncpg.Pool) -> None:
        """When it is time to look (and the last look is over), analyze what grew, beside the
        caller."""
        now = time.monotonic()
        if not self._schemas or now - self._looked_at < self._every_s:
            return
        if self._looking is not None and not self._looking.done():
            return
        self._looked_at = now
        self._looking = asyncio.create_task(self._analyze_grown(pool))

    async def stop(self) -> None:
        if self._looking is not None:
            self._looking.cancel()
            await asyncio.gather(self._looking, return_exceptions=True)

    async def _analyze_grown(self, pool: asyncpg.Pool) -> None:
        """The statistics are an optimisation of the planner's, so a failure is logged and left
        to the next look (or to autovacuum)."""
        try:
            async with pool.acquire() as connection:
                grown = await connection.fetch(GROWN, self._schemas, self._rows, self._fraction)
                for (table,) in grown:
                    await connection.execute(f"ANALYZE {table}")  # a name from the catalog
                    self.analyzed += 1
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as error:
            log.warning("could not analyze the tables of %s: %s", self._schemas, error)
