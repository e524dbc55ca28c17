"""Each agency's read models in a PostgreSQL schema of its own (issue 25, ADR 0003).

The default agency's read models are where they always were, in the schema `gateway`; any
other agency's are in `agency_<id>` (`schema_of`), created with the migrations of
`mingdeng.gateway.adapters.sql.agency` when its first record or its `agency.registered`
arrives (`ensure_schema`). The platform's own tables (the agency tree, the ingestion ledger,
the login codes, the phone index, the committee admins) stay in `gateway` and every query
names them `gateway.…`; a query of a read model names no schema and reads the agency the
connection points at.

Which agency a connection points at: the projector sets it per agency in its transaction
(`SET LOCAL`); a request sets `current_agency` (the session's or token's agency) and every
connection it takes from the pool points there (`point_at_agency`, the pool's `setup`). With
no agency set, a connection points at `gateway_no_agency`, an empty schema: a read model's
query then fails ("relation does not exist") instead of reading some agency's rows.
"""

from __future__ import annotations

import hashlib
import logging
from contextvars import ContextVar

import asyncpg

from mingdeng.contracts.agency import DEFAULT_AGENCY, agency_id_problem
from mingdeng.runtime.migrations import load_migrations

log = logging.getLogger(__name__)

PLATFORM_SCHEMA = "gateway"  # also the default agency's read models
NO_AGENCY_SCHEMA = "gateway_no_agency"
AGENCY_MIGRATIONS = "mingdeng.gateway.adapters.sql.agency"
_LONGEST_READABLE_ID = 40  # `agency_` + 40: a schema and its notify channel stay in 63 bytes

current_agency: ContextVar[str | None] = ContextVar("mingdeng_gateway_agency", default=None)


def schema_of(agency: str) -> str:
    """The schema of `agency`'s read models. Agency ids have no `_`, so replacing `-` by `_`
    keeps two ids apart; an id too long for an identifier is named by its digest."""
    if (problem := agency_id_problem(agency)) is not None:
        raise ValueError(problem)
    if agency == DEFAULT_AGENCY:
        return PLATFORM_SCHEMA
    if len(agency) <= _LONGEST_READABLE_ID:
        return "agency_" + agency.replace("-", "_")
    return "agency_" + hashlib.sha256(agency.encode()).hexdigest()[:32]


def migrations_component(schema: str) -> str:
    """How `public.schema_migrations` names the agency migrations applied to `schema`."""
    return f"gateway/agency:{schema}"


class KnownSchemas:
    """The agencies whose schema exists, as `gateway.agency_schemas` lists them; read again
    when an agency not yet known is asked for (a schema is never dropped)."""

    def __init__(self) -> None:
        self._known: set[str] = {DEFAULT_AGENCY}

    async def has(self, connection: asyncpg.Connection, agency: str) -> bool:
        if agency not in self._known:
            rows = await connection.fetch("SELECT agency_id FROM gateway.agency_schemas")
            self._known = {DEFAULT_AGENCY} | {row["agency_id"] for row in rows}
        return agency in self._known


# an agency whose first record has not arrived yet has no schema: its queries fail as none
POINT = """SELECT set_config('search_path', CASE WHEN EXISTS
               (SELECT FROM pg_namespace WHERE nspname = $1) THEN $1 ELSE $2 END, false)"""


class AgencyConnection(asyncpg.Connection):  # type: ignore[misc]
    """A connection of the gateway's pool, which remembers the schema it points at: it is
    pointed again only when a request of another agency takes it (the round trip took 18 % of
    the gateway's CPU on a ranking page). Requests set nothing else of the session, and the
    projector's `SET LOCAL` ends with its transaction."""

    pointed_at = NO_AGENCY_SCHEMA  # the pool's connections start there (`server_settings`)

    async def point_at(self, schema: str) -> None:
        if self.pointed_at != schema:
            self.pointed_at = await self.fetchval(POINT, schema, NO_AGENCY_SCHEMA)


async def point_at_agency(connection: asyncpg.Connection) -> None:
    """The pool's `setup`: point the connection at the request's agency (`current_agency`),
    or at the empty schema when none is set."""
    agency = current_agency.get()
    await connection.point_at(NO_AGENCY_SCHEMA if agency is None else schema_of(agency))


async def ensure_schema(connection: asyncpg.Connection, agency: str) -> tuple[str, bool]:
    """Create `agency`'s schema with its read models unless it exists: its name, and whether
    it was made now. In the caller's transaction: a schema and the rows written into it commit
    together."""
    schema = schema_of(agency)
    exists = await connection.fetchval(
        "SELECT true FROM gateway.agency_schemas WHERE agency_id = $1", agency
    )
    if exists:
        return schema, False
    await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", schema)
    if await connection.fetchval(
        "SELECT true FROM gateway.agency_schemas WHERE agency_id = $1", agency
    ):
        return schema, False  # created meanwhile by another transaction
    await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    await _apply_agency_migrations(connection, schema)
    await connection.execute(
        "INSERT INTO gateway.agency_schemas (agency_id, schema_name) VALUES ($1, $2)",
        agency,
        schema,
    )
    log.info("created the read models of the agency %r in the schema %s", agency, schema)
    return schema, True


async def _apply_agency_migrations(connection: asyncpg.Connection, schema: str) -> None:
    component = migrations_component(schema)
    done = {
        row["version"]
        for row in await connection.fetch(
            "SELECT version FROM public.schema_migrations WHERE component = $1", component
        )
    }
    search_path = await connection.fetchval("SELECT current_setting('search_path')")
    for migration in load_migrations(AGENCY_MIGRATIONS):
        if migration.version in done:
            continue
        async with connection.transaction():  # a savepoint inside the caller's transaction
            await connection.execute(f"SET LOCAL search_path = {schema}")
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO public.schema_migrations (component, version, name)"
                " VALUES ($1, $2, $3)",
                component,
                migration.version,
                migration.name,
            )
    # the caller's transaction points where it pointed before
    await connection.execute("SELECT set_config('search_path', $1, true)", search_path)


async def migrate_agency_schemas(dsn: str) -> None:
    """Pre-start: apply the agency migrations missing in any agency's schema."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT agency_id, schema_name FROM gateway.agency_schemas ORDER BY agency_id"
        )
        for row in rows:
            async with connection.transaction():
                await connection.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1))", row["schema_name"]
                )
                await _apply_agency_migrations(connection, row["schema_name"])
    finally:
        await connection.close()
