"""Restarts under load: `python bench/restart_trials.py [ROUNDS]` (3 by default) against the tests'
broker and database (run it as `deploy/bench.sh` sets up, or under `deploy/test.sh`'s
environment).

The four services run under their supervisors (tests/support/platform.py) while a client posts
batches through the API. Each round, each service in turn: after it has run healthy for a while,
its process is killed (-9); the supervisor starts it again. Measured per kill: seconds from the
kill to the new process answering /readyz, and to it working again (a projection: its offsets in
PostgreSQL move; scoring: a new event's status on the log). Then each service is stopped (TERM)
with a backlog: seconds to exit. Limits (issue 27): back in service within 10 s of a crash that
followed a healthy run, a TERM exit within 5 s. At the end, accepted events lost or doubled (both
must be 0). The tally goes to bench/results/restart-trials.json."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from mingdeng.contracts.topics import EVENT_STATUS  # noqa: E402
from tests.faults.test_trials import all_ready, consistent, registered_load  # noqa: E402
from tests.support.kafka_log import end_offsets  # noqa: E402
from tests.support.platform import SERVICES, Platform, supervised_platform  # noqa: E402
from tests.support.processes import answers, wait_for  # noqa: E402

BACK_WITHIN_S = 10.0
EXIT_WITHIN_S = 5.0
HEALTHY_FOR_S = 8.0  # the supervisor restarts at once only a run that was healthy this long
GROUPS = {
    "gateway": "mingdeng-gateway-projector",
    "notify": "mingdeng-notify",
    "outreach": "mingdeng-outreach",
}


async def offsets_moved_since(dsn: str, group: str, moment: datetime) -> bool:
    connection = await asyncpg.connect(dsn)
    try:
        return bool(
            await connection.fetchval(
                """SELECT EXISTS (SELECT FROM public.consumer_offsets
                                  WHERE consumer = $1 AND updated_at > $2)""",
                group,
                moment,
            )
        )
    finally:
        await connection.close()


def working(platform: Platform, name: str, since: datetime, status_end: int) -> bool:
    if name == "scoring":
        bus, topic = platform.kafka.bootstrap_servers, platform.kafka.topic(EVENT_STATUS)
        return sum(end_offsets(bus, topic).values()) > status_end
    group = platform.kafka.group(GROUPS[name])
    return asyncio.run(offsets_moved_since(platform.dsn, group, since))


def kill_and_time(platform: Platform, name: str) -> dict[str, float]:
    service = platform.services[name]
    pid = service.child_pid()
    assert pid is not None
    status_end = sum(
        end_offsets(platform.kafka.bootstrap_servers, platform.kafka.topic(EVENT_STATUS)).values()
    )
    killed, since = time.monotonic(), datetime.now(UTC)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: service.child_pid() not in (None, pid) and answers(service.ready), 120,
             f"{name} ready again")  # fmt: skip
    ready = time.monotonic() - killed
    wait_for(lambda: working(platform, name, since, status_end), 120, f"{name} working again")
    return {"ready_s": round(ready, 1), "working_s": round(time.monotonic() - killed, 1)}


def term_and_time(platform: Platform, name: str) -> float:
    service = platform.services[name]
    pid = service.child_pid()
    assert pid is not None
    started = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 60, f"{name} exited")
    exited = time.monotonic() - started
    wait_for(lambda: all_ready(platform), 120, f"{name} back after TERM")
    return round(exited, 1)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def main(rounds: int) -> None:
    unique = uuid.uuid4().hex[:10]
    kills: dict[str, list[dict[str, float]]] = {name: [] for name in SERVICES}
    terms: dict[str, list[float]] = {name: [] for name in SERVICES}
    with (
        tempfile.TemporaryDirectory() as tmp,
        supervised_platform(
            os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"],
            os.environ["MINGDENG_DATABASE_URL"],
            unique,
            Path(tmp),
        ) as platform,
    ):
        wait_for(lambda: all_ready(platform), 120, "the platform ready")
        load = registered_load(platform)
        load.start()
        try:
            for _ in range(rounds):
                for name in SERVICES:
                    time.sleep(HEALTHY_FOR_S)
                    kills[name].append(kill_and_time(platform, name))
                    print(name, "killed:", kills[name][-1], flush=True)
            for name in SERVICES:
                time.sleep(HEALTHY_FOR_S)
                terms[name].append(term_and_time(platform, name))
                print(name, "TERM exit:", terms[name][-1], "s", flush=True)
        finally:
            load.halt.set()
            load.join(60)
        assert load.error is None, load.error
        state: dict[str, str | None] = {"missing": "not checked"}

        def settled() -> bool:
            state["missing"] = consistent(platform, list(load.accepted))
            return state["missing"] is None

        wait_for(settled, 180, "every accepted event applied once")
        accepted = len(load.accepted)
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": rounds,
        "limits": {"back_within_s": BACK_WITHIN_S, "exit_within_s": EXIT_WITHIN_S},
        "events_accepted": accepted,
        "lost": 0,
        "doubled": 0,
        "per_service": {
            name: {
                "kills": kills[name],
                "working_again_s_median": statistics.median(k["working_s"] for k in kills[name]),
                "working_again_s_max": max(k["working_s"] for k in kills[name]),
                "term_exit_s": terms[name],
            }
            for name in SERVICES
        },
    }
    out = ROOT / "bench/results/restart-trials.json"
    out.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(summary["per_service"], indent=1))
    slow = {
        name: s["working_again_s_max"]
        for name, s in summary["per_service"].items()
        if s["working_again_s_max"] > BACK_WITHIN_S
    }
    slow_exit = {n: t for n, t in terms.items() if max(t) > EXIT_WITHIN_S}
    if slow or slow_exit:
        print(f"over the limits: back {slow}, exit {slow_exit}")
        sys.exit(1)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
