from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaProducer

from mingdeng.contracts.derived import ReminderRequest
from mingdeng.contracts.topics import EVENTS, OUTREACH, REMINDER_REQUESTS
from mingdeng.outreach.service import OutreachService
from mingdeng.outreach.settings import OutreachSettings
from mingdeng.runtime.agencies import agency_headers, agency_key
from mingdeng.runtime.clients import kafka_producer, postgres_pool
from mingdeng.runtime.faults import riding_out_outages
from mingdeng.runtime.health import dependencies
from mingdeng.runtime.metrics import (
    ConsumerHealthSettings,
    consumer_checks,
    consumer_families,
    parked_families,
    render,
)
from mingdeng.runtime.projection import AgencyFilter, ProjectionRunner
from mingdeng.runtime.worker import pause, run_until_stopped, worker_main

MIGRATIONS = "mingdeng.outreach.adapters.sql"
log = logging.getLogger(__name__)


async def publish_loop(
    settings: OutreachSettings,
    service: OutreachService,
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    stop: asyncio.Event,
    holds: AgencyFilter,
) -> None:
    """Publish the read models that changed (events and the clock move them; the running
    periods' coverage is stamped with the time every `full_refresh_s`); ask for reminders of
    overdue visits. Of the agencies this instance `holds` only (ADR 0005)."""
    kafka = settings.kafka
    last_stamped = last_reminders = 0.0

    async def send_reminder(agency: str, request: ReminderRequest) -> None:
        await producer.send_and_wait(
            kafka.topic(REMINDER_REQUESTS),
            key=agency_key(agency, request.key),
            value=request.to_json(),
            headers=list(agency_headers(agency)),
        )

    while not stop.is_set():
        now = time.monotonic()
        stamp_running = now - last_stamped >= settings.full_refresh_s
        if stamp_running:
            last_stamped = now
        sends = [
            await producer.send(
                kafka.topic(OUTREACH),
                key=agency_key(view.agency, view.key),
                value=view.message(),
                headers=list(agency_headers(view.agency)),
            )
            for view in await service.refresh(stamp_running=stamp_running, stop=stop, holds=holds)
        ]
        await asyncio.gather(*sends)
        if now - last_reminders >= settings.reminder_interval_s:
            last_reminders = now
            await service.send_reminders(pool, send_reminder, holds)
        if not service.lines_left:
            await pause(stop, settings.refresh_interval_s)


async def run(settings: OutreachSettings) -> None:
    kafka = settings.kafka
    service = OutreachService(clock=lambda: datetime.now(UTC))
    async with postgres_pool(settings.postgres.dsn, min_size=1, max_size=4) as pool:
        runner = ProjectionRunner(  # folds the agencies of each partition as it is assigned
            consumer=kafka.group("mingdeng-outreach"),
            topics=[kafka.topic(EVENTS)],
            bootstrap_servers=kafka.bootstrap_servers,
            pool=pool,
            handler=service.handle,
            keeper=service,
            home_topic=kafka.topic(EVENTS),
            schemas=["outreach"],
            instance=kafka.instance,
        )
        producer = kafka_producer(
            kafka.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            # views are bounded by design: the producer's and the broker's 1 MB default holds
            # (docs/outreach.md, "Message sizes")
        )
        await producer.start()

        async def publishing(stop: asyncio.Event) -> None:
            await publish_loop(settings, service, pool, producer, stop, runner.holds)

        health = ConsumerHealthSettings()

        async def metrics() -> str:
            return render(
                [
                    *consumer_families([runner]),
                    *await parked_families(pool),
                ]
            )

        try:
            await run_until_stopped(
                name="outreach",
                health_host=settings.health_host,
                health_port=settings.health_port,
                readiness=dependencies(
                    settings.postgres.dsn,
                    kafka.bootstrap_servers,
                    lambda: consumer_checks([runner], health),
                ),
                loops=[runner.run, riding_out_outages("publishing", publishing)],
                metrics=metrics,
            )
        finally:
            await producer.stop()


def main() -> None:
    worker_main("outreach", migrations=MIGRATIONS, settings=OutreachSettings, run=run)
