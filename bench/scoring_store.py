"""Scoring table store, memory:// vs rocksdb://, on the demo bureau's two years of history.

For each store: publish the demo events, start a worker, time until every event has a status
(end-to-end throughput), note the worker's resident memory, restart it and time the recovery
of its tables until it is ready again. Writes bench/results/scoring-store.{json,md}.
Needs a broker: `make bench` starts the tests' one.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
import uuid
from datetime import date
from pathlib import Path

from kafka import KafkaProducer

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from mingdeng.contracts.codec import serialize_event  # noqa: E402
from mingdeng.contracts.topics import EVENT_STATUS, EVENTS  # noqa: E402
from mingdeng.ops.demo import build_demo  # noqa: E402
from mingdeng.runtime.settings import KafkaSettings  # noqa: E402
from mingdeng.runtime.topics_admin import ensure_topics  # noqa: E402
from mingdeng.scoring.adapters.kafka_log import latest_by_key  # noqa: E402
from tests.support.processes import Service, free_port, wait_for  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024  # type: ignore[index]


def measure(store: str, bootstrap: str, events: list) -> dict[str, float | int | str]:
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap, topic_prefix=f"bench-{uuid.uuid4().hex[:8]}."
    )
    ensure_topics(kafka)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    for event in events:
        producer.send(kafka.topic(EVENTS), key=event.subject.encode(), value=serialize_event(event))
    producer.flush()
    work = Path(f"/tmp/mingdeng-bench-{uuid.uuid4().hex[:8]}")
    work.mkdir()
    port = free_port()
    env = {
        "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "MINGDENG_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "MINGDENG_SCORING_STORE": store,
        "MINGDENG_SCORING_DATA_DIR": str(work / "state"),
        "MINGDENG_SCORING_WEB_PORT": str(port),
    }
    worker = Service(["mingdeng-scoring", "run"], env, work / "scoring.log")

    def statuses() -> int:
        return len(latest_by_key(bootstrap, kafka.topic(EVENT_STATUS)))

    started = time.monotonic()
    worker.start(f"http://127.0.0.1:{port}/healthz")
    wait_for(lambda: statuses() >= len(events), 600, "all statuses")
    seconds = time.monotonic() - started
    assert worker.process is not None
    memory = rss_mib(worker.process.pid)
    worker.stop()

    log_size = (work / "scoring.log").stat().st_size
    restarted = time.monotonic()
    worker.start(f"http://127.0.0.1:{port}/healthz")

    def restored() -> bool:
        with (work / "scoring.log").open() as log:
            log.seek(log_size)
            return "restored" in log.read()

    wait_for(restored, 300, "recovery")
    recovery = time.monotonic() - restarted
    worker.stop()
    return {
        "store": store,
        "events": len(events),
        "end_to_end_s": round(seconds, 2),
        "events_per_s": round(len(events) / seconds),
        "worker_rss_mib": round(memory, 1),
        "restart_to_restored_s": round(recovery, 2),
    }


def main() -> None:
    bootstrap = os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"]
    events = build_demo(2026, date(2026, 11, 24)).events
    rows = [measure(store, bootstrap, events) for store in ("memory://", "rocksdb://")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
    }
    (RESULTS / "scoring-store.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n"
    )
    lines = [
        "# Scoring table store: memory vs RocksDB",
        "",
        f"The demo bureau's history ({rows[0]['events']} events) through a fresh worker; "
        f"{meta['machine']}, Python {meta['python']}. `make bench` rewrites this file.",
        "",
        "| store | end to end (s) | events/s | worker RSS (MiB) | restart to restored (s) |",
        "|---|---|---|---|---|",
        *(
            f"| {r['store']} | {r['end_to_end_s']} | {r['events_per_s']} | {r['worker_rss_mib']} "
            f"| {r['restart_to_restored_s']} |"
            for r in rows
        ),
        "",
    ]
    (RESULTS / "scoring-store.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
