"""The members' work on the pages (issue 23) in a real browser, on the services as processes,
each flow as the role that does it: a secretary records a talk from the open talk task and the
task closes; a member appeals a violation from their phone and the office upholds it: the
violation is retracted, the index and the talk task change, the member gets the SMS; a member's
household visit report counts only after their secretary confirms it, a rejected one is told
by SMS; the message centre lists the SMS with the unread count in the header. Refused, with a
Chinese sentence and nothing published: a double submit, a stale form, a decision on a page
decided meanwhile, a secretary confirming their own report, a secretary of another branch.
Screenshots of every page into docs/screenshots/ (1440×900, and 375×812 for the phone)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.gateway.adapters.tokens import issue_token
from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.web.forms import FormTokens
from tests.e2e.conftest import SECRET, Platform, token
from tests.e2e.test_dashboard_browser import Visits
from tests.support.builders import Events, two_branches
from tests.support.processes import ROOT, wait_for

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 375, "height": 812}


def signed_in(
    browser: object, api: str, member_id: str, role: str, viewport: dict[str, int]
) -> Visits:
    """A browser context with the session cookie of `member_id` acting as `role`."""
    visits = Visits(browser, api, viewport=viewport)
    session = issue_token(SECRET, Principal(member_id, role), timedelta(hours=1))  # type: ignore[arg-type]
    visits.context.add_cookies([{"name": "mingdeng_session", "value": session, "url": api}])
    return visits


def shot(visits: Visits, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    visits.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def refusal(page: Any) -> str:
    page.wait_for_load_state("networkidle")
    return str(page.inner_text("main"))


def filled(form: Any) -> tuple[str, dict[str, str]]:
    """A form's action and the fields it would send now."""
    fields = form.evaluate("f => Object.fromEntries(new FormData(f).entries())")
    return str(form.get_attribute("action")), fields


def send_again(visits: Visits, sent: tuple[str, dict[str, str]]) -> tuple[int, str]:
    """The same form sent once more from the same browser (a double submit)."""
    action, fields = sent
    answer = visits.context.request.post(visits.api + action, form=fields)  # type: ignore[attr-defined]
    return answer.status, answer.text()


def sms(sink: Path, rule: str) -> list[dict[str, Any]]:
    if not sink.exists():
        return []
    found = [json.loads(line) for line in sink.read_text(encoding="utf-8").splitlines()]
    return [r for r in found if r["key"].startswith(f"{rule}/")]


