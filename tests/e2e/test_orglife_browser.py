"""Organisational life and frontline secondments (issue 24) on the services as processes, with
the broker and the database, dated from today so that it holds on any day: branch b1 holds its
三会一课 and 主题党日 over the last three months and the last ended quarter but not the 支委会 of
the last month, so its secretary gets the one reminder SMS and the office sees 未按期; member
陈晓 misses four meetings in a row and is flagged to the secretary, 刘洋 misses two and then is
granted leave, and is not. The secretary records the make-up 支委会 in the browser (screenshot
docs/screenshots/branch-meetings.png) and the reminder's task closes; the member reads their own
attendance on /me; the office records a secondment. Each page and answer is refused to the
roles it is not for."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from mingdeng.contracts import events as ev
from mingdeng.contracts.events import MeetingKind
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.notify.domain.orglife import RhythmPeriod
from tests.e2e.conftest import Platform, token
from tests.e2e.test_member_flows_browser import DESKTOP, PHONE, refusal, shot, signed_in, sms
from tests.support.builders import Events, two_branches
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e


def test_organisational_life_and_secondments(
    platform_of: Callable[..., Platform], tmp_path: Path, browser_of: Callable[[], object]
) -> None:
    sink = tmp_path / "sms.jsonl"
    platform = platform_of("scoring", "notify", "gateway", MINGDENG_NOTIFY_SINK_FILE=str(sink),
                           MINGDENG_NOTIFY_SCHEDULE_EVERY_S="0.5", MINGDENG_NOTIFY_PER_MINUTE="10",
                           MINGDENG_NOTIFY_QUIET_HOURS="")  # fmt: skip
    api = httpx.Client(base_url=platform.api, timeout=10)
    admin = token("admin", "O")
    today = datetime.now(BUSINESS_TZ).date()
    last_month = RhythmPeriod.last_ended(today, 1)
    months = [last_month]
    for _ in range(2):
        months.insert(0, RhythmPeriod.last_ended(months[0].first_day, 1))
    last_quarter = RhythmPeriod.last_ended(today, 3)
    registered = (datetime.now(UTC) - timedelta(days=400)).astimezone(BUSINESS_TZ)
    when = registered.strftime("%Y-%m-%d %H:%M")
    e = Events(source="/systems/hr")
    setup = [
        *two_branches(e, when),
        e.member("L1", "d2", when, name="张局", roles=("member", "leader"), phone="13900000006"),
    ]  # fmt: skip
    s = Events(source="/systems/branch-records")

    def held(
        meeting_id: str, kind: MeetingKind, day: date, absent: tuple[str, ...] = (),
        leave: tuple[ev.MeetingLeave, ...] = (),
    ) -> Any:  # fmt: skip
        named = set(absent) | {x.member_id for x in leave}
        data = ev.MeetingHeld(
            meeting_id=meeting_id, branch_id="b1", kind=kind, held_on=day, topic=f"{kind} {day}",
            attendees=tuple(m for m in ("S1", "M1", "M2") if m not in named), absentees=absent,
            leaves=leave, recorded_by="S1",
        )  # fmt: skip
        return s(data, f"{day} 18:00").to_cloudevent()

    granted = ev.MeetingLeave(member_id="M2", reason="下乡调研", granted=True)
    meetings = [
        held("ga", "general_assembly", last_quarter.first_day + timedelta(days=9)),
        held("pc", "party_class", last_quarter.first_day + timedelta(days=10)),
        held("g0", "group", months[0].first_day + timedelta(days=5)),
        held("t0", "theme_day", months[0].first_day + timedelta(days=14)),
        held("c0", "committee", months[0].first_day + timedelta(days=19)),
        held("g1", "group", months[1].first_day + timedelta(days=5)),
        held("t1", "theme_day", months[1].first_day + timedelta(days=14), absent=("M1",)),
        # on its month's last day: on time
        held("c1", "committee", months[1].end_day - timedelta(days=1), absent=("M1", "M2")),
        held("g2", "group", months[2].first_day + timedelta(days=5), absent=("M1", "M2")),
        held("t2", "theme_day", months[2].first_day + timedelta(days=14), absent=("M1",),
             leave=(granted,)),
    ]  # fmt: skip
    posted = api.post("/v1/events", json=[x.to_cloudevent() for x in setup], headers=admin)
    assert posted.status_code == 202
    wait_for(lambda: api.get("/v1/members/M1/meetings", headers=admin).status_code == 200, 60,
             "the registry")  # fmt: skip
    posted = api.post("/v1/events", json=meetings, headers=admin)
    assert posted.status_code == 202, posted.text

    def tasks(kind: str) -> dict[str, dict[str, Any]]:
        found = api.get("/v1/tasks", params={"kind": kind, "limit": 500}, headers=admin).json()
        return {t["task_id"]: t for t in found["items"]}

    missed = f"meeting/b1/committee/{last_month.name}"
    wait_for(lambda: missed in tasks("meeting"), 60, "the 支委会 of the last month 未按期")
    wait_for(lambda: len(sms(sink, "meeting_overdue")) == 1, 60, "the reminder SMS")
    reminder = sms(sink, "meeting_overdue")[0]
    assert reminder["key"] == f"meeting_overdue/S1/b1/committee/{last_month.name}"
    assert "支委会未按期召开" in reminder["text"] and "李书记" in reminder["text"]
    assert set(tasks("meeting")) == {missed}  # every other kind was held in its period
    wait_for(lambda: "absences/M1/t1" in tasks("absences"), 60, "陈晓 flagged")
    assert tasks("absences")["absences/M1/t1"]["assignee_id"] == "S1"
    assert not [t for t in tasks("absences") if "/M2/" in t]  # leave granted ends 刘洋's run

    life = api.get("/v1/organisation-life", params={"year": last_month.first_day.year},
                   headers=admin).json()  # fmt: skip
    b1 = next(b for b in life["branches"] if b["branch_id"] == "b1")
    committee = next(k for k in b1["kinds"] if k["kind"] == "committee")
    assert b1["overdue"] and committee["overdue_periods"] == [last_month.name]
    browser = browser_of()

    # --- the office: every branch's status, 未按期 first; the list as Excel ---------------
    office = signed_in(browser, platform.api, "O", "admin", DESKTOP)
    page: Any = office.open(f"/office/meetings?year={last_month.first_day.year}")
    assert "未按期" in page.inner_text("#status tr[data-branch=b1]")
    assert "未按期" not in page.inner_text("#status tr[data-branch=b2]")
    exported = office.context.request.get(  # type: ignore[attr-defined]
        platform.api + f"/office/meetings.xlsx?year={last_month.first_day.year}"
    )
    sheet = load_workbook(io.BytesIO(exported.body())).active
    assert sheet is not None
    assert {"支委会", "主题党日"} <= {row[2] for row in sheet.iter_rows(values_only=True)}

    # --- the secretary: status and flag; the make-up 支委会 recorded in the browser ---------
    secretary = signed_in(browser, platform.api, "S1", "secretary", DESKTOP)
    page = secretary.open("/branch/meetings")
    assert "未按期" in page.inner_text("#status tr:has-text('支委会')")
    assert "陈晓" in page.inner_text("#absences") and "刘洋" not in page.inner_text("#absences")
    page.select_option("select[name=kind]", "committee")
    page.fill("input[name=topic]", "补开支委会：研究党员发展工作")
    page.fill("textarea[name=minutes]", "会议研究了第四季度党员发展计划。")
    page.select_option("select[name=presence-M2]", "leave_granted")
    page.fill("input[name=reason-M2]", "参加业务培训")
    page.select_option("select[name=presence-M1]", "attended")
    shot(secretary, "branch-meetings")
    page.click("#record button:has-text('登记会议')")
    page.wait_for_selector("#recorded")
    wait_for(lambda: tasks("meeting")[missed]["status"] == "done", 60, "the make-up closes it")
    wait_for(lambda: tasks("absences")["absences/M1/t1"]["status"] == "done", 60, "陈晓 came")
    page = secretary.open("/branch/meetings")
    assert "未按期" not in page.inner_text("#status table")
    assert "补开支委会" in page.inner_text("#meetings")
    page.click("#meetings a:has-text('补开支委会')")
    page.wait_for_selector("#presence")
    assert "参加业务培训" in page.inner_text("#presence")
    shot(secretary, "branch-meeting")
    assert len(sms(sink, "meeting_overdue")) == 1  # never again for that period

    # --- the member reads their own attendance on /me ------------------------------------
    member = signed_in(browser, platform.api, "M1", "member", PHONE)
    page = member.open("/me")
    attendance = page.inner_text("#my-meetings")
    assert "缺席\n4" in attendance and "补开支委会" in attendance

    # --- 一线锻炼: the office records a secondment; listed, counted ------------------------
    page = office.open("/office/secondments")
    page.select_option("select[name=member_id]", "M2")
    page.fill("input[name=post]", "某村驻村第一书记")
    page.fill("input[name=campaign]", "三大攻坚战·精准脱贫")
    page.fill("input[name=from_on]", today.isoformat())
    page.fill("input[name=until_on]", (today + timedelta(days=365)).isoformat())
    page.click("#record button:has-text('登记')")
    page.wait_for_selector("#recorded")
    year = {"year": today.year}
    wait_for(lambda: api.get("/v1/secondments", params=year, headers=admin).json()["total"] == 1,
             60, "the secondment")  # fmt: skip
    page = office.open("/office/secondments")
    assert "刘洋" in page.inner_text("#secondments") and "在岗" in page.inner_text("#secondments")
    assert "选派\n1" in page.inner_text("#figures")
    shot(office, "office-secondments")
    exported = office.context.request.get(  # type: ignore[attr-defined]
        platform.api + f"/office/secondments.xlsx?year={year['year']}"
    )
    rows = list(load_workbook(io.BytesIO(exported.body())).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("党员", "科室", "锻炼岗位") and rows[1][0] == "刘洋"
    mine = api.get("/v1/secondments", params=year, headers=token("member", "M2")).json()
    assert mine["total"] == 1
    assert (
        api.get("/v1/secondments", params=year, headers=token("member", "M1")).json()["total"] == 0
    )

    # --- refused to everyone else ---------------------------------------------------------
    member_page = signed_in(browser, platform.api, "M1", "member", DESKTOP)
    for path in (
        "/branch/meetings",
        "/office/meetings",
        "/office/secondments",
        "/office/secondments.xlsx",
    ):
        member_page.open(path)
        assert "无权" in refusal(member_page.page) or "权限" in refusal(member_page.page), path
    other = signed_in(browser, platform.api, "S2", "secretary", DESKTOP)
    page = other.open("/branch/meetings")
    assert "补开支委会" not in page.inner_text("main")
    for path in ("/office/meetings", "/office/secondments", "/branch/meetings/t0"):
        other.open(path)
        text = refusal(other.page)
        assert "补开支委会" not in text and "陈晓" not in text, path
    as_s2 = token("secretary", "S2")
    assert api.get("/v1/meetings", params=year, headers=as_s2).json()["total"] == 0
    assert api.get("/v1/meetings/t0", headers=as_s2).status_code == 404
    assert api.get("/v1/members/M1/meetings", headers=as_s2).status_code == 403
    assert api.get("/v1/members/M1/meetings", headers=token("member", "M2")).status_code == 403
    assert api.get("/v1/meetings", params=year, headers=token("leader", "L1")).status_code == 403
    assert api.get("/v1/organisation-life", params=year,
                   headers=token("member", "M1")).status_code == 403  # fmt: skip
    secretary.only_own_host()
