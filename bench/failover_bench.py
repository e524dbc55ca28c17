"""Failover of partitioned scoring (issue 26): two workers share the partitions under a steady
load; one is killed (-9, with its process group); measured is the time from the kill until the
group's committed offsets reach, on every partition, the end it had half a second after the kill:
the killed worker's partitions applied by the other. Then it is started again and the next
trial waits for the two to share the partitions. Every inbound event must have one status.
Where the seconds go, from the survivor's log: until it hears of the rebalance (the group's
session, then its next heartbeat), until it has taken the tasks on (fencing, committed offsets,
checkpoints read), until the moved tasks have replayed from their checkpoints; the rest is the
catch-up to where the partitions stood at the kill.

    uv run --frozen python bench/failover_bench.py [TRIALS]     (20 by default)

Writes bench/results/failover.json. Needs the tests' broker (`make bench` starts it).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from mingdeng.contracts.periods import Quarter  # noqa: E402
from mingdeng.contracts.topics import EVENTS  # noqa: E402
from tests.support.history import Bureau  # noqa: E402
from tests.support.processes import wait_for  # noqa: E402
from tests.support.scaleout_trials import ScaleOutRig  # noqa: E402

RATE = 300  # events/s offered during a trial
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ")


def since_kill(log: Path, killed_at: float, marks: dict[str, str]) -> dict[str, float]:
    """Seconds from the kill to the first line of the survivor's log after it that holds each
    mark (the last for `replayed`: every moved task live)."""
    found: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        stamp = STAMP.match(line)
        if stamp is None:
            continue
        at = time.mktime(time.strptime(stamp[1], "%Y-%m-%d %H:%M:%S")) + int(stamp[2]) / 1000
        if at < killed_at:
            continue
        for name, mark in marks.items():
            if mark in line and (name not in found or name == "replayed"):
                found[name] = round(at - killed_at, 2)
    return found


MARKS = {
    "rebalance_heard": "because it is rebalancing",
    "tasks_taken_on": "runs the tasks",
    "replayed": "replayed up to",
}


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    bureau = Bureau(
        members=8, departments=4, branches=2, first_quarter=Quarter(2000, 1), quarters=60
    )
    rng = random.Random(1)
    seconds: list[float] = []
    phases: list[dict[str, float]] = []
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="mingdeng-failover-") as work:
        rig = ScaleOutRig(
            os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"], Path(work), bureau, rate_per_s=RATE
        )
        bootstrap = rig.kafka.bootstrap_servers
        group = rig.kafka.group("mingdeng-scoring")
        tps = [TopicPartition(rig.kafka.topic(EVENTS), p) for p in range(EVENTS.partitions)]
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        reader = KafkaConsumer(bootstrap_servers=bootstrap)
        try:
            rig.start_all()
            rig.publish(200)
            for number in range(trials):
                rig.start_all()
                wait_for(lambda: all(w.tasks() == 2 for w in rig.workers), 90, "two tasks each")
                load = threading.Thread(target=rig.publish, args=(RATE * 10,))
                load.start()
                time.sleep(rng.uniform(1, 3))
                victim = rng.choice(rig.workers)
                survivor = next(w for w in rig.workers if w is not victim)
                killed, killed_at = time.monotonic(), time.time()
                os.killpg(victim.service.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
                # what has arrived after the kill too: records only the other can apply (the
                # ends at the kill may be committed already by a victim that was caught up)
                time.sleep(0.5)
                ends = reader.end_offsets(tps)

                def applied(ends: dict[TopicPartition, int] = ends) -> bool:
                    committed = admin.list_group_offsets({group: None}).get(group, {})
                    return all(tp in committed and committed[tp].offset >= ends[tp] for tp in tps)

                wait_for(applied, 120, "the killed worker's partitions applied by the other")
                seconds.append(time.monotonic() - killed)
                phases.append(since_kill(survivor.service.log, killed_at, MARKS))
                loads.append(os.getloadavg()[0])
                print(
                    f"trial {number}: applied {seconds[-1]:.2f} s after the kill"
                    f" ({phases[-1]}; load {loads[-1]:.1f})",
                    flush=True,
                )
                load.join()
                victim.service.process.wait(10)  # type: ignore[union-attr]
            counts = rig._wait_for_statuses()
            doubled = sum(1 for n in counts.values() if n > 1)
            missing = len(rig.keys - counts.keys())
        finally:
            rig.close()
            admin.close()
            reader.close()
    ordered = sorted(seconds)
    result = {
        "failover_trials": len(seconds),
        "failover_p50_s": round(statistics.median(ordered), 2),
        "failover_p99_s": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
        "failover_max_s": round(ordered[-1], 2),
        "failover_seconds": [round(s, 2) for s in seconds],
        # medians of the phases (seconds from the kill), then every trial's
        "phases_p50_s": {
            name: round(statistics.median(p[name] for p in phases if name in p), 2)
            for name in MARKS
            if any(name in p for p in phases)
        },
        "phases": phases,
        "session_timeout_ms": int(rig.env.get("MINGDENG_SCORING_SESSION_TIMEOUT_MS", 6000)),
        "load_average_per_trial": [round(x, 1) for x in loads],
        "offered_events_per_s": RATE,
        "missing": missing,
        "doubled": doubled,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    (ROOT / "bench" / "results" / "failover.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