def test_members_work_in_a_browser(
    platform_of: Callable[..., Platform],
    tmp_path: Path,
    browser_of: Callable[[], object],
) -> None:
    sink = tmp_path / "sms.jsonl"
    platform = platform_of("scoring", "notify", "outreach", "gateway", MINGDENG_NOTIFY_SINK_FILE=str(sink),
                           MINGDENG_NOTIFY_SCHEDULE_EVERY_S="0.5", MINGDENG_NOTIFY_PER_MINUTE="10",
                           MINGDENG_NOTIFY_QUIET_HOURS="")  # fmt: skip
    api = httpx.Client(base_url=platform.api, timeout=10)
    admin = token("admin", "root")
    now = datetime.now(UTC)
    quarter = str(Quarter.of(now))
    e = Events(source="/systems/hr")
    setup = [
        *two_branches(e, "2026-06-01 09:00"),
        *e.household("h1", "M1", "2026-06-01 09:00"),
        e.violation("v1", "M1", now - timedelta(hours=2), rule=2),
        e.violation("v2", "M2", now - timedelta(hours=2), rule=9),
    ]  # fmt: skip
    posted = api.post("/v1/events", json=[x.to_cloudevent() for x in setup], headers=admin)
    assert posted.status_code == 202

    def tasks() -> dict[str, dict[str, Any]]:
        found = api.get("/v1/tasks", params={"limit": 500}, headers=admin).json()["items"]
        return {t["task_id"]: t for t in found}

    wait_for(lambda: {"talk/v1", "talk/v2"} <= set(tasks()), 60, "the talk tasks")

    def vanguard(member_id: str) -> dict[str, Any]:
        answer = api.get(f"/v1/members/{member_id}/vanguard/{quarter}", headers=admin)
        return answer.json() if answer.status_code == 200 else {}

    wait_for(lambda: vanguard("M1").get("components", {}).get("discipline") == 10, 60, "v1 counted")
    wait_for(lambda: api.get("/v1/outreach/members/M1/households", headers=admin).status_code
             == 200, 60, "M1's household")  # fmt: skip
    browser = browser_of()

    # --- 谈心谈话: the secretary records the talk from the open task; the task closes --------
    secretary = signed_in(browser, platform.api, "S1", "secretary", DESKTOP)
    page = secretary.open("/branch")
    page.click("#talks tr:has-text('刘洋') a:has-text('记录谈话')")
    page.wait_for_selector("#record form")
    assert "来自谈话任务：刘洋" in page.inner_text("#record")
    page.select_option("select[name=category]", "member")
    page.fill("textarea[name=note]", "指出会议期间玩手机的问题，本人表示今后改正。")
    talk_form = filled(page.locator("#record form"))
    page.click("#record button:has-text('记录谈话')")
    page.wait_for_selector("#recorded")
    wait_for(lambda: tasks()["talk/v2"]["status"] == "done", 60, "the talk task done")
    assert tasks()["talk/v1"]["status"] == "open"  # only the task of the member talked with
    page = secretary.open("/branch/talks")
    assert page.locator("#history tbody tr").count() == 1
    assert "刘洋" in page.inner_text("#history") and "合计\n1" in page.inner_text("#figures")
    shot(secretary, "branch-talks")
    # the same form sent again: refused, still one talk
    # (said as a double submit, or as the task done since, as the projector has it by then)
    status, text = send_again(secretary, talk_form)
    assert status == 409
    assert "这份谈话记录已经提交过" in text or "这项谈话任务已于" in text
    talks = api.get("/v1/talks", params={"year": now.astimezone(BUSINESS_TZ).year}, headers=admin)
    assert talks.json()["total"] == 1
    # a stale form (opened more than 2 hours ago): refused, nothing published
    page = secretary.open("/branch/talks")
    old = FormTokens(SECRET).issue(Principal("S1", "secretary"), "talk", time.time() - 3 * 3600)
    page.eval_on_selector("#record input[name=form_token]", "(el, v) => el.value = v", old)
    page.select_option("select[name=member_id]", "M1")
    page.click("#record button:has-text('记录谈话')")
    assert "表单已过期（打开已超过 2 小时）" in refusal(page)
    # a secretary of another branch cannot record a talk with M1
    other = signed_in(browser, platform.api, "S2", "secretary", DESKTOP)
    page = other.open("/branch/talks")
    page.eval_on_selector("select[name=member_id]",
                          "el => el.add(new Option('陈晓', 'M1', true, true))")  # fmt: skip
    page.click("#record button:has-text('记录谈话')")
    assert "只能记录与本支部党员的谈心谈话" in refusal(page)
    time.sleep(1)
    assert api.get("/v1/talks", params={"year": now.astimezone(BUSINESS_TZ).year},
                   headers=admin).json()["total"] == 1  # fmt: skip
    secretary.only_own_host()

    # --- 申诉: the member appeals on their phone; the office upholds it ---------------------
    member = signed_in(browser, platform.api, "M1", "member", PHONE)
    page = member.open("/me/appeals")
    card = page.locator("article[data-violation=v1]")
    assert "第2条：不准迟到早退、擅自离岗脱岗" in card.inner_text()
    card.locator("summary").click()
    card.locator("textarea[name=reason]").fill("当天因公外出办理业务，有审批单为证。")
    appeal_form = filled(card.locator("form"))
    card.locator("button:has-text('提交申诉')").click()
    page.wait_for_selector("#filed")
    wait_for(lambda: api.get("/v1/appeals", headers=admin).json()["total"] == 1, 60, "the appeal")
    page = member.open("/me/appeals")
    assert "审核中" in page.inner_text("#appeals")
    shot(member, "me-appeals-phone")
    status, text = send_again(member, appeal_form)
    assert status == 409 and ("这份申诉已经提交过" in text or "申诉正在审核中" in text)
    assert api.get("/v1/appeals", headers=admin).json()["total"] == 1

    office = signed_in(browser, platform.api, "O", "admin", DESKTOP)
    page = office.open("/office/appeals")
    stale = office.context.new_page()  # the same list opened in a second tab, decided later
    stale.goto(platform.api + "/office/appeals")
    row = page.locator("tr[data-appeal]").first
    assert "陈晓" in row.inner_text() and "有审批单为证" in row.inner_text()
    shot(office, "office-appeals")
    row.locator("input[value=upheld]").check()
    row.locator("textarea[name=reason]").fill("经核实，当天因公外出，申诉成立。")
    row.locator("button:has-text('提交处理意见')").click()
    page.wait_for_selector("#decided")
    wait_for(lambda: vanguard("M1")["components"]["discipline"] == 20, 60, "the index recomputed")
    wait_for(lambda: tasks()["talk/v1"]["status"] == "cancelled", 60, "the talk task cancelled")
    wait_for(lambda: len(sms(sink, "appeal_upheld")) == 1, 60, "the SMS to the member")
    assert sms(sink, "appeal_upheld")[0]["phone"] == "13900000004"
    wait_for(lambda: api.get("/v1/appeals", headers=admin).json()["items"][0]["status"]
             == "upheld", 60, "the appeal decided")  # fmt: skip
    # the second tab decides too: refused, the decision stands
    row = stale.locator("tr[data-appeal]").first
    row.locator("input[value=rejected]").check()
    row.locator("textarea[name=reason]").fill("不予支持")
    row.locator("button:has-text('提交处理意见')").click()
    assert "这份申诉已于" in refusal(stale) and "申诉成立" in refusal(stale)
    page = office.open("/office/appeals")
    assert "申诉成立（已撤销）" in page.inner_text("main")
    page = office.open(f"/rankings?quarter={quarter}")
    shown = page.locator("#vanguard tr[data-id=M1] .index").inner_text()
    assert shown == f"{vanguard('M1')['index']:.2f}"
    page = member.open(f"/me?quarter={quarter}")
    page.click("summary:has-text('遵规守纪')")
    assert "申诉成立，撤销违纪记录" in page.inner_text("#index")

    # --- reports: counted only once the secretary confirms them ------------------------------
    service_before = vanguard("M1")["components"]["service"]
    page = member.open("/me/reports")
    page.check("input[name=kind][value=household]")
    page.select_option("select[name=household_id]", "h1")
    page.fill("textarea[name=notes]", "了解冬季取暖情况，送去棉被两床。")
    page.click("button:has-text('提交报告')")
    page.wait_for_selector("#submitted")
    page.check("input[name=kind][value=volunteer]")
    page.fill("input[name=title]", "社区垃圾分类宣传")
    page.fill("input[name=hours]", "1.5")
    page.click("button:has-text('提交报告')")
    page.wait_for_selector("#submitted")
    wait_for(lambda: api.get("/v1/reports", headers=admin).json()["total"] == 2, 60, "reports")
    time.sleep(2)
    assert vanguard("M1")["components"]["service"] == service_before  # not counted yet
    page = member.open("/me/reports")
    assert page.locator("#reports li:has-text('待确认')").count() == 2
    shot(member, "me-reports-phone")
    # the secretary reports for themself too: their own report shows without a form
    page = secretary.open("/me/reports")
    page.check("input[name=kind][value=community]")
    page.fill("input[name=title]", "集里街道花园社区")
    page.click("button:has-text('提交报告')")
    page.wait_for_selector("#submitted")
    wait_for(lambda: api.get("/v1/reports", headers=admin).json()["total"] == 3, 60, "reports")
    reports = {r["member_id"] + r["kind"]: r for r in
               api.get("/v1/reports", headers=admin).json()["items"]}  # fmt: skip
    visit, volunteer, own = reports["M1household"], reports["M1volunteer"], reports["S1community"]

    page = secretary.open("/branch/reports")
    assert page.locator("#queue tr[data-report]").count() == 3
    assert (
        "本人的报告，由机关党办审核"
        in page.locator(f"tr[data-report='{own['report_id']}']").inner_text()
    )
    shot(secretary, "branch-reports")
    # their own report, posted with a form of the page: refused
    form = page.locator(f"tr[data-report='{visit['report_id']}'] form")
    fields = {name: form.locator(f"input[name={name}]").get_attribute("value")
              for name in ("csrf", "form_token")}  # fmt: skip
    answer = secretary.context.request.post(
        f"{platform.api}/branch/reports/{own['report_id']}/decision",
        form={**fields, "outcome": "confirmed", "reason": ""},
    )
    assert answer.status == 403 and "不能审核本人提交的报告" in answer.text()
    # the office (机关党办) confirms the secretary's own report
    page = office.open("/branch/reports")
    assert page.locator("#queue tr[data-report]").count() == 3  # every branch's
    row = page.locator(f"tr[data-report='{own['report_id']}']")
    row.locator("input[value=confirmed]").check()
    row.locator("button:has-text('提交')").click()
    page.wait_for_selector("#decided")
    shot(office, "office-reports")
    wait_for(lambda: {r["report_id"]: r["status"] for r in api.get(
        "/v1/reports", headers=admin).json()["items"]}[own["report_id"]] == "confirmed", 60,
        "the secretary's own report confirmed by the office")  # fmt: skip
    # a secretary of another branch: refused
    page = other.open("/branch/reports")
    assert page.locator("#queue tr[data-report]").count() == 0
    csrf = page.locator("input[name=csrf]").first.get_attribute("value") or ""
    foreign_token = FormTokens(SECRET).issue(Principal("S2", "secretary"), "report-decision")
    answer = other.context.request.post(
        f"{platform.api}/branch/reports/{visit['report_id']}/decision",
        form={"csrf": csrf, "form_token": foreign_token, "outcome": "confirmed", "reason": ""},
    )
    assert answer.status == 404 and "只能审核本支部党员的报告" in answer.text()
    # the secretary confirms the visit: it counts
    page = secretary.open("/branch/reports")
    row = page.locator(f"tr[data-report='{visit['report_id']}']")
    row.locator("input[value=confirmed]").check()
    confirm_form = filled(row.locator("form"))
    row.locator("button:has-text('提交')").click()
    page.wait_for_selector("#decided")
    wait_for(lambda: vanguard("M1")["components"]["service"] == service_before + 5, 60,
             "the confirmed visit counted")  # fmt: skip
    status, text = send_again(secretary, confirm_form)  # the same form again
    assert status == 409 and ("这份审核意见已经提交过" in text or "页面已过期" in text)
    # and rejects the volunteering, with a reason the member is told
    page = secretary.open("/branch/reports")
    row = page.locator(f"tr[data-report='{volunteer['report_id']}']")
    row.locator("input[value=rejected]").check()
    row.locator("input[name=reason]").fill("当天未见活动签到记录，请补充后重新报告。")
    row.locator("button:has-text('提交')").click()
    page.wait_for_selector("#decided")
    wait_for(lambda: len(sms(sink, "report_rejected")) == 1, 60, "the rejection SMS")
    time.sleep(1)
    assert vanguard("M1")["components"]["service"] == service_before + 5
    page = secretary.open("/branch/reports")
    assert "已退回" in page.inner_text("#decided-reports")

    # --- the message centre: the member's SMS, unread in the header, then read ------------
    page = member.open("/me/messages")
    assert "申诉经审核成立" in page.inner_text("#messages")
    assert "未被支部书记确认" in page.inner_text("#messages")
    unread = int(page.inner_text("#inbox .badge"))
    assert unread >= 3  # the violation reminder, the appeal decision, the rejected report
    shot(member, "me-messages-phone")
    page.click("button:has-text('全部标为已读')")
    wait_for(lambda: member.open("/me/messages").locator("#inbox .badge").count() == 0, 30,
             "the messages read")  # fmt: skip
    member.only_own_host()
    office.only_own_host()
