from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaProducer

from mingdeng.contracts.topics import BULLETINS, EVENTS, NOTIFICATIONS, TASKS
from mingdeng.notify.adapters import store
from mingdeng.notify.adapters.providers import (
    AliyunSms,
    LocalSink,
    ProviderChain,
    SmsProvider,
    TencentSms,
)
from mingdeng.notify.adapters.templates import load_profiles, load_templates
from mingdeng.notify.domain.delivery import Limit, parse_quiet_hours
from mingdeng.notify.domain.orglife import Rhythm
from mingdeng.notify.domain.rules import template_problems
from mingdeng.notify.service import NotifyService
from mingdeng.notify.settings import NotifySettings
from mingdeng.runtime.agencies import agency_headers, agency_key
from mingdeng.runtime.clients import kafka_producer, postgres_pool
from mingdeng.runtime.faults import is_transient, riding_out_outages
from mingdeng.runtime.health import dependencies
from mingdeng.runtime.metrics import (
    ConsumerHealthSettings,
    Family,
    consumer_checks,
    consumer_families,
    parked_families,
    render,
)
from mingdeng.runtime.projection import AgencyFilter, ProjectionRunner, Record
from mingdeng.runtime.worker import every, pause, run_until_stopped, until_either, worker_main

MIGRATIONS = "mingdeng.notify.adapters.sql"
log = logging.getLogger(__name__)


def providers(settings: NotifySettings) -> ProviderChain:
    chosen: list[SmsProvider] = []
    for name in settings.providers:
        if name == "sink":
            chosen.append(LocalSink(settings.sink_file))
        elif name == "aliyun":
            a = settings.aliyun
            chosen.append(
                AliyunSms(
                    a.access_key_id,
                    a.access_key_secret.get_secret_value(),
                    a.sign_name,
                    a.endpoint,
                    a.protocol,
                )
            )
        else:
            t = settings.tencent
            chosen.append(
                TencentSms(
                    t.secret_id,
                    t.secret_key.get_secret_value(),
                    t.sdk_app_id,
                    t.sign_name,
                    t.region,
                    t.endpoint,
                    t.protocol,
                )
            )
    return ProviderChain(chosen)


async def publish_changes(
    pool: asyncpg.Pool, producer: AIOKafkaProducer, settings: NotifySettings
) -> None:
    """Publish notification records, tasks and bulletins whose rows changed (a transactional
    outbox of their own: marked published only after the broker acknowledged). A record of an
    agency other than the default one is keyed and marked as scoring's outputs are. The rows
    are locked while they are published, so two notifiers do not publish the same version."""
    kafka = settings.kafka
    for topic, table in ((NOTIFICATIONS, "outbox"), (TASKS, "tasks"), (BULLETINS, "bulletins")):
        async with pool.acquire() as connection, connection.transaction():
            rows = await store.claim_unpublished(connection, table)
            if not rows:
                continue
            await asyncio.gather(
                *[
                    await producer.send(
                        kafka.topic(topic),
                        key=agency_key(row.agency, row.key),
                        value=row.body,
                        headers=list(agency_headers(row.agency)),
                    )
                    for row in rows
                ]
            )
            await store.mark_published(connection, table, rows)


async def outbox_family(pool: asyncpg.Pool) -> list[Family]:
    """The outbox depth by status; nothing when the database does not answer."""
    depth = Family("mingdeng_notify_outbox", "gauge", "messages in the outbox, by status")
    try:
        async with pool.acquire(timeout=2) as connection:
            counts = await store.outbox_depth(connection)
    except Exception as error:
        if not is_transient(error):
            raise
        log.warning("outbox depth unknown: %s", error)
        return []
    for status in ("queued", "sending", "sent", "failed", "suppressed"):
        depth.add(counts.get(status, 0), status=status)
    return [depth]


@dataclass(frozen=True)
class HeldAgencies:
    """What the notifier knows, as its runner's `AgencyKeeper`: the agencies whose partition of
    the inbound log this notifier holds (docs/decisions/0005)."""

    service: NotifyService

    def agency_of(self, record: Record) -> str:
        return self.service.intake.agency_of(record)

    def drop(self, agencies: AgencyFilter) -> None:
        self.service.known.drop(agencies)

    async def load(self, connection: asyncpg.Connection, agencies: AgencyFilter) -> None:
        await self.service.known.load(store.PostgresStore(connection), agencies)


