"""The report's practice (issue 24) on the services as processes and in a real browser, each
flow as the role that does it: the office opens a round of 党性体检, a member fills in their
political health card on their phone, their branch secretary reviews it, and a member who did
not fill it in gets the reminder SMS; the office pairs a branch with a village branch and the
secretary records an activity held together; a member's confirmed community report is their
报到. Each page refused to the roles it is not for, and each API answer limited to what the
viewer may see. Screenshots into docs/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mingdeng.contracts import events as ev
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.web.forms import FormTokens
from tests.e2e.conftest import SECRET, Platform, token
from tests.e2e.test_member_flows_browser import DESKTOP, PHONE, refusal, shot, signed_in, sms
from tests.support.builders import Events, two_branches
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e


def test_health_card_pairing_and_community_in_a_browser(
    platform_of: Callable[..., Platform], tmp_path: Path, browser_of: Callable[[], object]
) -> None:
    sink = tmp_path / "sms.jsonl"
    platform = platform_of("notify", "gateway", MINGDENG_NOTIFY_SINK_FILE=str(sink),
                           MINGDENG_NOTIFY_SCHEDULE_EVERY_S="0.5", MINGDENG_NOTIFY_PER_MINUTE="10",
                           MINGDENG_NOTIFY_QUIET_HOURS="")  # fmt: skip
    api = httpx.Client(base_url=platform.api, timeout=10)
    admin = token("admin", "root")
    now = datetime.now(UTC)
    today = now.astimezone(BUSINESS_TZ).date()
    e = Events(source="/systems/hr")
    setup = [
        *two_branches(e, "2026-06-01 09:00"),
        e.member("M3", "d2", "2026-06-01 09:00", name="周敏", phone="13900000006"),
        e.member("L1", "d2", "2026-06-01 09:00", name="张局", roles=("member", "leader"),
                 phone="13900000007"),
        e.member("X1", "d1", "2026-06-01 09:00", name="群众甲", party=False, phone="13900000008"),
        # M1's community 报到, reported and confirmed (as /me/reports and /branch/reports do)
        e(ev.ReportSubmitted(report_id="r1", member_id="M1", kind="community",
                             happened_on=today - timedelta(days=3), title="集里街道新安社区",
                             notes="到社区报到，认领垃圾分类宣传任务"), now - timedelta(days=3)),
        e(ev.ReportConfirmed(report_id="r1", member_id="M1", kind="community",
                             counted_as="counted-r1"), now - timedelta(days=2)),
        e(ev.ReportSubmitted(report_id="r2", member_id="M1", kind="community",
                             happened_on=today - timedelta(days=1), title="集里街道新安社区",
                             notes="垃圾分类宣传"), now - timedelta(days=1)),
        e(ev.ReportConfirmed(report_id="r2", member_id="M1", kind="community",
                             counted_as="counted-r2"), now - timedelta(hours=1)),
    ]  # fmt: skip
    posted = api.post("/v1/events", json=[x.to_cloudevent() for x in setup], headers=admin)
    assert posted.status_code == 202, posted.text
    wait_for(lambda: api.get("/v1/community/reports", headers=admin).json()["reported"] == 1,
             60, "M1's 报到")  # fmt: skip
    browser = browser_of()

    # --- 党性体检: the office opens a round closing in ten days -------------------------------
    office = signed_in(browser, platform.api, "O", "admin", DESKTOP)
    page: Any = office.open("/office/health-cards")
    assert page.input_value("textarea[name=questions]") == "入党为什么\n为党做什么"
    page.fill("input[name=title]", "2026年度党性体检")
    page.fill("input[name=closes_on]", (today + timedelta(days=10)).isoformat())
    page.click("#open button:has-text('发起')")
    page.wait_for_selector("#opened")
    wait_for(lambda: api.get("/v1/health-cards/rounds", headers=admin).json()["items"],
             60, "the round")  # fmt: skip
    round_id = api.get("/v1/health-cards/rounds", headers=admin).json()["items"][0]["round_id"]

    # a member fills in their card on their phone
    member = signed_in(browser, platform.api, "M1", "member", PHONE)
    page = member.open("/me/health-card")
    answers = page.locator(f"[data-round='{round_id}'] textarea[name=answers]")
    answers.nth(0).fill("为了实现共产主义远大理想，全心全意为人民服务。")
    answers.nth(1).fill("立足财政岗位，管好用好每一笔财政资金。")
    page.click(f"[data-round='{round_id}'] button:has-text('提交保健卡')")
    page.wait_for_selector("#filled")

    def card(member_id: str, viewer: dict[str, str] = admin) -> dict[str, Any]:
        found = api.get(f"/v1/health-cards/rounds/{round_id}/cards", headers=viewer).json()
        return next((c for c in found["items"] if c["member_id"] == member_id), {})

    wait_for(lambda: card("M1").get("status") == "filled", 60, "M1's card")
    page = member.open("/me/health-card")
    assert "已填写，待审阅" in page.inner_text(f"[data-round='{round_id}']")
    shot(member, "me-health-card-phone")

    # the member's secretary reviews it; the figures of the branch follow
    secretary = signed_in(browser, platform.api, "S1", "secretary", DESKTOP)
    page = secretary.open(f"/branch/health-cards?round_id={round_id}")
    row = page.locator("tr[data-card=M1]")
    assert "立足财政岗位" in row.inner_text()
    assert page.locator("tr[data-card=M3]").count() == 0  # another branch's member
    assert page.locator("tr[data-card=X1]").count() == 0  # not a party member: owes no card
    row.locator("input[name=comment]").fill("初心明确，对照检查具体。")
    row.locator("button:has-text('审阅完成')").click()
    page.wait_for_selector("#reviewed")
    wait_for(lambda: card("M1").get("status") == "reviewed", 60, "the review")
    page = secretary.open(f"/branch/health-cards?round_id={round_id}")
    assert page.inner_text("#figures tr[data-branch=b1]").split("\t")[1:] == ["4", "1", "1", "3"]
    shot(secretary, "branch-health-cards")
    page = office.open("/office/health-cards")
    assert page.inner_text("tr[data-branch=b2]").split("\t")[1:] == ["3", "0", "0", "3"]
    shot(office, "office-health-cards")

    # refused: another branch's secretary reviewing M2, a member or a leader on these pages
    other = signed_in(browser, platform.api, "S2", "secretary", DESKTOP)
    page = other.open(f"/branch/health-cards?round_id={round_id}")
    assert page.locator("tr[data-card=M2]").count() == 0
    forged = FormTokens(SECRET).issue(Principal("S2", "secretary"), "health-card-review")
    answer = other.context.request.post(  # type: ignore[attr-defined]
        platform.api + f"/branch/health-cards/{round_id}/M2/review",
        form={"comment": "越权审阅", "form_token": forged,
              "csrf": page.eval_on_selector("input[name=csrf]", "e => e.value")},
    )  # fmt: skip
    assert answer.status == 403 and "只能审阅本支部党员的保健卡" in answer.text()
    assert card("M2")["status"] == "not_filled"
    assert "无权打开此页面" in refusal(member.open("/branch/health-cards"))
    leader = signed_in(browser, platform.api, "L1", "leader", DESKTOP)
    assert "无权打开此页面" in refusal(leader.open("/office/health-cards"))
    member_token = token("member", "M1")
    assert [c["member_id"] for c in api.get(f"/v1/health-cards/rounds/{round_id}/cards",
                                            headers=member_token).json()["items"]] == ["M1"]  # fmt: skip

    # the reminder: the office brings the close forward to 2 days from now (a round sent again:
    # the newest holds); every party member who has not filled in is reminded, once
    assert sms(sink, "health_card_reminder") == []
    opened = api.get("/v1/health-cards/rounds", headers=admin).json()["items"][0]
    sooner = ev.HealthCardRoundOpened(round_id=round_id, title=opened["title"],
                                      questions=opened["questions"],
                                      closes_on=today + timedelta(days=2))  # fmt: skip
    posted = api.post("/v1/events", json=e(sooner, datetime.now(UTC)).to_cloudevent(),
                      headers=admin)  # fmt: skip
    assert posted.status_code == 202, posted.text
    wait_for(lambda: len(sms(sink, "health_card_reminder")) >= 6, 60, "the reminders")
    reminded = sorted(r["key"].split("/")[1] for r in sms(sink, "health_card_reminder"))
    assert reminded == ["L1", "M2", "M3", "O", "S1", "S2"]  # not M1 (filled), not X1
    assert "2026年度党性体检" in next(r["text"] for r in sms(sink, "health_card_reminder"))

    # --- 支部结对共建: the office pairs b1, the secretary records an activity ----------------
    page = office.open("/office/pairings")
    page.select_option("select[name=branch_id]", "b1")
    page.fill("input[name=partner]", "道吾村党支部")
    page.check("input[name=partner_kind][value=village]")
    page.click("#pair button:has-text('登记')")
    page.wait_for_selector("#paired")
    wait_for(lambda: api.get("/v1/pairings", headers=admin).json()["items"], 60, "the pairing")
    page = secretary.open("/branch/pairings")
    page.fill("input[name=title]", "七一联合主题党日")
    page.check("input[name=participants][value=M1]")
    page.check("input[name=participants][value=M2]")
    page.click("#record button:has-text('登记')")
    page.wait_for_selector("#recorded")
    wait_for(lambda: api.get("/v1/pairings", headers=admin).json()["items"][0]["activities"] == 1,
             60, "the activity")  # fmt: skip
    page = secretary.open("/branch/pairings")
    assert "道吾村党支部" in page.inner_text("#pairings")
    assert "七一联合主题党日" in page.inner_text("#activities")
    assert "2 人：刘洋、陈晓" in page.inner_text("#activities")  # in the order of the branch
    shot(secretary, "branch-pairings")
    pairing = api.get("/v1/pairings", headers=admin).json()["items"][0]
    assert (pairing["activities"], pairing["person_times"]) == (1, 2)
    assert api.get("/v1/pairings", headers=token("secretary", "S2")).json()["items"] == []
    assert api.get("/v1/pairings", headers=member_token).status_code == 403
    assert "无权打开此页面" in refusal(member.open("/branch/pairings"))
    assert "无权打开此页面" in refusal(secretary.open("/office/pairings"))

    # --- 在职党员进社区: M1's 报到 on their page, the branch's list ---------------------------
    page = member.open("/me/community")
    assert "集里街道新安社区" in page.inner_text("#mine")
    assert "2 次" in page.inner_text("#mine")  # the 报到 and one activity, this year
    shot(member, "me-community-phone")
    page = secretary.open("/branch/community")
    assert "集里街道新安社区" in page.inner_text("tr[data-member=M1]")
    assert page.inner_text("#figures tr[data-branch=b1]").split("\t")[1:] == ["4", "1", "2"]
    page = other.open("/branch/community")
    assert page.locator("tr[data-member=M1]").count() == 0
    assert "无权打开此页面" in refusal(member.open("/branch/community"))
    mine = api.get("/v1/community/reports", headers=token("member", "M2")).json()
    assert mine["members"] == [] and mine["reported"] == 0
    exported = secretary.context.request.get(  # type: ignore[attr-defined]
        platform.api + f"/export/community-{today.year}.xlsx"
    )
    assert exported.status == 200 and exported.body()[:2] == b"PK"
