"""The faust worker: thin adapters around `ScoringService`.

admit:  inbound events -> validated -> the scoring-facts topic (one partition: one order), or
        the dead-letter topic with per-field reasons. The worker never stops on bad input.
score:  scoring-facts -> ScoringService; the ledger and final snapshots live in tables whose
        changelogs restore them after a restart.
flush:  every `flush_interval_s`, publishes the scores and selections that changed.
close:  on the leader, issues `quarter.closed` 10 days after a quarter that ended while running.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

import faust
import mode

from mingdeng.contracts.codec import parse_event, serialize_event
from mingdeng.contracts.derived import DeadLetter, EventStatus
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.topics import (
    DEAD_LETTER,
    EVENT_STATUS,
    EVENTS,
    SCORES,
    SCORING_FACTS,
    SELECTIONS,
    Topic,
)
from mingdeng.scoring.adapters.kafka_log import uncommitted
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.service import ScoringService
from mingdeng.scoring.settings import ScoringSettings

log = logging.getLogger(__name__)

APP_ID = "mingdeng-scoring"
STALLED_EXIT = 75  # the supervisor (`mingdeng-scoring run`) starts the worker again
FACTS_KEY = b"bureau"


def dead_letter(consumer: str, message: Any, error: InvalidEvent) -> DeadLetter:
    raw = message.value if isinstance(message.value, bytes) else bytes(message.value or b"")
    return DeadLetter(
        consumer=consumer,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key.decode(errors="replace") if message.key else None,
        raw=raw.decode(errors="replace"),
        reasons=error.as_dicts(),
        failed_at=datetime.now(UTC),
    )


def rejected_status(raw: bytes, error: InvalidEvent) -> EventStatus | None:
    """A rejection status, when the record says at least who sent it and its id."""
    try:
        document = json.loads(raw)
        source, event_id = document["source"], document["id"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(source, str) or not isinstance(event_id, str):
        return None
    return EventStatus(
        source=source,
        id=event_id,
        type=document.get("type") if isinstance(document.get("type"), str) else None,
        status="rejected",
        reasons=error.as_dicts(),
        at=datetime.now(UTC),
    )


def create_app(settings: ScoringSettings, service: ScoringService | None = None) -> Any:
    rules = Rules.load(settings.rules_file)
    service = service or ScoringService(rules)
    kafka = settings.kafka
    app = faust.App(
        kafka.group(APP_ID),
        broker=f"kafka://{settings.kafka.bootstrap_servers}",
        store=settings.store,
        datadir=str(settings.data_dir),
        web_host=settings.web_host,
        web_port=settings.web_port,
        topic_partitions=1,
        topic_replication_factor=settings.kafka.replication_factor,
        producer_acks=-1,
        broker_session_timeout=10,  # one worker: a dead one is noticed in 10 s, not 60
        broker_heartbeat_interval=3,
        # A crashed agent would otherwise be restarted past the record it failed on: stop the
        # worker instead, so that the record is read again after the restart.
        agent_supervisor=mode.CrashingSupervisor,
        autodiscover=False,
    )

    def raw_topic(topic: Topic) -> Any:
        return app.topic(
            kafka.topic(topic),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )

    def raw_table(name: str) -> Any:
        # bytes key/value types make faust use the raw codec for the changelog too
        return app.Table(name, partitions=1, key_type=bytes, value_type=bytes)

    events_topic = raw_topic(EVENTS)
    facts_topic = raw_topic(SCORING_FACTS)
    dead_letters = raw_topic(DEAD_LETTER)
    statuses = raw_topic(EVENT_STATUS)
    outputs = {topic.name: raw_topic(topic) for topic in (SCORES, SELECTIONS)}
    ledger = raw_table("ledger")  # "source id" -> the event as taken in, late or not
    finals = raw_table("finals")  # quarter -> the frozen standings published at its close

    async def send_rejection(consumer: str, event: Any, error: InvalidEvent) -> None:
        letter = dead_letter(consumer, event.message, error)
        log.warning(
            "dead-lettered %s[%d]@%d: %s", letter.topic, letter.partition, letter.offset, error
        )
        await dead_letters.send(key=event.message.key, value=letter.to_json())
        status = rejected_status(letter.raw.encode(), error)
        if status is not None:
            await statuses.send(key=status.key.encode(), value=status.to_json())

    @app.agent(events_topic, name="admit")
    async def admit(stream: Any) -> None:
        async for event in stream.events():
            try:
                parse_event(event.value)
            except InvalidEvent as error:
                await send_rejection("scoring.admit", event, error)
                continue
            await facts_topic.send(key=FACTS_KEY, value=event.value)
            admitted[0] += 1

    @app.agent(facts_topic, name="score")
    async def score(stream: Any) -> None:
        async for event in stream.events():
            if not service.restored:
                # faust logs a failed table recovery as a warning and carries on: never score
                # from an empty state over published results.
                raise RuntimeError("scoring state was not restored from the changelogs")
            try:
                parsed = parse_event(event.value)
            except InvalidEvent as error:  # written to the facts topic by something else
                await send_rejection("scoring.score", event, error)
                continue
            handled = service.handle(parsed)
            if handled.ledger_entry is not None:
                ledger[handled.ledger_key.encode()] = handled.ledger_entry
            if handled.closed is not None and handled.final_snapshot is not None:
                finals[str(handled.closed).encode()] = handled.final_snapshot
                log.info("closed %s: its standings are final", handled.closed)
            await statuses.send(key=handled.status.key.encode(), value=handled.status.value)

    @ledger.on_recover
    async def restore() -> None:
        service.restore(ledger.values(), finals.values())
        log.info("restored %d events and %d closed quarters", len(ledger), len(finals))

    @app.timer(interval=settings.flush_interval_s)
    async def flush() -> None:
        for outgoing in service.flush():
            await outputs[outgoing.topic.name].send(key=outgoing.key.encode(), value=outgoing.value)

    @app.timer(interval=settings.close_check_interval_s, on_leader=True)
    async def close_due_quarters() -> None:
        for close in service.due_closes(datetime.now(UTC)):
            log.info(
                "closing %s (%d days after its end)",
                close.subject,
                rules.selections.close_after_days,
            )
            await events_topic.send(key=close.subject.encode(), value=serialize_event(close))

    # faust-streaming can come out of table recovery with its streams stalled (a race in its
    # recovery: faust-streaming/faust#596 and kin): input waiting, nothing consumed. Then the
    # worker exits for its supervisor to start it again; everything it did is in Kafka.
    admitted = [0]
    watch = {"progress": -1, "since": time.monotonic()}

    @app.timer(interval=max(1.0, settings.stall_after_s / 4))
    async def stall_watchdog() -> None:
        progress = admitted[0] + service.progress
        if progress != watch["progress"] or app.rebalancing or not service.restored:
            watch.update(progress=progress, since=time.monotonic())
            return
        if time.monotonic() - watch["since"] < settings.stall_after_s:
            return
        topics = [kafka.topic(EVENTS), kafka.topic(SCORING_FACTS)]
        group = kafka.group(APP_ID)
        behind = await asyncio.to_thread(uncommitted, kafka.bootstrap_servers, group, topics)
        if behind:
            log.error(
                "no progress for %.0f s with input waiting (%s); exiting to be restarted",
                settings.stall_after_s,
                behind,
            )
            try:  # leave the group, so the next worker need not wait out this one's session
                await asyncio.wait_for(app.consumer.stop(), 5)
            except Exception:
                log.exception("could not leave the consumer group cleanly")
            logging.shutdown()
            os._exit(STALLED_EXIT)
        watch["since"] = time.monotonic()

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        ready = app.consumer is not None and not app.rebalancing
        return web.json({"status": "ready" if ready else "not ready"}, status=200 if ready else 503)

    return app
