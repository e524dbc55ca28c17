"""How long from an event published to the changed index on mingdeng.scores.v1 (SPEC: live).

A worker with a small bureau takes 50 volunteer events one at a time; for each, the time from
the producer's acknowledgement to the member's new score read from the scores topic. Writes
bench/results/scoring-latency.{json,md}. Needs a broker: `make bench` starts the tests' one.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from mingdeng.contracts.codec import serialize_event  # noqa: E402
from mingdeng.contracts.topics import EVENTS, SCORES  # noqa: E402
from mingdeng.runtime.settings import KafkaSettings  # noqa: E402
from mingdeng.runtime.topics_admin import ensure_topics  # noqa: E402
from tests.support.builders import Events  # noqa: E402
from tests.support.processes import Service, free_port  # noqa: E402
from tests.unit.scoring.scenario import quarter_events  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SAMPLES = 50


def main() -> None:
    bootstrap = os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"]
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"lat-{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka)
    work = Path(f"/tmp/mingdeng-latency-{uuid.uuid4().hex[:8]}")
    work.mkdir()
    port = free_port()
    env = {
        "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "MINGDENG_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "MINGDENG_SCORING_DATA_DIR": str(work / "state"),
        "MINGDENG_SCORING_WEB_PORT": str(port),
    }
    worker = Service(["mingdeng-scoring", "run"], env, work / "scoring.log")
    worker.start(f"http://127.0.0.1:{port}/healthz")
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    scores = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(kafka.topic(SCORES), p) for p in range(SCORES.partitions)]
    scores.assign(partitions)
    try:
        e = Events(source="/bench/latency")
        for event in quarter_events(e):
            producer.send(
                kafka.topic(EVENTS), key=event.subject.encode(), value=serialize_event(event)
            )
        producer.flush()
        time.sleep(5)  # the bureau is scored
        scores.seek_to_end(*partitions)
        latencies = []
        for n in range(SAMPLES):
            event = e.volunteer("C", f"2026-09-{n % 28 + 1:02d} 10:00")
            producer.send(kafka.topic(EVENTS), key=b"C", value=serialize_event(event)).get(
                timeout=10
            )
            sent = time.monotonic()
            seen = False
            while not seen and time.monotonic() - sent < 10:
                for records in scores.poll(timeout_ms=50).values():
                    seen = seen or any(r.key == b"2026Q3/member/C" for r in records)
            latencies.append(time.monotonic() - sent if seen else float("inf"))
    finally:
        worker.stop()
        producer.close()
        scores.close()
    ms = sorted(round(x * 1000) for x in latencies)
    row = {
        "samples": SAMPLES,
        "median_ms": statistics.median(ms),
        "p95_ms": ms[int(0.95 * len(ms)) - 1],
        "max_ms": ms[-1],
        "flush_interval_ms": 200,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scoring-latency.json").write_text(json.dumps(row, indent=2) + "\n")
    text = "\n".join(
        [
            "# Scoring latency: event published to changed index",
            "",
            f"{SAMPLES} events, one at a time, against a worker holding a small scored bureau; from the",
            "producer's acknowledgement (acks=all) to the member's new score read on the scores topic.",
            "The worker publishes what each batch changes in the batch's own transaction.",
            "",
            "| median (ms) | p95 (ms) | max (ms) |",
            "|---|---|---|",
            f"| {row['median_ms']} | {row['p95_ms']} | {row['max_ms']} |",
            "",
        ]
    )
    (RESULTS / "scoring-latency.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