async def run(settings: NotifySettings) -> None:
    kafka = settings.kafka
    templates = load_templates(settings.templates_file)
    profiles = load_profiles(templates, settings.agencies_file)
    for agency, profile in sorted({"default": profiles.default, **profiles.own}.items()):
        problems = template_problems({name: t.params for name, t in profile.templates.items()})
        if problems:  # refused here, not inside a projection transaction later
            raise SystemExit(f"the templates of the agency {agency}: " + "; ".join(problems))
    async with postgres_pool(settings.postgres.dsn, min_size=2, max_size=6) as pool:
        service = NotifyService(
            stores=store.PostgresStores(pool),
            templates=templates,
            providers=providers(settings),
            limits=[
                Limit(timedelta(minutes=1), settings.per_minute),
                Limit(timedelta(hours=1), settings.per_hour),
                Limit(timedelta(days=1), settings.per_day),
            ],
            clock=lambda: datetime.now(UTC),
            topic_name=kafka.topic,
            max_attempts=settings.max_attempts,
            settle_after=timedelta(seconds=settings.settle_after_s),
            claim_lease=timedelta(seconds=settings.claim_lease_s),
            quiet_hours=parse_quiet_hours(settings.quiet_hours),
            rhythm=Rhythm.load(settings.organisation_life_file),
            profiles=profiles,
        )
        await service.reconciler.alive()  # before it claims anything

        async def handle(connection: asyncpg.Connection, records: Sequence[Record]) -> None:
            await service.intake.handle(store.PostgresStore(connection), records)

        # what the notifier knows is folded for the agencies of each partition as it is assigned
        runner = ProjectionRunner(
            consumer=kafka.group("mingdeng-notify"),
            topics=service.intake.topic_names,
            bootstrap_servers=kafka.bootstrap_servers,
            pool=pool,
            handler=handle,
            keeper=HeldAgencies(service),
            home_topic=kafka.topic(EVENTS),
            schemas=["notify"],
            instance=kafka.instance,
        )
        producer = kafka_producer(kafka.bootstrap_servers, acks="all", enable_idempotence=True)
        await producer.start()

        async def dispatching(stop: asyncio.Event) -> None:
            while not stop.is_set():
                if not await service.dispatcher.dispatch():
                    await pause(stop, settings.dispatch_idle_s)

        async def reconciling(stop: asyncio.Event) -> None:
            """From the start and whatever the traffic: claims of a notifier that is gone."""
            await every(settings.reconcile_every_s, stop, service.reconciler.reconcile)

        async def saying_alive(stop: asyncio.Event) -> None:
            await every(settings.alive_every_s, stop, service.reconciler.alive)

        async def scheduling(stop: asyncio.Event) -> None:
            async def step() -> None:
                ran = await service.schedules.run(runner.holds)
                if ran:
                    log.info("ran %s", ", ".join(ran))

            # schedules read the state: not before the notifier has read the log as it stood
            # at the start (runtime/projection.py: `caught_up`)
            await until_either(runner.caught_up, stop)
            await every(settings.schedule_every_s, stop, step)

        async def publishing(stop: asyncio.Event) -> None:
            await every(
                settings.publish_every_s, stop, lambda: publish_changes(pool, producer, settings)
            )

        health = ConsumerHealthSettings()

        async def metrics() -> str:
            return render(
                [
                    *consumer_families([runner]),
                    *await parked_families(pool),
                    *await outbox_family(pool),
                ]
            )

        try:
            await run_until_stopped(
                name="notify",
                health_host=settings.health_host,
                health_port=settings.health_port,
                readiness=dependencies(
                    settings.postgres.dsn,
                    kafka.bootstrap_servers,
                    lambda: consumer_checks([runner], health),
                ),
                loops=[
                    runner.run,
                    riding_out_outages("dispatching", dispatching),
                    riding_out_outages("reconciling", reconciling),
                    riding_out_outages("saying alive", saying_alive),
                    riding_out_outages("scheduling", scheduling),
                    riding_out_outages("publishing", publishing),
                ],
                metrics=metrics,
            )
        finally:
            await producer.stop()
            await said_stopped(service)


async def said_stopped(service: NotifyService) -> None:
    """Tell other notifiers this instance is gone (its claims, if any, are theirs to settle);
    if the database does not answer, the lease runs out instead."""
    try:
        await asyncio.wait_for(service.reconciler.stopped(), 2)
    except Exception as error:
        if not is_transient(error):
            raise
        log.warning("could not record that this notifier stopped: %s", error)


def main() -> None:
    worker_main("notify", migrations=MIGRATIONS, settings=NotifySettings, run=run)
