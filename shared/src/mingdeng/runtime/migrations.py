"""Schema migrations: numbered SQL files per service, applied once each, in order.

Run as a pre-start step (`<service> prestart`), never from request handling. A PostgreSQL
advisory lock makes concurrent starts safe; each file runs in its own transaction.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from mingdeng.runtime.clients import postgres_connection
from mingdeng.runtime.waiting import wait_for_postgres

log = logging.getLogger(__name__)

_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x4D494E47  # "MING"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(package: str) -> list[Migration]:
    """The SQL files of `package` (a Python package holding `NNNN_name.sql` files)."""
    found: list[Migration] = []
    root: Traversable = files(package)
    for entry in root.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations of {package} share a number: {versions}")
    return found


async def migrate(dsn: str, component: str, package: str) -> list[int]:
    """Apply what is missing of `package`'s migrations for `component`; return what was applied."""
    migrations = load_migrations(package)
    connection = await postgres_connection(dsn)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await connection.execute(
                """CREATE TABLE IF NOT EXISTS public.schema_migrations (
                       component text NOT NULL,
                       version integer NOT NULL,
                       name text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now(),
                       PRIMARY KEY (component, version))"""
            )
            rows = await connection.fetch(
                "SELECT version FROM public.schema_migrations WHERE component = $1", component
            )
            done = {row["version"] for row in rows}
            applied = []
            for migration in migrations:
                if migration.version in done:
                    continue
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        "INSERT INTO public.schema_migrations (component, version, name)"
                        " VALUES ($1, $2, $3)",
                        component,
                        migration.version,
                        migration.name,
                    )
                log.info(
                    "applied migration %s %04d_%s", component, migration.version, migration.name
                )
                applied.append(migration.version)
            return applied
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await connection.close()


async def prestart(dsn: str, component: str, package: str) -> None:
    """Wait for the database, then bring the runtime's and `component`'s schema up to date."""
    await wait_for_postgres(dsn)
    await migrate(dsn, "runtime", "mingdeng.runtime.sql")
    await migrate(dsn, component, package)
