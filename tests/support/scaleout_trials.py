"""Crash trials of partitioned scoring workers (issue 26) on the real broker.

Several agencies' histories, each keyed by its agency (two agencies on every partition), are
published at a steady rate while 2 or 3 workers share the partitions in their consumer group.
In each trial one worker is hit at a random moment, or right after a close was published: KILL,
TERM, a pause (SIGSTOP for longer than the group's session, so its partitions move, then
SIGCONT: a zombie that must be fenced), or another worker joins (a rebalance under load). Once
every worker runs again and the group has caught up, the trial checks against the log itself:
- every inbound event has exactly one status record (nothing lost, nothing doubled);
- a clean replay of the inbound log gives exactly the published scores and selections.
Used by tests/integration/scoring/test_scaleout.py (CI) and bench/scaleout_trials.py (long run).
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from kafka import KafkaProducer

from mingdeng.contracts.topics import EVENTS
from mingdeng.runtime.settings import KafkaSettings
from mingdeng.runtime.topics_admin import ensure_topics
from mingdeng.scoring.service import home_partition
from tests.support.crash_trials import SELECTIONS_SETTLE_S, replay_matches, wait_for_statuses
from tests.support.history import Bureau, as_agency, history
from tests.support.processes import Service, answers, free_port, wait_for

ACTIONS = ("SIGKILL", "SIGTERM", "pause", "join")
SESSION_S = 6  # the group's session timeout (runtime.stream): a pause longer moves partitions


def agencies_on_every_partition(per_partition: int = 2) -> list[str]:
    found: dict[int, list[str]] = {p: [] for p in range(EVENTS.partitions)}
    n = 0
    while any(len(names) < per_partition for names in found.values()):
        name = f"ag{n:03d}"
        names = found[home_partition(name, EVENTS.partitions)]
        if len(names) < per_partition:
            names.append(name)
        n += 1
    return sorted(name for names in found.values() for name in names)


def agencies_history(bureau: Bureau, agencies: list[str]) -> list[tuple[bytes, bytes, bool]]:
    """The agencies' histories interleaved round-robin: (key, value, is_close)."""
    streams = [
        [(a.encode(), as_agency(r.value, a), r.is_close) for r in history(bureau)] for a in agencies
    ]
    return [record for turn in zip(*streams, strict=True) for record in turn]


@dataclass(frozen=True)
class TrialResult:
    number: int
    action: str
    moment: str  # "load" (a random moment while records flow) or "close" (right after one)
    workers: int
    published: int
    statuses: int
    missing: int
    doubled: int
    replay_matches: bool
    seconds: float

    @property
    def passed(self) -> bool:
        return self.missing == 0 and self.doubled == 0 and self.replay_matches


class Worker:
    def __init__(self, rig: ScaleOutRig, number: int) -> None:
        self.port = free_port()
        self.env = {
            **rig.env,
            "MINGDENG_KAFKA_INSTANCE": f"worker-{number}",
            "MINGDENG_SCORING_DATA_DIR": str(rig.work / f"state-{number}"),
            "MINGDENG_SCORING_WEB_PORT": str(self.port),
        }
        self.service = Service(["mingdeng-scoring", "run"], self.env, rig.work / f"w{number}.log")

    @property
    def running(self) -> bool:
        process = self.service.process
        return process is not None and process.poll() is None

    def start(self) -> None:
        self.service.start(f"http://127.0.0.1:{self.port}/healthz")

    def signal(self, kind: int) -> None:
        assert self.service.process is not None
        os.kill(self.service.process.pid, kind)

    def tasks(self) -> int:
        try:
            import httpx

            text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2).text
        except Exception:
            return 0
        for line in text.splitlines():
            if line.startswith("mingdeng_scoring_tasks "):
                return int(float(line.split()[1]))
        return 0


