"""The scoring worker on the real broker: a hand-computed quarter published as an upstream
system would (shuffled, with duplicates and an invalid event), the worker restarted midway,
then the quarter closed straight on Kafka (scoring writes the barrier copies) and a late event
sent. Results are read from the derived topics."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.topics import (
    DEAD_LETTER,
    EVENT_STATUS,
    EVENTS,
    RANKINGS,
    SCORES,
    SCORING_CHECKPOINTS,
    SELECTIONS,
)
from mingdeng.runtime.settings import KafkaSettings
from tests.support.builders import Events
from tests.support.kafka_log import latest as latest_by_key
from tests.support.kafka_log import records as read_from_start
from tests.support.processes import ROOT, Service, free_port, wait_for
from tests.support.samples import cloudevent
from tests.unit.scoring.scenario import EXPECTED_BRANCH, EXPECTED_F, EXPECTED_V, quarter_events

pytestmark = pytest.mark.integration


def statuses(kafka: KafkaSettings) -> dict[str, dict]:
    found = latest_by_key(kafka.bootstrap_servers, kafka.topic(EVENT_STATUS))
    return {key: json.loads(value) for key, value in found.items()}


def test_worker_scores_a_quarter_through_a_restart_close_and_late_event(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MINGDENG_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "MINGDENG_SCORING_DATA_DIR": str(tmp_path / "state"),
        "MINGDENG_SCORING_WEB_PORT": str(port),
        "MINGDENG_SCORING_CHECKPOINT_EVERY_RECORDS": "10",
    }
    worker = Service(["mingdeng-scoring", "run"], env, tmp_path / "scoring.log")
    try:
        run_scenario(kafka, env, worker)
    finally:
        worker.kill_if_running()


def scoring_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv/bin/mingdeng-scoring"), *args],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_scenario(kafka: KafkaSettings, env: dict[str, str], worker: Service) -> None:
    port = env["MINGDENG_SCORING_WEB_PORT"]
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")

    def publish(raw_events: list[tuple[str, bytes]]) -> None:
        for key, value in raw_events:
            producer.send(kafka.topic(EVENTS), key=key.encode(), value=value)
        producer.flush()

    e = Events(source="/systems/attendance")
    events = quarter_events(e)
    random.Random(3).shuffle(events)
    records = [(x.subject, serialize_event(x)) for x in events]
    records += records[:3]  # re-sent by the upstream system
    invalid = cloudevent(
        "mingdeng.violation.logged.v1",
        {
            "violation_id": "bad",
            "member_id": "A",
            "rule": 11,
            "description": "x",
            "inspector_id": "i",
        },
        source="/systems/inspection",
        event_id="bad-1",
    )
    records.insert(5, ("A", json.dumps(invalid).encode()))
    czj = Events(agency="czj")  # another agency's: its statuses are keyed `czj/…`
    of_czj = [czj.agency_registered("2026-07-01 08:00"), czj.branch("b1", "2026-07-01 08:00")]
    records += [("czj", serialize_event(x)) for x in of_czj]
    half = len(records) // 2
    expected_keys = {f"{x.source} {x.id}" for x in events} | {"/systems/inspection bad-1"}
    expected_keys |= {f"czj/{x.source} {x.id}" for x in of_czj}

    worker.start(f"http://127.0.0.1:{port}/healthz")
    publish(records[:half])
    wait_for(lambda: len(statuses(kafka)) >= half - 2, 60, "statuses of the first half")
    assert worker.stop() == 0

    worker.start(f"http://127.0.0.1:{port}/healthz")  # back from its checkpoint and the log
    publish(records[half:])
    wait_for(lambda: expected_keys <= statuses(kafka).keys(), 60, "statuses of all events")

    close = e.close("2026Q3", "2026-10-11 00:00")
    publish([(close.subject, serialize_event(close))])
    wait_for(lambda: f"{close.source} {close.id}" in statuses(kafka), 30, "the close")
    late = e.violation("late-1", "A", "2026-09-30 10:00")
    publish([(late.subject, serialize_event(late))])
    wait_for(lambda: f"{late.source} {late.id}" in statuses(kafka), 30, "the late event")

    def selection() -> dict:
        raw = latest_by_key(kafka.bootstrap_servers, kafka.topic(SELECTIONS)).get("2026Q3")
        return json.loads(raw) if raw else {}

    worker.stop()

    scores = {
        key: json.loads(value)
        for key, value in latest_by_key(kafka.bootstrap_servers, kafka.topic(SCORES)).items()
    }
    scores_a = latest_by_key(kafka.bootstrap_servers, kafka.topic(SCORES))["2026Q3/member/A"]
    for member, index in EXPECTED_V.items():
        assert scores[f"2026Q3/member/{member}"]["index"] == index
        assert scores[f"2026Q3/member/{member}"]["status"] == "final"
    for department, index in EXPECTED_F.items():
        assert scores[f"2026Q3/department/{department}"]["index"] == round(index, 2)
    assert scores["2026Q3/branch/b1"]["index"] == round(EXPECTED_BRANCH, 2)

    final = selection()
    assert final["status"] == "final"
    assert final["ranked"] == {"member": 3, "department": 2, "branch": 1}
    chunks = latest_by_key(kafka.bootstrap_servers, kafka.topic(RANKINGS))
    assert {key: json.loads(value)["ids"] for key, value in chunks.items()} == {
        "2026Q3/member/0": ["A", "B", "C"],
        "2026Q3/department/0": ["d1", "d2"],
        "2026Q3/branch/0": ["b1"],
    }
    assert [m["member_id"] for m in final["exemplars"]] == ["A"]
    assert [d["department_id"] for d in final["excellent_departments"]] == ["d1", "d2"]

    outcome = statuses(kafka)
    assert outcome[f"{late.source} {late.id}"]["late_for"] == "2026Q3"
    assert outcome[f"{late.source} {late.id}"]["detail"] == "late"
    assert outcome["/systems/inspection bad-1"]["status"] == "rejected"
    assert outcome["/systems/inspection bad-1"]["reasons"][0]["field"] == "data.rule"
    letters = [
        json.loads(r.value)
        for r in read_from_start(kafka.bootstrap_servers, kafka.topic(DEAD_LETTER))
    ]
    assert [(x["reasons"][0]["field"], json.loads(x["raw"])["id"]) for x in letters] == [
        ("data.rule", "bad-1")
    ]

    replay = scoring_cli(env, "replay", "--verify")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "0 differ" in replay.stdout

    reconciled = scoring_cli(env, "reconcile")
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    assert "0 without a status" in reconciled.stdout

    # what-if: half the weight on performance; nothing is published
    from mingdeng.scoring.settings import DEFAULT_RULES

    trial = Path(env["MINGDENG_SCORING_DATA_DIR"]).parent / "trial.toml"
    trial.write_text(
        DEFAULT_RULES.read_text()
        .replace('version = "2026.1"', 'version = "trial"')
        .replace("performance_weight = 0.4", "performance_weight = 0.2")
    )
    simulated = scoring_cli(env, "simulate", "--rules", str(trial), "--quarter", "2026Q3")
    assert simulated.returncode == 0, simulated.stderr
    rows = {
        line.split()[1]: line.split()[2:4]
        for line in simulated.stdout.splitlines()
        if line[:4].strip().isdigit()
    }
    assert rows["A"] == ["79.00", "98.00"]  # P = 0.2 × 95 = 19 instead of 38
    assert rows["B"] == ["53.00", "69.00"] and rows["C"] == ["24.00", "24.00"]
    assert "rules 2026.1 -> trial" in simulated.stdout
    assert (
        latest_by_key(kafka.bootstrap_servers, kafka.topic(SCORES))["2026Q3/member/A"] == scores_a
    )

    # rebuild (the worker stopped): the next start replays from offset 0, to the same results
    rebuilt = scoring_cli(env, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    checkpoints = latest_by_key(kafka.bootstrap_servers, kafka.topic(SCORING_CHECKPOINTS))
    assert checkpoints == {}, "every checkpoint tombstoned"
    worker.start(f"http://127.0.0.1:{port}/healthz")
    wait_for(lambda: ready(port), 60, "the worker replayed the log")
    worker.stop()
    again = scoring_cli(env, "replay", "--verify")
    assert again.returncode == 0 and "0 differ" in again.stdout, again.stdout + again.stderr
    assert (
        latest_by_key(kafka.bootstrap_servers, kafka.topic(SCORES))["2026Q3/member/A"] == scores_a
    )


def ready(port: str) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
