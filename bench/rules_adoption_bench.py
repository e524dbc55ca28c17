"""What an agency's change of rules version costs scoring (issue 25, docs/scoring.md "Rules per
agency"), in-process: an agency of MEMBERS members with a quarter of activity, then its
`agency.registered` adopting 2027.1. Measured: the time to take the quarter, and the time to
take the registration and publish what it changes (every open quarter recomputed whole under
the new rules and published again), with how many records that publishes.

    uv run --frozen python bench/rules_adoption_bench.py [MEMBERS]
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.service import ScoringService
from mingdeng.scoring.settings import DEFAULT_RULES
from tests.support.builders import Events, at
from tests.support.records import PARTITIONS, Log


def quarter_of(e: Events, members: int, seed: int = 1) -> list:
    rng = random.Random(seed)
    when = "2026-07-01 09:00"
    events = [e.branch(f"b{n}", when) for n in range(members // 500 + 1)]
    departments = [f"d{n}" for n in range(members // 100 + 1)]
    events += [e.department(d, f"b{n % len(events)}", when) for n, d in enumerate(departments)]
    ids = [f"m{n:05d}" for n in range(members)]
    events += [e.member(m, rng.choice(departments), when, phone=None) for m in ids]
    lectures = [f"L{n}" for n in range(6)]
    events += [e.delivered(lid, rng.choice(ids), f"2026-0{7 + n // 2}-1{n} 15:00")
               for n, lid in enumerate(lectures)]  # fmt: skip
    for m in ids:
        day = f"2026-08-{rng.randint(1, 28):02d} 10:00"
        events += [e.attended(lid, m, day) for lid in rng.sample(lectures, 4)]
        events += [e.volunteer(m, day) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.1:
            events.append(e.violation(f"v-{m}", m, day))
        events.append(e.kpi("member", m, "performance", "2026Q3", rng.randint(60, 100), day))
    return events


def main() -> None:
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rules = Rules.load(DEFAULT_RULES)
    service = ScoringService(rules, PARTITIONS, clock=lambda: at("2026-09-30 10:00"))
    log, czj = Log(), Events(agency="czj")
    events = quarter_of(czj, members)
    started = time.perf_counter()
    service.take(log.extend(events))
    service.publish_changes(everything=True)
    quarter_s = time.perf_counter() - started

    registration = log.append(czj.agency_registered("2026-09-30 09:00", "2027.1"))
    started = time.perf_counter()
    out = service.take([registration]) + service.publish_changes(everything=True)
    adoption_s = time.perf_counter() - started
    assert service.engine_of("czj").rules.version == "2027.1"
    print(
        json.dumps(
            {
                "members": members,
                "events": len(events),
                "quarter_s": round(quarter_s, 3),
                "per_event_us": round(quarter_s / len(events) * 1e6, 1),
                "adoption_s": round(adoption_s, 4),
                "adoption_publications": len(out),
            }
        )
    )


if __name__ == "__main__":
    main()
