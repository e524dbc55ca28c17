"""Pages people can work from (issue 22), on the demo bureau in a real browser: logged in as
the office (m001), a branch secretary, a leader and a member through /login/dev, every page
they open shows names, not ids (the office's detail views aside), and the bureau's own words,
as the source report writes them; the 机关工委管理员's page of the demo city names every
agency and branch. Screenshots of each page go to .run/test/screenshots/."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.ops.demo import build_demo
from mingdeng.ops.demo_city import AGENCIES, COMMITTEE
from tests.e2e.conftest import Platform, token
from tests.e2e.test_dashboard_browser import Visits
from tests.e2e.test_demo import SEED, mingdeng
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e
ADMIN = token("admin", "m001")
# the demo's ids: members, departments, branches, households, lectures, events
IDS = re.compile(
    r"(?<![A-Za-z0-9])(m\d{3}|d\d{2}|b\d{1,2}|h\d{3}|x\d{3}|p\d{2}|viol\d{3}|demo-\d+|"
    r"L\d{6}-\d+|attendance-[0-9a-f-]{8,}|\d{4}Q[1-4])(?![A-Za-z0-9])"
)
CITY_IDS = (DEFAULT_AGENCY, *(a.agency_id for a in AGENCIES))  # the demo city's agencies
WRONG_WORDS = ("担当", "廉洁", "业务提升", "年度十佳", "季度先锋标兵", "死信与拒收")


def words_of(page: object) -> str:
    """The rendered text of the page's main part, every explanation opened (the office's
    <details> of an event's source and id stay closed: its detail view)."""
    page.evaluate(  # type: ignore[attr-defined]
        "document.querySelectorAll('details.component').forEach(d => d.open = true)"
    )
    return str(page.inner_text("body"))  # type: ignore[attr-defined]


def opened(visits: Visits, path: str) -> object:
    """The page at `path`, answered 200."""
    response = visits.page.goto(visits.api + path)  # type: ignore[attr-defined]
    assert response is not None and response.status == 200, (path, response and response.status)
    visits.page.wait_for_load_state("networkidle")  # type: ignore[attr-defined]
    return visits.page


def no_ids(text: str, where: str) -> None:
    found = sorted(set(IDS.findall(text)))
    assert not found, f"ids where names belong on {where}: {found}"
    wrong = [w for w in WRONG_WORDS if w in text]
    assert not wrong, f"words that are not the report's on {where}: {wrong}"


