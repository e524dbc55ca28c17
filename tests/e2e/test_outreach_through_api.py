"""Pairings, unpairings and visits with known coverage and overdue lists, published through
POST /v1/events and read through the API by each role; reminder requests for overdue visits
reach the notifier's topic once, also across a restart of the outreach service. The talks owed
after violations are the notifier's talk tasks, read through the same outreach endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mingdeng.contracts import events as ev
from mingdeng.contracts.topics import REMINDER_REQUESTS
from tests.e2e.conftest import Platform, token
from tests.support.builders import at
from tests.support.kafka_log import records
from tests.support.processes import wait_for
from tests.unit.outreach.scenario import bureau_events

pytestmark = pytest.mark.e2e


def test_outreach_figures_through_the_api(
    platform_of: Callable[..., Platform], tmp_path: Path
) -> None:
    platform = platform_of("outreach", "notify", "gateway",
                           MINGDENG_OUTREACH_REMINDER_INTERVAL_S="0.5",
                           MINGDENG_NOTIFY_SINK_FILE=str(tmp_path / "sms.jsonl"))  # fmt: skip
    api = httpx.Client(base_url=platform.api, timeout=10)
    admin = token("admin", "root")
    events = bureau_events()
    posted = api.post("/v1/events", json=[e.to_cloudevent() for e in events], headers=admin)
    assert posted.status_code == 202, posted.text

    def coverage(headers: dict[str, str] = admin) -> dict:
        return api.get("/v1/outreach/coverage/2026Q3", headers=headers).json()

    wait_for(lambda: coverage().get("visited") == 3, 30, "coverage of 2026Q3")
    body = coverage()
    assert (body["pairings"], body["visited"], body["rate"]) == (4, 3, 0.75)
    assert [(m["member_id"], m["pairings"], m["visited"]) for m in body["by_member"]] == [
        ("M1", 2, 2),
        ("M2", 2, 1),
    ]

    now = datetime.now(UTC)
    last = {
        "h1": "2026-07-10 10:00",
        "h2": "2026-08-20 10:00",
        "h3": "2026-07-05 10:00",
        "h4": "2026-07-01 09:00",
    }
    expected = sorted(((now - at(t)).days, h) for h, t in last.items())[::-1]
    assert [(o["days_without_visit"], o["household_id"]) for o in body["overdue"]] == expected

    reassign = api.get("/v1/outreach/reassignment", headers=admin).json()["items"]
    assert [(x["household_id"], x["reason"]) for x in reassign] == [
        ("h5", "unpaired"),
        ("h6", "member left"),
    ]
    liaison = api.get("/v1/outreach/liaison/2026Q3", headers=admin).json()["leaders"]
    assert [(x["leader_id"], x["flagged"]) for x in liaison] == [("L1", False), ("L2", True)]

    # talks owed: the notifier's talk tasks (docs/notify.md). v3 was retracted: cancelled, left
    # out. v2 is the violation of M2, the only secretary of the branch: no one to hold the talk.
    def owed(headers: dict[str, str] = admin) -> list[dict]:
        return api.get("/v1/outreach/talk-obligations", headers=headers).json()["items"]

    expected = [("v1", "done"), ("v4", "overdue")]
    wait_for(
        lambda: [(o["violation_id"], o["status"]) for o in owed()] == expected,
        30,
        "talk obligations",
    )
    talk = next(x for x in events if isinstance(x.data, ev.TalkHeld) and x.data.talk_id == "t1")
    v1 = owed()[0]
    assert (v1["assignee_id"], v1["secretary_ids"], v1["branch_id"], v1["talk_id"]) == (
        "M2",
        ["M2"],
        "b1",
        talk.id,
    )
    assert [datetime.fromisoformat(v1[k]) for k in ("violation_at", "due")] == [
        at("2026-08-01 10:00"),
        at("2026-08-08 10:00"),
    ]
    assert api.get("/v1/outreach/suggestions", headers=admin).json()["adopted"] == 1
    assert api.get("/v1/outreach/community/2026Q3", headers=admin).json()["volunteer_hours"] == 3.5
    assert api.get("/v1/outreach/talks/2026-09", headers=admin).json()["by_category"]["youth"] == 1

    # roles
    as_m1 = coverage(token("member", "M1"))
    assert [m["member_id"] for m in as_m1["by_member"]] == ["M1"]
    assert {o["member_id"] for o in as_m1["overdue"]} == {"M1"}
    assert as_m1["by_department"] == []
    households = api.get("/v1/outreach/members/M1/households", headers=token("member", "M1")).json()
    assert [h["household_id"] for h in households["households"]] == ["h1", "h2"]
    assert (
        api.get("/v1/outreach/members/M1/households", headers=token("member", "M2")).status_code
        == 403
    )
    assert (
        api.get("/v1/outreach/members/M1/households", headers=token("leader", "L1")).status_code
        == 403
    )
    assert api.get("/v1/outreach/reassignment", headers=token("secretary", "M2")).status_code == 403
    as_secretary = owed(token("secretary", "M2"))
    assert [o["violation_id"] for o in as_secretary] == ["v1", "v4"]  # the branch's members
    assert owed(token("leader", "L1")) == []
    assert [o["violation_id"] for o in owed(token("member", "M1"))] == ["v1", "v4"]
    assert [
        x["leader_id"]
        for x in api.get("/v1/outreach/liaison/2026Q3", headers=token("leader", "L2")).json()[
            "leaders"
        ]
    ] == ["L2"]
    assert (
        api.get("/v1/outreach/overdue", headers=token("publisher", "s", "/systems/x")).status_code
        == 403
    )
    assert api.get("/v1/outreach/coverage/2026Q5", headers=admin).status_code == 422

    # reminders: one request per overdue pairing, none again after a restart
    kafka = platform.kafka

    def requests() -> list[dict]:
        found = records(kafka.bootstrap_servers, kafka.topic(REMINDER_REQUESTS))
        return [json.loads(r.value) for r in found]

    wait_for(lambda: len(requests()) == 4, 20, "four reminder requests")
    assert sorted((r["recipient_id"], r["details"]["household_id"]) for r in requests()) == [
        ("M1", "h1"),
        ("M1", "h2"),
        ("M2", "h3"),
        ("M2", "h4"),
    ]
    outreach = platform.services["outreach"]
    outreach.stop()
    outreach.start(f"http://127.0.0.1:{platform.env['MINGDENG_OUTREACH_HEALTH_PORT']}/healthz")
    wait_for(lambda: coverage().get("visited") == 3, 10, "outreach back")
    time.sleep(2)  # four reminder rounds
    assert len(requests()) == 4
