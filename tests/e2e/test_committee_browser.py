"""The 机关工委 and the agencies of its tree in a real browser (issue 25, items 4 and 5), against
scoring, notify and the gateway as processes: committee `city` (its own office 市直机关工委, the
统计局 `tongji` and the 审计局 `shenji`, whose member ids are the same and are other people)
beside the 外市税务局 `far` of another committee.

- The 机关工委管理员 signs in by SMS, chooses 机关工委管理员, reads /committee (every agency of
  its tree with its figures, Excel), 进入 the 审计局 (its people's names, not the 统计局's for
  the same ids), comes back to the 统计局 with 切换单位, and is refused the 外市 agency (403 page).
- A number registered in both agencies chooses where to sign in (选择登录单位) and reads that
  agency's own name for itself, each time it chooses.
- An agency's admin, a member and another committee's admin cannot open /committee nor
  /v1/committees/city/agencies; the committee's board, screen, ranking and branches are public.

Screenshots go to docs/screenshots/committee-*.png."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from openpyxl import load_workbook

from mingdeng.contracts import events as ev
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.gateway.adapters.tokens import issue_token
from mingdeng.gateway.domain.access import Principal
from tests.e2e.conftest import SECRET, Platform
from tests.e2e.test_dashboard_browser import Visits, log_in_by_sms
from tests.e2e.test_dashboard_words import no_ids
from tests.support.builders import Events
from tests.support.processes import ROOT, wait_for

pytestmark = pytest.mark.e2e
SHOTS = ROOT / "docs" / "screenshots"
COMMITTEE = "city"
TREE = {"city": "市直机关工委", "tongji": "市统计局", "shenji": "市审计局"}
FAR = ("far", "外市税务局", "other")
TWO_PLACES = "13700000001"  # M1 of the 统计局 (陈晓) and M1 of the 审计局 (周敏)
COMMITTEE_ADMIN = "13700000009"  # 刘建国 of the 机关工委's office, granted 机关工委管理员
# the people of each agency: the same ids, other people
PEOPLE = {
    "city": {"M1": "吴刚", "M2": "郭静", "W": "刘建国"},
    "tongji": {"M1": "陈晓", "M2": "王芳", "S1": "李强"},
    "shenji": {"M1": "周敏", "M2": "赵磊", "S1": "孙丽"},
    "far": {"M1": "郑华", "M2": "冯雪"},
}
PHONES = {("tongji", "M1"): TWO_PLACES, ("shenji", "M1"): TWO_PLACES,
          ("city", "W"): COMMITTEE_ADMIN}  # fmt: skip
ROLES: dict[tuple[str, str], tuple[ev.Role, ...]] = {
    ("tongji", "S1"): ("member", "admin"),
    ("shenji", "S1"): ("member", "admin"),
}
# what a person must not read where names belong: the agencies', branches' and people's ids
MACHINE_IDS = re.compile(r"(?<![A-Za-z0-9_-])(city|tongji|shenji|far|other|M1|M2|S1|W|b1|d1)"
                         r"(?![A-Za-z0-9_-])")  # fmt: skip


def bearer(principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, principal, timedelta(hours=1))}"}


CITY_ADMIN = bearer(Principal("committee-admin", "admin", agency="city", committee=COMMITTEE))


def agency_history(agency: str, name: str, committee: str, now: datetime) -> list[Any]:
    """An agency's registration, registry and a few days of work in the running quarter."""
    e = Events(source=f"/agencies/{agency}/hr", agency=agency, prefix=f"{agency}-")
    registered = "2026-10-08 09:00"
    recent = (now - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    people = PEOPLE[agency]
    history: list[Any] = [
        e(ev.AgencyRegistered(agency_id=agency, name=name, committee_id=committee), registered),
        e(ev.BranchRegistered(branch_id="b1", name=f"{name}机关党支部"), registered),
        e(ev.DepartmentRegistered(department_id="d1", name="综合科", branch_id="b1",
                                  leader_id="M2"), registered),
        *(e(ev.MemberRegistered(member_id=member, name=person, department_id="d1",
                                phone=PHONES.get((agency, member)),
                                roles=ROLES.get((agency, member), ("member",)),
                                party_member=True), registered)
          for member, person in people.items()),
        e.delivered("L1", "M2", recent),
        e.attended("L1", "M1", recent),
    ]  # fmt: skip
    if agency == "shenji":  # one case of the 十不准 in the quarter
        history.append(e.violation("v1", "M2", recent))
    return history


def publish(api: httpx.Client, agency: str, events: list[Any]) -> None:
    source = f"/agencies/{agency}/hr"
    publisher = bearer(Principal(f"{agency}-hr", "publisher", source, agency))
    posted = api.post("/v1/events", json=[x.to_cloudevent() for x in events], headers=publisher)
    assert posted.status_code == 202, posted.text


async def forget_login_requests(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("DELETE FROM gateway.login_requests")
    finally:
        await connection.close()


def choose(visits: Visits, place: str) -> Any:
    """On 选择登录单位, the place (its radio's value) and 进入."""
    page = visits.page
    assert "选择登录单位" in page.inner_text("h1")
    page.check(f"#choose-agency input[value='{place}']")
    page.click("#choose-agency button:has-text('进入')")
    page.wait_for_load_state("networkidle")
    return page


def names_on(page: Any, path: str, api: str) -> str:
    page.goto(api + path)
    page.wait_for_load_state("networkidle")
    return str(page.inner_text("main"))


@pytest.mark.timeout(420)
def test_the_committee_admin_and_people_of_two_agencies_in_a_browser(
    platform_of: Callable[..., Platform], tmp_path: Path, browser_of: Callable[[], object]
) -> None:
    sink = tmp_path / "sms.jsonl"
    platform = platform_of("scoring", "notify", "gateway", MINGDENG_NOTIFY_SINK_FILE=str(sink),
                           MINGDENG_NOTIFY_QUIET_HOURS="", MINGDENG_NOTIFY_PER_MINUTE="10")  # fmt: skip
    api = httpx.Client(base_url=platform.api, timeout=10)
    now = datetime.now(BUSINESS_TZ)
    quarter = str(Quarter.of(now))
    for agency, name in TREE.items():
        publish(api, agency, agency_history(agency, name, COMMITTEE, now))
    publish(api, FAR[0], agency_history(FAR[0], FAR[1], FAR[2], now))
    granted = subprocess.run(
        [str(ROOT / ".venv/bin/mingdeng-gateway"), "committee-admin", "add", "--committee",
         COMMITTEE, "--phone", COMMITTEE_ADMIN, "--name", "刘建国"],
        env={**platform.env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr

    def figures() -> dict[str, dict[str, Any]]:
        answer = api.get(f"/v1/committees/{COMMITTEE}/agencies", params={"quarter": quarter},
                         headers=CITY_ADMIN)  # fmt: skip
        return {a["agency_id"]: a for a in answer.json()["items"]} if answer.is_success else {}

    wait_for(lambda: {k: a["members"] for k, a in figures().items()} == {k: 3 for k in TREE},
             60, "the members of the city's three agencies")  # fmt: skip
    browser = browser_of()

    # b) a number registered in two agencies chooses the 审计局: its name there is 周敏
    two = Visits(browser, platform.api, viewport={"width": 390, "height": 844})
    log_in_by_sms(two, sink, TWO_PLACES)
    choices = str(two.page.inner_text("#choose-agency"))
    assert "市统计局 · 陈晓" in choices and "市审计局 · 周敏" in choices, choices
    no_ids(choices, "选择登录单位")
    assert not MACHINE_IDS.findall(choices), choices
    two.page.screenshot(path=str(SHOTS / "committee-choose-agency.png"), full_page=True)
    page = choose(two, "agency:shenji")
    assert page.url.endswith("/me"), page.url
    assert "周敏" in page.inner_text("header .who") and "陈晓" not in page.inner_text("body")

    wait_for(lambda: all(a["fortress_mean"] is not None and a["vanguard_mean"] is not None
                         for a in figures().values()), 90,
             "a 先锋指数 and a 堡垒指数 in every agency of the city")  # fmt: skip

    # a) the 机关工委管理员 by SMS: its own page, 进入 the 审计局, 切换单位 to the 统计局
    office = Visits(browser, platform.api, viewport={"width": 1440, "height": 900})
    log_in_by_sms(office, sink, COMMITTEE_ADMIN)
    choices = str(office.page.inner_text("#choose-agency"))
    assert "市直机关工委 · 刘建国" in choices and "市直机关工委 · 机关工委管理员" in choices
    page = choose(office, f"committee:{COMMITTEE}")
    assert page.url.endswith("/committee"), page.url
    table = page.locator("#committee-agencies tbody tr")
    assert sorted(table.nth(i).get_attribute("data-id") for i in range(table.count())) == sorted(
        TREE
    )
    text = str(page.inner_text("main"))
    assert all(name in text for name in TREE.values()) and FAR[1] not in text
    no_ids(text, "/committee")
    assert not MACHINE_IDS.findall(text), MACHINE_IDS.findall(text)
    shenji = page.locator("tr[data-id=shenji] td")
    cells = [str(shenji.nth(i).inner_text()).strip() for i in range(shenji.count())]
    found = figures()["shenji"]
    assert cells[1:4] == ["市审计局", "3", f"{found['vanguard_mean']:.2f}"], cells
    assert cells[4] == f"{found['fortress_mean']:.2f}" and cells[5] == "1", cells  # 讲堂 1 期
    assert cells[7] == "1" and re.fullmatch(r"刚刚|\d+ 分钟前", cells[10]), cells  # a violation
    assert page.locator("#committee-branches tbody tr").count() == len(TREE)
    page.screenshot(path=str(SHOTS / "committee-admin.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#committee-export")
    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    assert sheet is not None
    rows = [row for row in sheet.iter_rows(values_only=True) if any(row)]
    assert rows[0][:2] == ("名次", "单位") and {row[1] for row in rows[1:]} == set(TREE.values())

    page.click("tr[data-id=shenji] button:has-text('进入')")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/office"), page.url
    assert page.locator("#agency-switcher option[selected]").inner_text() == "市审计局"
    ranking = names_on(page, "/rankings", platform.api)
    assert all(name in ranking for name in PEOPLE["shenji"].values()), ranking
    assert not any(name in ranking for name in PEOPLE["tongji"].values()), ranking
    assert "周敏的先锋指数" in names_on(page, "/members/M1", platform.api)
    page.select_option("#agency-switcher select", "tongji")
    page.click("#agency-switcher button:has-text('切换单位')")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/office")
    assert page.locator("#agency-switcher option[selected]").inner_text() == "市统计局"
    assert "陈晓的先锋指数" in names_on(page, "/members/M1", platform.api)
    assert "周敏" not in names_on(page, "/rankings", platform.api)
    # the 外市 agency, forced into the switcher: refused with a page in Chinese
    page.evaluate("""() => { const option = document.createElement('option');
        option.value = 'far'; option.text = '外市税务局';
        document.querySelector('#agency-switcher select').appendChild(option); }""")
    page.select_option("#agency-switcher select", "far")
    with page.expect_navigation() as refused:
        page.click("#agency-switcher button:has-text('切换单位')")
    assert refused.value is not None and refused.value.status == 403
    assert "该单位不在本机关工委管辖范围内" in page.inner_text("main")
    page.screenshot(path=str(SHOTS / "committee-refused-agency.png"))
    page.click("header nav a:has-text('各单位总览')")  # still the 统计局's admin, and back
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/committee")
    office.only_own_host()

    # the page on a phone
    phone = Visits(browser, platform.api, viewport={"width": 390, "height": 844})
    session = CITY_ADMIN["Authorization"].removeprefix("Bearer ")
    phone.context.add_cookies([{"name": "mingdeng_session", "value": session,
                                "url": platform.api}])  # fmt: skip
    page = phone.open("/committee")
    assert page.locator("#committee-agencies tbody tr").count() == len(TREE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"  # the table scrolls
    page.screenshot(path=str(SHOTS / "committee-admin-phone.png"), full_page=True)

    # c) who may not read the committee's figures, and what stays public
    refused_by: dict[str, dict[str, str]] = {
        "the 统计局's admin": bearer(Principal("S1", "admin", agency="tongji")),
        "the default agency's admin": bearer(Principal("root", "admin")),
        "the 机关工委's office's admin": bearer(Principal("W", "admin", agency="city")),
        "a member": bearer(Principal("M1", "member", agency="shenji")),
    }
    for who, headers in refused_by.items():
        answer = api.get(f"/v1/committees/{COMMITTEE}/agencies", headers=headers)
        assert answer.status_code == 403, (who, answer.text)
        cookie = {"mingdeng_session": headers["Authorization"].removeprefix("Bearer ")}
        for path in ("/committee", f"/export/committee-{quarter}.xlsx"):
            refused_page = httpx.get(platform.api + path, cookies=cookie)
            assert refused_page.status_code == 403, (who, path)
            assert "无权" in refused_page.text, (who, path)
    assert api.get(f"/v1/committees/{COMMITTEE}/agencies").status_code == 401
    far_admin = bearer(Principal("committee-admin", "admin", agency="far", committee="other"))
    assert api.get(f"/v1/committees/{COMMITTEE}/agencies", headers=far_admin).status_code == 403
    assert api.get("/v1/committees/other/agencies", headers=CITY_ADMIN).status_code == 403
    own = httpx.get(
        platform.api + "/committee",
        cookies={"mingdeng_session": far_admin["Authorization"].removeprefix("Bearer ")},
    )
    assert own.status_code == 200 and FAR[1] in own.text  # its own committee's page: no city
    assert not any(name in own.text for name in TREE.values())
    assert api.get(f"/v1/committees/{COMMITTEE}/agencies", headers=CITY_ADMIN).status_code == 200
    for path in (f"/v1/committees/{COMMITTEE}/ranking", f"/v1/committees/{COMMITTEE}/branches",
                 f"/committee/{COMMITTEE}/board", f"/committee/{COMMITTEE}/screen"):  # fmt: skip
        assert httpx.get(platform.api + path).status_code == 200, path
    agency_admin = Visits(browser, platform.api, viewport={"width": 1440, "height": 900})
    agency_admin.context.add_cookies([{"name": "mingdeng_session", "url": platform.api,
        "value": refused_by["the 统计局's admin"]["Authorization"].removeprefix("Bearer ")}])  # fmt: skip
    page = agency_admin.open("/office")
    assert "各单位总览" not in page.inner_text("header") and "切换单位" not in page.inner_text(
        "header"
    )
    agency_admin.page.goto(platform.api + "/committee")
    assert "此页面仅供机关工委管理员查看" in agency_admin.page.inner_text("main")
    agency_admin.page.screenshot(path=str(SHOTS / "committee-refused-page.png"))

    # b) again: a new code and the 统计局 this time: 陈晓. A number gets one code a minute
    # (the gateway's limit; the notifier's is raised above): its earlier request is forgotten
    # here, as a minute would (the test waited 45 s for it)
    with ThreadPoolExecutor(1) as aside:  # Playwright's loop runs in this thread
        database = platform.env["MINGDENG_DATABASE_URL"]
        aside.submit(asyncio.run, forget_login_requests(database)).result()
    two.page.click("header form[action='/logout'] button")
    two.page.wait_for_load_state("networkidle")
    log_in_by_sms(two, sink, TWO_PLACES)
    page = choose(two, "agency:tongji")
    assert "陈晓" in page.inner_text("header .who") and "周敏" not in page.inner_text("body")
    two.only_own_host()
