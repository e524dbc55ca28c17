"""Issue 16, on purpose: a busy partition, the registry on another, then the close right after,
all accepted through the gateway's publisher. Everything accepted before the close counts in
the final standings; what is accepted after it is late, whatever its type.

Before the barrier, scoring's admit stage interleaved partitions and the close could overtake the
registry and the visits of the busy partition (member missing, visit not counted, exemplars
wrong). With `_release` made to complete a close on its first copy, this test fails again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mingdeng.contracts import events as ev
from mingdeng.contracts.periods import Quarter
from mingdeng.contracts.topics import EVENT_STATUS, SCORES
from mingdeng.gateway.adapters.ingestion import EventPublisher
from mingdeng.runtime.migrations import migrate
from mingdeng.runtime.settings import KafkaSettings
from mingdeng.runtime.topics_admin import ensure_topics
from mingdeng.scoring.domain.engine import ScoringEngine
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.settings import DEFAULT_RULES
from tests.support.builders import Events
from tests.support.kafka_log import latest
from tests.support.processes import Service, free_port, wait_for
from tests.unit.scoring.scenario import quarter_events

pytestmark = pytest.mark.integration
Q3 = Quarter(2026, 3)


async def test_a_close_counts_everything_accepted_before_it_and_nothing_after(
    kafka_bootstrap: str, database_url: str, pg_pool: object, unique: str, tmp_path: Path
) -> None:
    await migrate(database_url, "gateway", "mingdeng.gateway.adapters.sql")
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"race-{unique}.")
    ensure_topics(kafka)
    port = free_port()
    env = {
        "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "MINGDENG_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "MINGDENG_SCORING_DATA_DIR": str(tmp_path / "state"),
        "MINGDENG_SCORING_WEB_PORT": str(port),
        "MINGDENG_SCORING_MAX_BATCH": "100",
    }
    worker = Service(["mingdeng-scoring", "run"], env, tmp_path / "scoring.log")
    publisher = EventPublisher(kafka)
    await publisher.start()
    e = Events(source=f"/systems/race-{unique}")
    base = quarter_events(e)
    # D's partition is busy: thousands of D's records come before D's registration on it
    busy = [e.volunteer("D", f"2026-09-{1 + n % 28:02d} 10:00") for n in range(6000)]
    registry = [
        e.member("D", "d2", "2026-09-20 09:00"),
        *e.household("h9", "D", "2026-09-20 09:00"),
        e.household_visit("D", "h9", "2026-09-21 10:00"),
        e.volunteer("D", "2026-09-22 10:00"),
    ]
    close = e.close("2026Q3", "2026-10-11 00:00")
    after = [e.member("E", "d1", "2026-09-25 09:00"), e.violation("vD", "D", "2026-09-26 10:00")]
    try:
        await publisher.accept(pg_pool, base)  # type: ignore[arg-type]
        for start in range(0, len(busy), 500):
            await publisher.accept(pg_pool, busy[start : start + 500])  # type: ignore[arg-type]
        await publisher.accept(pg_pool, registry)  # type: ignore[arg-type]
        await publisher.accept(pg_pool, [close])  # type: ignore[arg-type]
        await publisher.accept(pg_pool, after)  # type: ignore[arg-type]
        worker.start(f"http://127.0.0.1:{port}/healthz")  # behind: the idle partitions lead

        def status(event: object) -> dict:
            raw = latest(kafka_bootstrap, kafka.topic(EVENT_STATUS)).get(f"{e.source} {event.id}")  # type: ignore[attr-defined]
            return json.loads(raw) if raw else {}

        wait_for(lambda: all(status(x) for x in [close, *after]), 120, "statuses")
    finally:
        await publisher.stop()
        worker.kill_if_running()

    reference = ScoringEngine(Rules.load(DEFAULT_RULES))
    for event in base + busy + registry:
        reference.apply(event)
    reference.close(Q3, close.time)
    expected = reference.finals[Q3]
    scores = {
        key: json.loads(value)
        for key, value in latest(kafka_bootstrap, kafka.topic(SCORES)).items()
        if key.startswith("2026Q3/member/")
    }
    assert {k.split("/")[-1] for k in scores} == {m.member_id for m in expected.members}
    assert "D" in {k.split("/")[-1] for k in scores}  # registered before the close
    d = scores["2026Q3/member/D"]
    assert (d["status"], d["details"]["households_visited"], d["details"]["violations"]) == (
        "final",
        1,
        0,
    )
    for member in expected.members:
        assert scores[f"2026Q3/member/{member.member_id}"]["index_exact"] == member.index
    assert all(status(x)["detail"] == "late" for x in after)  # master data too
    assert all(status(x)["late_for"] == "2026Q3" for x in after)
    assert isinstance(after[0].data, ev.MemberRegistered)  # master data is listed as late too