@pytest.mark.timeout(600)
def test_every_role_reads_names_and_the_report_s_words_on_the_demo_bureau(
    platform_of: Callable[..., Platform],
    tmp_path: Path,
    browser_of: Callable[[], object],
) -> None:
    platform = platform_of(
        "gateway", "scoring", "outreach", "notify",
        MINGDENG_NOTIFY_SINK_FILE=str(tmp_path / "sms.jsonl"),
        MINGDENG_GATEWAY_ENVIRONMENT="development",
    )  # fmt: skip
    env = {**platform.env, "PATH": "/usr/bin:/bin"}
    loaded = subprocess.run(mingdeng("demo", "--seed", str(SEED)), env=env, capture_output=True,
                            text=True, timeout=400)  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    now = datetime.now(BUSINESS_TZ)
    demo = build_demo(SEED, now.date(), now)
    bureau = demo.bureau
    api = httpx.Client(base_url=platform.api, headers=ADMIN, timeout=10)
    quarter = str(Quarter.of(now))
    last_closed = [e.subject for e in demo.closes][-1]

    def ranked() -> bool:
        answer = api.get(f"/v1/quarters/{quarter}/vanguard", params={"limit": 1}).json()
        final = api.get(f"/v1/quarters/{last_closed}/selections").json()
        tasks = api.get("/v1/tasks", params={"limit": 1}).json()
        return answer.get("total", 0) >= len(bureau.members) // 2 and final.get(
            "status") == "final" and tasks.get("total", 0) > 0  # fmt: skip

    wait_for(ranked, 240, "the demo bureau scored, its last quarter final, tasks given")
    secretary = sorted(bureau.secretaries - set(bureau.leaders))[0]
    leader = next(m for m in bureau.leaders if m != "m001")  # m001 is the office too
    member = next(m for m in bureau.rank_and_file if m in bureau.party_members)
    in_branch = next(
        m for m in bureau.rank_and_file
        if bureau.department_of[m] == bureau.department_of[secretary]
    )  # fmt: skip
    roles = {
        "admin": ("m001", ["/office", "/rankings", "/rankings?page_number=2",
                           f"/office/selections?quarter={last_closed}", "/office/selections",
                           "/office/bulletin", "/office/review", "/office/import", "/me",
                           f"/members/{member}", "/board", "/screen", "/office/meetings",
                           "/office/secondments", "/office/health-cards", "/office/pairings",
                           "/branch/community"]),
        "secretary": (secretary, ["/branch", "/rankings", f"/members/{in_branch}", "/me",
                                  "/branch/meetings", "/branch/health-cards", "/branch/pairings",
                                  "/branch/community"]),
        "leader": (leader, ["/line", "/rankings", "/me/health-card"]),
        "member": (member, ["/me", "/rankings", "/board", "/me/health-card", "/me/community"]),
    }  # fmt: skip
    browser = browser_of()
    names = {m: bureau.names[m] for m in bureau.members}
    for role, (who, paths) in roles.items():
        visits = Visits(browser, platform.api, viewport={"width": 1440, "height": 900})
        page = opened(visits, f"/login/dev?member_id={who}&role={role}")
        header = str(page.inner_text("header .who"))  # type: ignore[attr-defined]
        assert names[who] in header and who not in header, header
        for path in paths:
            page = opened(visits, path)
            text = words_of(page)
            assert "数据暂时无法读取" not in text and "无权" not in text, (role, path, text[:300])
            no_ids(text, f"{path} as {role}")
            shot = f"words-{role}-{path.strip('/').split('?')[0].replace('/', '-') or 'home'}"
            visits.shot(shot + ("-2" if "page_number=2" in path else ""))
        visits.only_own_host()

    # the labels are the report's: themes, modules, the 期 of the 财政月讲堂, the titles
    office = Visits(browser, platform.api, viewport={"width": 1440, "height": 900})
    office.open("/login/dev?member_id=m001&role=admin")
    text = words_of(office.open("/office"))
    for term in ("忠诚", "责任", "奉献", "廉政", "理论武装", "理想信念", "财政业务", "微课堂",
                 "喜报到家", "谈心谈话", "督查通报", "数据接收异常"):  # fmt: skip
        assert term in text, term
    assert re.search(r"\d+ 期 · \d+ 个微课堂 · \d+ 人次", text)
    text = words_of(office.open(f"/office/selections?quarter={last_closed}"))
    for term in ("季度标兵", "优秀科室", "十佳标兵"):
        assert term in text, term
    # the 机关工委管理员's page of the demo city (issue 25): agencies and branches by name
    city = Visits(browser, platform.api, viewport={"width": 1440, "height": 900})
    opened(city, f"/login/dev?committee={COMMITTEE}")
    page = opened(city, "/committee")
    text = words_of(page)
    no_ids(text, "/committee")
    agency_ids = re.compile(rf"(?<![A-Za-z0-9])({'|'.join(CITY_IDS)})(?![A-Za-z0-9])")
    assert not agency_ids.findall(text), agency_ids.findall(text)
    assert page.locator("#committee-agencies tbody tr").count() == len(CITY_IDS)
    city.shot("words-committee")
    city.only_own_host()
    # a ranking people can read: 50 a page of all, searched by name, names link to the index
    page = office.open(f"/rankings?quarter={quarter}")
    total = api.get(f"/v1/quarters/{quarter}/vanguard", params={"limit": 1}).json()["total"]
    assert page.locator("#vanguard tbody tr").count() == min(50, total)
    assert f"共 {total} 名" in page.inner_text("#vanguard-pages")
    someone = bureau.names[member]
    page = office.open(f"/rankings?quarter={quarter}&q={someone}")
    assert someone in page.inner_text("#vanguard")
    page.click(f"#vanguard a:has-text('{someone}')")
    page.wait_for_load_state("networkidle")
    assert f"{someone}的先锋指数" in page.inner_text("h1")
    # the member's own index on a phone, every event dated and in words
    phone = Visits(browser, platform.api, viewport={"width": 375, "height": 812})
    phone.open(f"/login/dev?member_id={member}&role=member")
    page = phone.open("/me")
    text = words_of(page)
    assert re.search(r"第 \d+ 名 / 共 \d+ 名", text), text[:200]
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", text)
    no_ids(text, "/me on a phone")
    phone.shot("words-member-me-phone")
    office.only_own_host()
