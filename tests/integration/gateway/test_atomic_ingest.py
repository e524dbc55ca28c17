"""Issue 11: a batch is all or nothing on Kafka too. The broker refuses one record in the
middle of a batch (the topic takes at most 2,000 bytes a record here): nothing of the batch
reaches a committed reader, nothing is recorded in the ledger, and the same events sent again
without the refused one are on the log exactly once."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from mingdeng.contracts.topics import EVENTS
from mingdeng.gateway.adapters.ingestion import EventPublisher, Unavailable
from mingdeng.runtime.migrations import migrate
from mingdeng.runtime.settings import KafkaSettings
from mingdeng.runtime.topics_admin import ensure_topics
from tests.support.builders import Events
from tests.support.kafka_log import records

pytestmark = pytest.mark.integration


async def test_a_batch_the_broker_refuses_in_part_is_published_not_at_all(
    kafka_bootstrap: str, database_url: str, pg_pool: object, unique: str
) -> None:
    await migrate(database_url, "gateway", "mingdeng.gateway.adapters.sql")
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"atomic-{unique}.")
    ensure_topics(kafka)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    kafka.topic(EVENTS),
                    configs={"max.message.bytes": "2000"},
                )
            ]
        )
    finally:
        admin.close()
    e = Events(source=f"/systems/atomic-{unique}")
    small = [e.volunteer(f"m{n}", "2026-09-01 10:00") for n in range(6)]
    large = e.violation("v-large", "m1", "2026-09-02 10:00")
    large = replace(large, data=large.data.model_copy(update={"description": "离岗" * 1500}))
    publisher = EventPublisher(kafka, publish_timeout_s=5, producers=2)
    await publisher.start()
    try:
        with pytest.raises(Unavailable):
            await publisher.accept(pg_pool, [*small[:3], large, *small[3:]])  # type: ignore[arg-type]
        assert _committed(kafka) == Counter()
        async with pg_pool.acquire() as connection:  # type: ignore[attr-defined]
            claimed = await connection.fetchval(
                "SELECT count(*) FROM gateway.accepted_events WHERE source = $1", e.source
            )
        assert claimed == 0  # released: a retry publishes

        accepted = await publisher.accept(pg_pool, small)  # type: ignore[arg-type]
        assert sorted(accepted.accepted) == sorted(x.id for x in small)
        again = await publisher.accept(pg_pool, small)  # type: ignore[arg-type]
        assert again.accepted == [] and len(again.duplicates) == len(small)
        assert _committed(kafka) == Counter({x.id: 1 for x in small})
    finally:
        await publisher.stop()


def _committed(kafka: KafkaSettings) -> Counter[str]:
    return Counter(
        json.loads(r.value)["id"] for r in records(kafka.bootstrap_servers, kafka.topic(EVENTS))
    )
