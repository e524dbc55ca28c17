"""The agency commands of `mingdeng` on the real broker and database (issue 25): the upgrade of
a one-agency installation whose history was made by today's code (a replay afterwards gives
the final standings it had), and the 机关工委's close of a quarter for all its agencies."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace

import asyncpg
import httpx
import pytest
from kafka import KafkaProducer

from mingdeng.contracts import events as ev
from mingdeng.contracts.topics import EVENTS, SELECTIONS
from mingdeng.ops.agencies import live_finals
from tests.e2e.conftest import Platform, token
from tests.support.builders import Events
from tests.support.history import Bureau, history
from tests.support.kafka_log import latest
from tests.support.processes import ROOT, wait_for
from tests.unit.scoring.scenario import quarter_events

pytestmark = pytest.mark.e2e
ADMIN = token("admin", "root")
SMALL = replace(Bureau(), members=40, departments=4, branches=2, quarters=3)


def mingdeng(platform: Platform, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv/bin/mingdeng"), *arguments],
        env={**platform.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def agencies(platform: Platform) -> dict[str, tuple[str, str, str | None]]:
    async def read() -> dict[str, tuple[str, str, str | None]]:
        connection = await asyncpg.connect(platform.env["MINGDENG_DATABASE_URL"])
        try:
            rows = await connection.fetch("SELECT * FROM gateway.agencies")
        finally:
            await connection.close()
        return {r["agency_id"]: (r["name"], r["committee_id"], r["parent_agency_id"]) for r in rows}

    return asyncio.run(read())


def selection_status(platform: Platform, key: str) -> str | None:
    value = latest(platform.kafka.bootstrap_servers, platform.kafka.topic(SELECTIONS)).get(key)
    return None if value is None else str(json.loads(value)["status"])


def test_the_upgrade_of_a_one_agency_installation_keeps_its_final_standings(
    platform_of: Callable[..., Platform],
) -> None:
    platform = platform_of("scoring", "gateway")
    producer = KafkaProducer(bootstrap_servers=platform.kafka.bootstrap_servers, acks="all")
    made = list(history(SMALL))  # today's code: no agency anywhere, keyed by subject
    for record in made:
        producer.send(platform.kafka.topic(EVENTS), key=record.key, value=record.value)
    producer.flush()
    producer.close()
    quarters = ["2023Q1", "2023Q2", "2023Q3"]
    wait_for(
        lambda: all(selection_status(platform, q) == "final" for q in quarters),
        120,
        "the history's quarters final",
    )
    before = live_finals(platform.kafka)
    assert len(before) > SMALL.members * len(quarters)  # every member's final score at least

    started = time.monotonic()
    done = mingdeng(platform, "agencies", "upgrade", "--name", "某市财政局", "--committee", "city")
    print(f"upgrade took {time.monotonic() - started:.1f} s:\n{done.stdout}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(before)} final results before the upgrade" in done.stdout
    assert "0 differ from before" in done.stdout
    wait_for(lambda: "default" in agencies(platform), 30, "the installation's agency in the tree")
    assert agencies(platform) == {"default": ("某市财政局", "city", None)}
    assert live_finals(platform.kafka) == before  # scoring read the registration: nothing moved


def test_a_committee_closes_a_quarter_for_all_its_agencies_and_no_other(
    platform_of: Callable[..., Platform],
) -> None:
    platform = platform_of("scoring", "gateway")
    api = httpx.Client(base_url=platform.api, timeout=10)
    tree = {"czj": "city", "sfj": "city", "xj-czj": "county"}
    for agency, committee in tree.items():
        e = Events(source="/mingdeng/admin", agency=agency, prefix=f"{agency}-")
        registered = e(
            ev.AgencyRegistered(agency_id=agency, name=f"{agency}局", committee_id=committee),
            "2026-06-01 08:00",
        )
        events = [registered, *quarter_events(e)]
        posted = api.post("/v1/events", json=[x.to_cloudevent() for x in events], headers=ADMIN)
        assert posted.status_code == 202, posted.text
    wait_for(lambda: len(agencies(platform)) == 3, 30, "the tree in gateway.agencies")
    wait_for(
        lambda: all(selection_status(platform, f"{a}/2026Q3") == "provisional" for a in tree),
        60,
        "each agency's provisional selection",
    )

    early = mingdeng(platform, "agencies", "close-quarter", "--committee", "city",
                     "--quarter", "2099Q1")  # fmt: skip
    assert early.returncode == 1 and "has not ended" in early.stdout
    done = mingdeng(platform, "agencies", "close-quarter", "--committee", "city",
                    "--quarter", "2026Q3", "--wait", "60")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "for 2 agencies: czj, sfj" in done.stdout
    assert selection_status(platform, "czj/2026Q3") == "final"
    assert selection_status(platform, "sfj/2026Q3") == "final"
    assert selection_status(platform, "xj-czj/2026Q3") == "provisional"  # another committee's
