from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import asyncpg

from mingdeng.contracts.topics import EVENTS
from mingdeng.outreach.settings import OutreachSettings
from mingdeng.runtime.health import kafka_answers, postgres_answers
from mingdeng.runtime.logs import configure_logging
from mingdeng.runtime.migrations import prestart
from mingdeng.runtime.projection import ProjectionRunner, Record
from mingdeng.runtime.worker import run_until_stopped

MIGRATIONS = "mingdeng.outreach.adapters.sql"


async def handle_batch(connection: asyncpg.Connection, records: Sequence[Record]) -> None:
    return None


async def run(settings: OutreachSettings) -> None:
    async with asyncpg.create_pool(settings.postgres.dsn, min_size=1, max_size=4) as pool:
        runner = ProjectionRunner(
            consumer=settings.kafka.group("mingdeng-outreach"),
            topics=[settings.kafka.topic(EVENTS)],
            bootstrap_servers=settings.kafka.bootstrap_servers,
            pool=pool,
            handler=handle_batch,
        )

        async def readiness() -> dict[str, bool]:
            return {
                "postgres": await postgres_answers(settings.postgres.dsn),
                "kafka": await kafka_answers(settings.kafka.bootstrap_servers),
            }

        await run_until_stopped(
            name="outreach",
            health_host=settings.health_host,
            health_port=settings.health_port,
            readiness=readiness,
            loops=[runner.run],
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="mingdeng-outreach")
    parser.add_argument("command", choices=["prestart", "run"])
    args = parser.parse_args()
    configure_logging("outreach")
    settings = OutreachSettings()
    if args.command == "prestart":
        asyncio.run(prestart(settings.postgres.dsn, "outreach", MIGRATIONS))
    else:
        asyncio.run(run(settings))
