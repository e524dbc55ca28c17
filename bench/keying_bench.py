"""Partitioning the inbound log by subject or by agency (issue 25, ADR 0002), in-process.

One bureau's history (tests/support/history.py) plus a burst of three other agencies, each
event as a record of a 4-partition log, fed to ScoringService in the order a consumer reading
the partitions round-robin would take them. Keyed by subject, the bureau's records spread over
the partitions and its close is a barrier (a copy per partition); keyed by agency, its records
sit on one partition and its close is one record there. Measured: records/s through `take` and
`publish_changes`, and how many records of the other agencies were taken between the close's
first copy and its completion (what a close waits for), and how many were held meanwhile.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mingdeng.contracts.topics import BARRIER_HEADER
from mingdeng.runtime.stream import InboundRecord
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.service import ScoringService
from mingdeng.scoring.settings import DEFAULT_RULES
from tests.support.history import Bureau, as_agency, history

PARTITIONS = 4


def partition_of(key: bytes) -> int:
    return sum(key) % PARTITIONS


def run(keying: str, members: int) -> dict[str, float]:
    logs: dict[int, list[InboundRecord]] = defaultdict(list)

    def append(key: bytes, value: bytes, partition: int, barrier: bool = False) -> None:
        logs[partition].append(
            InboundRecord(
                partition,
                len(logs[partition]),
                key,
                value,
                0,
                ((BARRIER_HEADER, b"1"),) if barrier else (),
            )
        )

    bureau = Bureau(members=members, quarters=4)
    for record in history(bureau):  # the default agency: the bureau
        if keying == "subject":
            if record.is_close:
                for p in range(PARTITIONS):
                    append(record.key, record.value, p, barrier=True)
            else:
                append(record.key, record.value, partition_of(record.key))
        else:
            if record.is_close:
                for p in range(PARTITIONS):
                    append(b"default", record.value, p, barrier=True)
            else:
                append(b"default", record.value, partition_of(b"default"))
    for n, agency in enumerate(("czj", "sfj", "jyj")):  # three more agencies, keyed by agency
        for record in history(Bureau(members=members, quarters=4, seed=11 + n)):
            append(agency.encode(), as_agency(record.value, agency), partition_of(agency.encode()))
    cursors = dict.fromkeys(logs, 0)
    order: list[InboundRecord] = []
    while any(cursors[p] < len(logs[p]) for p in logs):
        for p in sorted(logs):
            if cursors[p] < len(logs[p]):
                order.append(logs[p][cursors[p]])
                cursors[p] += 1
    service = ScoringService(Rules.load(DEFAULT_RULES), PARTITIONS)
    started = time.perf_counter()
    held_max, waits = 0, []
    for start in range(0, len(order), 500):
        service.take(order[start : start + 500])
        service.publish_changes()
        held_max = max(held_max, sum(len(q) for q in service._held.values()))
        waits.append(len(service.blocked_partitions))
    elapsed = time.perf_counter() - started
    return {
        "records": len(order),
        "records_per_s": round(len(order) / elapsed),
        "batches_with_a_partition_held": sum(1 for w in waits if w),
        "most_records_held_at_a_barrier": held_max,
    }


if __name__ == "__main__":
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    for keying in ("subject", "agency"):
        print(keying, run(keying, members), flush=True)
