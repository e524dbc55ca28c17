"""Kafka and PostgreSQL outages under load: `python bench/outage_trials.py [OUTAGES] [SECONDS]`
(4 outages of 60 s by default, Kafka and PostgreSQL in turn) against the tests' broker and
database, which it stops and starts (run it as `deploy/bench.sh` sets up, or under
`deploy/test.sh`'s environment).

The four services run under their supervisors (tests/support/platform.py) while a client posts
batches through the API, retrying on 503 as told (the load of tests/faults/test_trials.py). Each
outage: Kafka killed (-9) or PostgreSQL stopped for SECONDS, then started again. Per service:
the outages it came through, seconds from the dependency's return to ready, log bytes written
during the outage, restarts; at the end, per service, accepted events lost or doubled (both must
be 0). The tally goes to bench/results/outage-trials.json."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from mingdeng.contracts.envelope import Event  # noqa: E402
from mingdeng.contracts.events import EventData, LectureAttended, MemberRegistered  # noqa: E402
from mingdeng.contracts.topics import EVENT_STATUS  # noqa: E402
from mingdeng.notify.service import READS as NOTIFY_READS  # noqa: E402
from mingdeng.outreach.service import READS as OUTREACH_READS  # noqa: E402
from tests.faults.test_trials import (  # noqa: E402
    Load,
    _counts,
    all_ready,
    check_published_once,
    consistent,
    registered_load,
    sent,
)
from tests.support.kafka_log import records  # noqa: E402
from tests.support.platform import (  # noqa: E402
    SERVICES,
    Platform,
    deploy_script,
    stop_dependency,
    supervised_platform,
)
from tests.support.processes import answers, wait_for  # noqa: E402

RECOVERY_LIMIT_S = 180


@dataclass
class Outage:
    dependency: str
    seconds: float
    accepted_during: int
    ready_again_s: dict[str, float | None] = field(default_factory=dict)
    log_bytes: dict[str, int] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    consistent_after_s: float | None = None


def log_of(platform: Platform, name: str) -> Path:
    return platform.services[name].run_dir / f"{name}.log"


def log_sizes(platform: Platform) -> dict[str, int]:
    return {name: log_of(platform, name).stat().st_size for name in SERVICES}


def restarts(platform: Platform) -> dict[str, int]:
    return {
        name: log_of(platform, name).read_text().count(": exited with code") for name in SERVICES
    }


def steady(platform: Platform, load: Load) -> None:
    wait_for(
        lambda: consistent(platform, list(load.accepted)) is None and all_ready(platform),
        RECOVERY_LIMIT_S,
        "the platform steady before the outage",
    )


def outage(platform: Platform, load: Load, dependency: str, seconds: float) -> Outage:
    steady(platform, load)
    sizes, exits, accepted = log_sizes(platform), restarts(platform), len(load.accepted)
    stop_dependency(dependency)
    time.sleep(seconds)
    during = log_sizes(platform)
    result = Outage(dependency, seconds, len(load.accepted) - accepted)
    result.log_bytes = {name: during[name] - sizes[name] for name in SERVICES}
    deploy_script(f"{dependency}/start.sh")
    back = time.monotonic()
    waiting = set(SERVICES)
    while waiting and time.monotonic() - back < RECOVERY_LIMIT_S:
        for name in sorted(waiting):
            if answers(platform.services[name].ready):
                result.ready_again_s[name] = round(time.monotonic() - back, 1)
                waiting.discard(name)
        time.sleep(0.2)
    result.ready_again_s |= dict.fromkeys(waiting)
    try:
        wait_for(lambda: consistent(platform, list(load.accepted)) is None, RECOVERY_LIMIT_S, "")
        result.consistent_after_s = round(time.monotonic() - back, 1)
    except AssertionError:
        result.consistent_after_s = None
    result.restarts = {name: n - exits[name] for name, n in restarts(platform).items()}
    return result


def losses(platform: Platform, accepted: list[Event[EventData]]) -> dict[str, dict[str, int]]:
    """Accepted events each service lost or took twice, counted in what it wrote."""
    counts = asyncio.run(_counts(platform.dsn))
    expected = {
        "notify.events": sum(isinstance(e.data, NOTIFY_READS) for e in accepted),
        "outreach.events": sum(isinstance(e.data, OUTREACH_READS) for e in accepted),
        "gateway.members": sum(isinstance(e.data, MemberRegistered) for e in accepted),
        "gateway.attendances": sum(isinstance(e.data, LectureAttended) for e in accepted),
    }

    def compared(*tables: str) -> dict[str, int]:
        return {
            "lost": sum(max(0, expected[t] - counts[t]) for t in tables),
            "doubled": sum(max(0, counts[t] - expected[t]) for t in tables),
        }

    keys = {" ".join(e.key) for e in accepted}
    statuses = Counter(
        r.key.decode()
        for r in records(platform.kafka.bootstrap_servers, platform.kafka.topic(EVENT_STATUS))
    )
    reminders = {
        f"violation_reminder/{e.data.member_id}/{e.data.violation_id}"  # type: ignore[attr-defined]
        for e in accepted
        if e.type == "mingdeng.violation.logged.v1"
    }
    sms = sent(platform.sink)
    return {
        "gateway": compared("gateway.members", "gateway.attendances"),
        "scoring": {
            "lost": len(keys - statuses.keys()),
            "doubled": sum(1 for k in keys if statuses[k] > 1),
        },
        "notify": {
            "lost": compared("notify.events")["lost"] + len(reminders - sms.keys()),
            "doubled": compared("notify.events")["doubled"] + sum(n > 1 for n in sms.values()),
        },
        "outreach": compared("outreach.events"),
    }


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 60
    outages: list[Outage] = []
    # the services' logs are kept there when MINGDENG_OUTAGE_LOGS names a folder
    kept = os.environ.get("MINGDENG_OUTAGE_LOGS")
    with (
        tempfile.TemporaryDirectory(prefix="mingdeng-outages-") as temporary,
        supervised_platform(
            os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"],
            os.environ["MINGDENG_DATABASE_URL"],
            uuid.uuid4().hex[:8],
            Path(kept or temporary),
        ) as platform,
    ):
        load = registered_load(platform)
        load.start()
        try:
            for number in range(count):
                dependency = ("kafka", "postgres")[number % 2]
                result = outage(platform, load, dependency, seconds)
                outages.append(result)
                print(json.dumps(asdict(result)), flush=True)
                assert load.error is None, load.error
        finally:
            load.halt.set()
            load.join(60)
        steady(platform, load)
        check_published_once(platform, load.accepted, load.uncertain_keys)
        lost_or_doubled = losses(platform, load.accepted)
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "outages": len(outages),
        "seconds_each": seconds,
        "events_accepted": len(load.accepted),
        "per_service": {
            name: {
                "outages_survived": sum(o.ready_again_s[name] is not None for o in outages),
                "ready_again_s": {
                    o.dependency: [
                        x.ready_again_s[name] for x in outages if x.dependency == o.dependency
                    ]
                    for o in outages
                },
                "log_bytes_during_outage": {
                    o.dependency: [
                        x.log_bytes[name] for x in outages if x.dependency == o.dependency
                    ]
                    for o in outages
                },
                "restarts": sum(o.restarts[name] for o in outages),
                **lost_or_doubled[name],
            }
            for name in SERVICES
        },
        "outage_log": [asdict(o) for o in outages],
    }
    out = ROOT / "bench" / "results" / "outage-trials.json"
    out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary["per_service"], indent=1))
    failed = any(s["lost"] or s["doubled"] for s in summary["per_service"].values())  # type: ignore[attr-defined]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