class ScaleOutRig:
    def __init__(
        self,
        bootstrap_servers: str,
        work: Path,
        bureau: Bureau,
        workers: int = 2,
        rate_per_s: float = 400,
    ) -> None:
        self.kafka = KafkaSettings(
            bootstrap_servers=bootstrap_servers, topic_prefix=f"scale-{uuid.uuid4().hex[:8]}."
        )
        ensure_topics(self.kafka)
        self.work = work
        self.rate = rate_per_s
        self.pending = agencies_history(bureau, agencies_on_every_partition())
        self.keys: set[str] = set()
        self.env = {
            "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            "MINGDENG_KAFKA_TOPIC_PREFIX": self.kafka.topic_prefix,
            "MINGDENG_SCORING_PARTITIONED": "true",
            "MINGDENG_SCORING_MAX_BATCH": "200",
            "MINGDENG_SCORING_CHECKPOINT_EVERY_RECORDS": "300",
            "MINGDENG_SCORING_READY_MAX_LAG": "0",
        }
        self.workers = [Worker(self, n) for n in range(workers)]
        self.started_workers = workers
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True, linger_ms=5
        )
        self.close_published = threading.Event()

    # --- load ------------------------------------------------------------------------------

    def publish(self, count: int) -> None:
        topic = self.kafka.topic(EVENTS)
        for key, value, is_close in self.pending[:count]:
            document = json.loads(value)
            # an agency's statuses are keyed `{agency}/{source} {id}`
            self.keys.add(f"{document['agency']}/{document['source']} {document['id']}")
            self.producer.send(topic, key=key, value=value)
            if is_close:
                self.producer.flush()
                self.close_published.set()
            time.sleep(1 / self.rate)
        self.producer.flush()
        del self.pending[:count]

    def start_all(self) -> None:
        for worker in self.workers:
            if not worker.running:
                worker.start()

    # --- trials ----------------------------------------------------------------------------

    def trial(
        self,
        number: int,
        rng: random.Random,
        per_trial: int = 400,
        action: str | None = None,
        moment: str | None = None,
    ) -> TrialResult:
        """One trial; `action` (one of ACTIONS) and `moment` ("load" or "close") chosen by the
        trial's number and `rng` unless given."""
        started = time.monotonic()
        self.start_all()
        if action is None:
            action = (
                ACTIONS[number % len(ACTIONS)] if number < len(ACTIONS) else rng.choice(ACTIONS)
            )
        if moment is None:
            moment = "close" if number % 3 == 1 else "load"
        self.close_published.clear()
        if moment == "close":  # the load reaches the next close, and a little past it
            until_close = next((n for n, r in enumerate(self.pending) if r[2]), per_trial)
            per_trial = max(per_trial, until_close + 20)
        load = threading.Thread(target=self.publish, args=(per_trial,))
        load.start()
        if moment == "close":
            self.close_published.wait(3 * per_trial / self.rate + 10)
        else:
            time.sleep(rng.uniform(0.1, 0.8) * per_trial / self.rate)
        victim = rng.choice(self.workers)
        with (self.work / "trials.log").open("a") as log:
            log.write(
                f"{time.strftime('%H:%M:%S')} trial {number}: {action} {moment} {victim.service.log.name}\n"
            )
        if action == "SIGKILL":
            os.killpg(victim.service.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
        elif action == "SIGTERM":
            victim.signal(signal.SIGTERM)
        elif action == "pause":
            victim.signal(signal.SIGSTOP)
            time.sleep(SESSION_S + 2)  # its partitions go to the others meanwhile
            victim.signal(signal.SIGCONT)
        else:
            joining = Worker(self, self.started_workers)
            self.started_workers += 1
            joining.start()
            self.workers.append(joining)
        load.join()
        if action == "join":  # back to the rig's size: the oldest leaves
            leaving = self.workers.pop(0)
            leaving.service.stop()
        for worker in self.workers:
            if not worker.running and worker.service.process is not None:
                worker.service.process.wait(30)
        self.start_all()
        counts = self._wait_for_statuses()
        self._wait_until_ready()
        time.sleep(SELECTIONS_SETTLE_S)
        replay_ok = self.replay_matches()
        return TrialResult(
            number=number,
            action=action,
            moment=moment,
            workers=len(self.workers),
            published=len(self.keys),
            statuses=sum(counts.values()),
            missing=len(self.keys - counts.keys()),
            doubled=sum(1 for n in counts.values() if n > 1),
            replay_matches=replay_ok,
            seconds=round(time.monotonic() - started, 1),
        )

    def _wait_until_ready(self) -> None:
        def ready() -> bool:
            owned = [w.tasks() for w in self.workers]
            return sum(owned) == EVENTS.partitions and all(
                answers(f"http://127.0.0.1:{w.port}/readyz")
                for w, n in zip(self.workers, owned, strict=True)
                if n
            )

        try:
            wait_for(ready, 90, "every partition owned, and its owner caught up")
        except AssertionError as error:
            states = [
                (w.service.log.name, w.running, w.tasks(), self._readiness(w)) for w in self.workers
            ]
            raise AssertionError(f"{error}: {states}") from None

    def _readiness(self, worker: Worker) -> str:
        import httpx

        try:
            ready = httpx.get(f"http://127.0.0.1:{worker.port}/readyz", timeout=2).text
            metrics = httpx.get(f"http://127.0.0.1:{worker.port}/metrics", timeout=2).text
            lags = [
                line
                for line in metrics.splitlines()
                if line.startswith("mingdeng_scoring_consumer_lag{")
            ]
            return f"{ready} {lags}"
        except httpx.HTTPError as error:
            return str(error)

    def _wait_for_statuses(self) -> Counter[str]:
        return wait_for_statuses(self.kafka, self.keys)

    def replay_matches(self) -> bool:
        return replay_matches(self.env, self.work)

    def close(self) -> None:
        for worker in self.workers:
            if worker.running:
                worker.signal(signal.SIGCONT)
            worker.service.kill_if_running()
        self.producer.close()


def tally(results: list[TrialResult]) -> dict[str, object]:
    return {
        "trials": len(results),
        "passed": sum(r.passed for r in results),
        "by_action": dict(Counter(r.action for r in results)),
        "by_moment": dict(Counter(r.moment for r in results)),
        "events_published": results[-1].published if results else 0,
        "missing": sum(r.missing for r in results),
        "doubled": sum(r.doubled for r in results),
        "replay_mismatches": sum(not r.replay_matches for r in results),
        "results": [asdict(r) for r in results],
    }
