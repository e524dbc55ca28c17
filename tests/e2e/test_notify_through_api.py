"""A quarter closes: one commendation delivery per exemplar, for the leader whose line covers
the exemplar's department; a fresh violation reminds the member and the branch secretary at
once; history is recorded as suppressed, not sent; everything is read through the API."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from mingdeng.contracts import events as ev
from tests.e2e.conftest import Platform, token
from tests.support.builders import Events
from tests.support.processes import wait_for
from tests.unit.scoring.scenario import quarter_events

pytestmark = pytest.mark.e2e


def test_quarter_close_tasks_reminders_and_bulletin(
    platform_of: Callable[..., Platform], tmp_path: Path
) -> None:
    sink = tmp_path / "sms.jsonl"
    platform = platform_of("scoring", "notify", "gateway", MINGDENG_NOTIFY_SINK_FILE=str(sink),
                           MINGDENG_NOTIFY_SCHEDULE_EVERY_S="0.5", MINGDENG_NOTIFY_PER_MINUTE="10",
                           MINGDENG_NOTIFY_QUIET_HOURS="")  # any time of day: no SMS held  # fmt: skip
    api = httpx.Client(base_url=platform.api, timeout=10)
    admin = token("admin", "root")
    e = Events(source="/systems/hr")
    now = datetime.now(UTC)
    people = [
        e(ev.MemberRegistered(member_id=m, name=name, department_id=d, phone=phone, roles=roles,
                              party_member=True), "2026-06-01 09:00")
        for m, name, d, phone, roles in [
            ("S", "李书记", "d2", "13900000009", ("member", "secretary")),
            ("L1", "张局长", "d1", "13900000011", ("member", "leader")),
            ("L2", "刘副局长", "d1", "13900000012", ("member", "leader")),
        ]
    ]  # fmt: skip
    line = e(
        ev.DepartmentRegistered(department_id="d2", name="科室d2", branch_id="b1", leader_id="L2"),
        "2026-06-02 09:00",
    )
    fresh = e.violation("v-now", "B", now - timedelta(minutes=5))
    events = [*quarter_events(e), *people, line, fresh]
    assert (
        api.post("/v1/events", json=[x.to_cloudevent() for x in events], headers=admin).status_code
        == 202
    )

    def state(event: ev.EventData | object) -> str:
        return (
            api.get(f"/v1/events/{event.id}", params={"source": event.source}, headers=admin)
            .json()
            .get("status")
        )  # type: ignore[attr-defined]

    wait_for(lambda: all(state(x) == "applied" for x in events), 60, "events applied")
    close = Events(source="/systems/admin", prefix="close").close("2026Q3", now)
    assert api.post("/v1/events", json=close.to_cloudevent(), headers=admin).status_code == 202
    wait_for(
        lambda: (
            api.get("/v1/quarters/2026Q3/selections", headers=admin).json().get("status") == "final"
        ),
        30,
        "final",
    )
    exemplars = [
        m["member_id"]
        for m in api.get("/v1/quarters/2026Q3/selections", headers=admin).json()["exemplars"]
    ]
    assert exemplars[:2] == ["A", "L1"]  # and S, L2: the other party members without a violation
    leader_of = {"A": "L1", "L1": "L1", "L2": "L1", "S": "L2"}  # d1 -> L1, d2 -> L2

    def commendations() -> list[dict]:
        items = api.get("/v1/tasks", headers=admin).json()["items"]
        return [t for t in items if t["kind"] == "commendation"]

    wait_for(lambda: len(commendations()) == len(exemplars), 30, "commendation tasks")
    tasks = commendations()
    assert {(t["member_id"], t["assignee_id"]) for t in tasks} == {
        (m, leader_of[m]) for m in exemplars
    }
    due = datetime.fromisoformat(tasks[0]["due"])
    assert abs(due - (close.time + timedelta(days=14))) < timedelta(seconds=1)

    def notifications(recipient: str) -> dict[str, dict]:
        found = api.get(
            "/v1/notifications", params={"recipient_id": recipient}, headers=admin
        ).json()["items"]
        return {n["key"]: n for n in found}

    wait_for(
        lambda: notifications("B").get("violation_reminder/B/v-now", {}).get("status") == "sent",
        30,
        "reminder sent",
    )
    wait_for(
        lambda: notifications("S").get("violation_secretary/S/v-now", {}).get("status") == "sent",
        30,
        "secretary told",
    )
    old = notifications("B")["violation_reminder/B/vB"]
    assert (old["status"], old["reason"].startswith("out of date")) == ("suppressed", True)
    assert notifications("B")["violation_reminder/B/v-now"]["phone"] == "139****0000"
    wait_for(lambda: any(k.startswith("commendation_assigned/L2/") and n["status"] == "sent"
                         for k, n in notifications("L2").items()), 30, "L2 told")  # fmt: skip

    # the leader's commendation visit closes the task
    visit = Events(source="/systems/hr", prefix="cv")(
        ev.VisitMade(visit_id="cv1", member_id="L1", kind="commendation", target_member_id="A"),
        now + timedelta(minutes=1),
    )
    assert api.post("/v1/events", json=visit.to_cloudevent(), headers=admin).status_code == 202
    wait_for(
        lambda: {t["member_id"]: t["status"] for t in commendations()}["A"] == "done",
        30,
        "task done",
    )

    # talk task of the fresh violation, for the branch secretary; the member sees only their own
    talk_tasks = api.get(
        "/v1/tasks", params={"assignee_id": "S"}, headers=token("secretary", "S")
    ).json()["items"]
    assert "talk/v-now" in {t["task_id"] for t in talk_tasks}
    assert (
        api.get(
            "/v1/notifications", params={"recipient_id": "L1"}, headers=token("member", "B")
        ).status_code
        == 403
    )

    # last month's bulletin is issued once, readable as text
    wait_for(
        lambda: api.get("/v1/bulletins/" + _last_month(now), headers=admin).status_code == 200,
        30,
        "bulletin",
    )
    text = api.get(
        "/v1/bulletins/" + _last_month(now), headers={**admin, "Accept": "text/plain"}
    ).text
    assert text.startswith(f"明灯督查通报（{_last_month(now)}）")

    # the provider (the local sink) got each message once
    sent = Counter(json.loads(line)["key"] for line in sink.read_text().splitlines())
    assert sent["violation_reminder/B/v-now"] == 1 and max(sent.values()) == 1
    assert "violation_reminder/B/vB" not in sent


def _last_month(now: datetime) -> str:
    from mingdeng.contracts.periods import BUSINESS_TZ

    first = now.astimezone(BUSINESS_TZ).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")
