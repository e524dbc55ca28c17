"""The dashboard in a real browser (Debian's chromium, driven by Playwright), against the
services as processes: the public board and big screen without login, /docs offline, SMS-code
login as an admin then the rankings, a ranking changing live, closing a quarter from the page,
a leader marking a commendation delivered, a member's index explained. Every page loads
nothing from another host. Screenshots go to .run/test/screenshots/."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from kafka import KafkaProducer
from openpyxl import Workbook, load_workbook

from mingdeng.contracts import events as ev
from mingdeng.contracts.periods import Quarter
from mingdeng.contracts.topics import EVENTS
from mingdeng.gateway.adapters.tokens import issue_token
from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.web import sheets
from tests.e2e.conftest import SECRET, Platform, token
from tests.support import page_weight
from tests.support.builders import Events
from tests.support.processes import ROOT, wait_for
from tests.unit.scoring.scenario import quarter_events

pytestmark = pytest.mark.e2e

SHOTS = ROOT / ".run" / "test" / "screenshots"
LOGIN_CODE_KEY = re.compile(r"([^/]+/)?login_code/")
ADMIN_PHONE = "13900000001"
LEADER_PHONE = "13900000011"


class Visits:
    """A browser context that records every request, to prove no other host is asked."""

    def __init__(self, browser: object, api: str, **options: object) -> None:
        self.origin = urlsplit(api).netloc
        self.context = browser.new_context(locale="zh-CN", **options)  # type: ignore[attr-defined]
        self.hosts: list[str] = []
        self.context.on("request", lambda r: self.hosts.append(urlsplit(r.url).netloc))
        self.page = self.context.new_page()
        self.api = api

    def open(self, path: str) -> object:
        self.page.goto(self.api + path)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=name != "screen")

    def only_own_host(self) -> None:
        foreign = sorted({h for h in self.hosts if h and h != self.origin})
        assert not foreign, f"assets loaded from other hosts: {foreign}"


def sent_code(sink: Path, phone: str, before: int) -> str:
    """The login code the notifier wrote to the sink for `phone` (after `before` lines)."""
    found: list[str] = []

    def arrived() -> bool:
        if not sink.exists():
            return False
        for line in sink.read_text(encoding="utf-8").splitlines()[before:]:
            record = json.loads(line)
            # keyed login_code/…, or {agency}/login_code/… for an agency other than the default
            if record["phone"] == phone and LOGIN_CODE_KEY.match(record["key"]):
                found.append("".join(c for c in record["text"] if c.isdigit())[:6])
        return bool(found)

    wait_for(arrived, 30, "the login code in the SMS sink")
    return found[-1]


def lines(sink: Path) -> int:
    return len(sink.read_text(encoding="utf-8").splitlines()) if sink.exists() else 0


def log_in_by_sms(visits: Visits, sink: Path, phone: str, start: str = "/login") -> None:
    """Sign in with the code the notifier sent, from `start` (a page asked for while signed
    out shows the login form, and comes back after it)."""
    page = visits.open(start)
    before = lines(sink)
    page.fill("input[name=phone]", phone)
    page.click("text=获取短信验证码")
    page.wait_for_selector("input[name=code]")
    code = sent_code(sink, phone, before)
    page.fill("input[name=code]", code)
    page.click("button:has-text('登录')")
    page.wait_for_load_state("networkidle")


def csrf_of(visits: Visits) -> str:
    """The CSRF token of the page open in `visits` (a form's hidden field)."""
    return str(visits.page.locator("input[name=csrf]").first.get_attribute("value"))


def upload(visits: Visits, kind: str, rows: list[list[str]]) -> object:
    """Imports a sheet of `kind` with `rows` (under the English header) from /office/import."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(sheets.KINDS[kind].columns))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    page = visits.open("/office/import")
    page.select_option("select[name=kind]", kind)
    page.set_input_files("input[name=sheet]", files=[{"name": f"{kind}.xlsx",
                         "mimeType": "application/octet-stream", "buffer": buffer.getvalue()}])  # fmt: skip
    page.click("button:has-text('上传并导入')")
    page.wait_for_load_state("networkidle")
    return page


@pytest.mark.timeout(300)  # a dozen pages, a live change, imports, a close, page weights
def test_dashboard_in_a_browser(
    platform_of: Callable[..., Platform], tmp_path: Path, browser_of: Callable[[], object]
) -> None:
    shutil.rmtree(SHOTS, ignore_errors=True)
    sink = tmp_path / "sms.jsonl"
    platform = platform_of("scoring", "notify", "gateway", MINGDENG_NOTIFY_SINK_FILE=str(sink),
                           MINGDENG_NOTIFY_SCHEDULE_EVERY_S="0.5", MINGDENG_NOTIFY_PER_MINUTE="10",
                           MINGDENG_NOTIFY_QUIET_HOURS="")  # fmt: skip
    api = httpx.Client(base_url=platform.api, timeout=10)
    admin = token("admin", "root")
    e = Events(source="/systems/hr")
    people = [
        e(ev.MemberRegistered(member_id=m, name=name, department_id=d, phone=phone, roles=roles,
                              party_member=True), "2026-06-01 09:00")
        for m, name, d, phone, roles in [
            ("O", "王主任", "d2", ADMIN_PHONE, ("member", "admin")),
            ("L1", "张局长", "d1", LEADER_PHONE, ("member", "leader")),
        ]
    ]  # fmt: skip
    events = [*quarter_events(e), *people]
    assert (
        api.post("/v1/events", json=[x.to_cloudevent() for x in events], headers=admin).status_code
        == 202
    )

    def applied(event: object) -> bool:
        answer = api.get(f"/v1/events/{event.id}", params={"source": event.source}, headers=admin)  # type: ignore[attr-defined]
        return answer.json().get("status") == "applied"

    wait_for(lambda: all(applied(x) for x in events), 60, "events applied")

    browser = browser_of()
    # without login: the board (nothing final yet: a sentence), the big screen, /docs
    public = Visits(browser, platform.api)
    page = public.open("/board?quarter=2026Q3")
    assert "2026年第三季度的评选结果尚未定稿公示" in page.inner_text("main")
    page = public.open("/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)
    public.shot("docs")
    screen = Visits(browser, platform.api, viewport={"width": 1920, "height": 1080})
    page = screen.open("/screen")
    assert "数据大屏" in page.title() and "财政月讲堂" in page.inner_text("body")
    screen.shot("screen")

    # SMS-code login as the office (admin), then the rankings of 2026Q3
    office = Visits(browser, platform.api)
    log_in_by_sms(office, sink, ADMIN_PHONE)
    assert office.page.url.endswith("/office")
    office.shot("office")
    # the speaker rotation as the API says it: spoke this year, not yet, and who is next
    rotation = api.get("/v1/lectures/rotation", params={"year": 2026}, headers=admin).json()
    assert [t["member_id"] for t in rotation["spoken"]] == ["A", "B"]
    assert [t["member_id"] for t in rotation["next"]] == ["L1", "O"]  # never spoken, by id
    page = office.page
    assert page.locator("#spoken li").all_inner_texts() == [
        f"{t['name']}（1 次）" for t in rotation["spoken"]
    ]
    assert page.locator("#next-speakers li").all_inner_texts() == [
        "张局长（尚未主讲过）", "王主任（尚未主讲过）",
    ]  # fmt: skip
    page = office.open("/rankings?quarter=2026Q3")
    expected = api.get("/v1/quarters/2026Q3/vanguard", headers=admin).json()["items"]
    shown = page.locator("#vanguard tbody tr")
    assert shown.count() == len(expected)
    assert shown.first.locator("td").nth(1).inner_text() == expected[0]["name"]
    office.shot("rankings")

    # live: an event raises B's index; the page redraws without a reload
    page.wait_for_selector("#live[data-connected=yes]", timeout=10_000)
    b_before = page.locator("#vanguard tr[data-id=B] .index").inner_text()
    volunteering = Events(source="/systems/volunteer", prefix="live")  # one: the ids differ
    extra = [volunteering.volunteer("B", f"2026-09-{d} 10:00") for d in (20, 21, 22)]
    assert (
        api.post("/v1/events", json=[x.to_cloudevent() for x in extra], headers=admin).status_code
        == 202
    )
    page.wait_for_function(
        "before => document.querySelector('#vanguard tr[data-id=B] .index').textContent !== before",
        arg=b_before,
        timeout=30_000,
    )
    after = {
        i["member_id"]: i["index"]
        for i in api.get("/v1/quarters/2026Q3/vanguard", headers=admin).json()["items"]
    }
    assert page.locator("#vanguard tr[data-id=B] .index").inner_text() == f"{after['B']:.2f}"
    office.shot("rankings-live")

    # Excel import: a sheet with one bad row publishes nothing and names the row
    good_row = ["L2", "B", "2026-08-15 15:30"]
    imported_id = sheets.KINDS["attendance"].event_id(
        ev.LectureAttended(lecture_id="L2", member_id="B")
    )
    attendances = api.get("/v1/lectures/stats", params={"year": 2026}, headers=admin).json()[
        "attendances"
    ]
    page = upload(office, "attendance", [good_row, ["L9", "A", "2026-07-15 15:00"]])
    errors = page.locator("#errors tr[data-row]")
    assert errors.count() == 1
    assert errors.first.inner_text().split("\t") == ["第 3 行", "讲堂编号", "没有编号为“L9”的讲堂"]
    assert "没有发布任何记录" in page.inner_text("#errors")
    office.shot("import-errors")
    refused = api.get(f"/v1/events/{imported_id}", params={"source": "/dashboard"}, headers=admin)
    assert refused.status_code == 404
    # the good sheet: its event is published from /dashboard by the admin, then applied
    page = upload(office, "attendance", [good_row])
    assert "新发布 1 条" in page.inner_text("#result")
    office.shot("import-done")
    wait_for(
        lambda: api.get(f"/v1/events/{imported_id}", params={"source": "/dashboard"},
                        headers=admin).json().get("status") == "applied",
        60,
        "the imported attendance applied",
    )  # fmt: skip
    stats = api.get("/v1/lectures/stats", params={"year": 2026}, headers=admin).json()
    assert stats["attendances"] == attendances + 1

    # Excel export: the Vanguard ranking downloaded from the page equals the API's, cell by cell
    page = office.open("/rankings?quarter=2026Q3")
    ranking = api.get("/v1/quarters/2026Q3/vanguard", headers=admin).json()["items"]
    names = {
        d["id"]: d["name"]
        for d in api.get("/v1/quarters/2026Q3/fortress", headers=admin).json()["items"]
    }
    with page.expect_download() as download_info:
        page.click("#export-vanguard-xlsx")
    download = download_info.value
    assert download.suggested_filename == "vanguard-2026Q3.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(load_workbook(saved).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0] == ("名次", "姓名", "科室", "支部", "先锋指数",
                       "工作业绩", "学习提升", "服务群众", "遵规守纪")  # fmt: skip
    assert [row[:3] + row[4:] for row in rows[1:]] == [
        (m["rank"], m["name"], names[m["department_id"]], m["index"],
         *(m["components"][c] for c in ("performance", "study", "service", "discipline")))
        for m in ranking
    ]  # fmt: skip

    # the running quarter has not ended: no close offered, and a close sent anyway is refused
    running = str(Quarter.of(datetime.now(UTC)))
    page = office.open(f"/office/selections?quarter={running}")
    assert page.locator("#close-quarter").count() == 0
    assert "尚未结束" in page.inner_text("#close-state")
    page = office.open(f"/office/selections/close?quarter={running}")
    assert (
        "尚未结束" in page.inner_text("main") and page.locator("form[action$=close]").count() == 0
    )
    forced = office.context.request.post(
        f"{platform.api}/office/selections/close",
        form={"quarter": running, "confirm": running, "csrf": csrf_of(office)},
    )
    assert forced.status == 409 and "尚未结束" in forced.text()
    assert api.get(f"/v1/events/close-{running}", params={"source": "/dashboard"},
                   headers=admin).status_code == 404  # fmt: skip

    # close the ended quarter from the page: what is missing first, then a typed confirmation
    page = office.open("/office/selections?quarter=2026Q3")
    page.click("#close-quarter")
    page.wait_for_selector("text=确认关闭 2026年第三季度（2026Q3）")
    missing = page.inner_text("#missing-performance")
    assert "尚无本季度绩效考核" in missing and "王主任" in missing  # no performance KPI for O
    office.shot("confirm-close")
    page.fill("input[name=confirm]", "2026Q2")  # the wrong quarter: the browser holds it back
    page.click("button:has-text('确认关闭')")
    assert page.locator("input[name=confirm]:invalid").count() == 1
    wrong = office.context.request.post(
        f"{platform.api}/office/selections/close",
        form={"quarter": "2026Q3", "confirm": "2026Q2", "csrf": csrf_of(office)},
    )
    assert wrong.status == 422  # and the server too
    page.fill("input[name=confirm]", "2026Q3")
    page.click("button:has-text('确认关闭')")
    page.wait_for_selector("text=关闭已提交")
    closing = api.get("/v1/events/close-2026Q3", params={"source": "/dashboard"}, headers=admin)
    assert closing.status_code == 200
    wait_for(
        lambda: (
            api.get("/v1/quarters/2026Q3/selections", headers=admin).json().get("status") == "final"
        ),
        60,
        "final",
    )
    page = office.open("/office/selections?quarter=2026Q3")
    assert "已定稿" in page.inner_text("main")
    assert page.locator("#close-quarter").count() == 0  # a final quarter cannot close again
    again = office.context.request.post(
        f"{platform.api}/office/selections/close",
        form={"quarter": "2026Q3", "confirm": "2026Q3", "csrf": csrf_of(office)},
    )
    assert again.status == 409 and "已定稿" in again.text()
    exported = office.context.request.get(f"{platform.api}/export/selections-2026Q3.csv")
    assert exported.status == 200 and exported.body().startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(exported.body().decode("utf-8-sig"))))
    final = api.get("/v1/quarters/2026Q3/selections", headers=admin).json()
    assert [(r[0], r[2], float(r[4])) for r in table[1:]] == [
        *(("季度标兵", m["name"], m["index"]) for m in final["exemplars"]),
        *(("优秀科室", d["name"], d["index"]) for d in final["excellent_departments"]),
    ]
    office.only_own_host()

    # the board now shows the final selections, printable
    page = public.open("/board?quarter=2026Q3")
    board = api.get("/v1/board/2026Q3").json()
    assert board["exemplars"][0]["name"] in page.inner_text("article")
    public.shot("board")
    public.only_own_host()

    # the leader delivers a commendation (喜报到家); the task turns done
    leader = Visits(browser, platform.api)
    log_in_by_sms(leader, sink, LEADER_PHONE, start="/line?quarter=2026Q3")
    assert leader.page.url.endswith("/line?quarter=2026Q3")  # back where the link pointed
    wait_for(
        lambda: any(
            t["kind"] == "commendation"
            for t in api.get("/v1/tasks", params={"assignee_id": "L1"}, headers=admin).json()[
                "items"
            ]
        ),
        60,
        "commendation tasks",
    )
    page = leader.open("/line?quarter=2026Q3")
    task_row = page.locator("#commendations tr[data-task]").first
    task_id = task_row.get_attribute("data-task")
    task_row.locator("input[name=notes]").fill("已将喜报送到家中，家属很高兴。")
    task_row.locator("button:has-text('已送达')").click()
    page.wait_for_selector("text=送达已登记")

    def done() -> bool:
        tasks = api.get("/v1/tasks", params={"assignee_id": "L1"}, headers=admin).json()["items"]
        return any(t["task_id"] == task_id and t["status"] == "done" for t in tasks)

    wait_for(done, 60, "the commendation task done")
    page = leader.open("/line?quarter=2026Q3")
    assert (
        page.locator(f"#commendations tr[data-task='{task_id}'] .task-status").inner_text()
        == "已完成"
    )
    leader.shot("line")
    leader.only_own_host()

    # what upstream sent that scoring refused, on the office's page, with the reason
    wrong = json.loads(json.dumps(Events(source="/systems/inspection", prefix="bad")
                                  .violation("v-bad", "A", "2026-09-02 10:00").to_cloudevent()))  # fmt: skip
    wrong["data"]["rule"] = 11
    producer = KafkaProducer(bootstrap_servers=platform.kafka.bootstrap_servers, acks="all")
    producer.send(platform.kafka.topic(EVENTS), key=b"A", value=json.dumps(wrong).encode()).get(30)
    producer.close()
    wait_for(lambda: api.get("/v1/rejected-events", headers=admin).json()["total"] == 1, 60,
             "the rejected event")  # fmt: skip
    page = office.open("/office/refused")
    row = page.locator(f"#rejected tr[data-id='{wrong['id']}']")
    assert "data.rule" in row.inner_text() and "违反“十不准”" in row.inner_text()
    assert "（死信，1 条）" in page.inner_text("#dead-letters")
    office.shot("refused")
    office.only_own_host()

    # a member opens their index, explained component by component
    member = Visits(browser, platform.api, viewport={"width": 390, "height": 844})
    session = issue_token(SECRET, Principal("A", "member"), timedelta(hours=1))
    member.context.add_cookies(
        [{"name": "mingdeng_session", "value": session, "url": platform.api}]
    )
    page = member.open("/me?quarter=2026Q3")
    mine = api.get("/v1/members/A/vanguard/2026Q3", headers=admin).json()
    text = page.inner_text("#index")
    assert f"{mine['index']:.2f} 分" in text
    for component in ("工作业绩", "学习提升", "服务群众", "遵规守纪"):
        assert component in text
    page.click("summary:has-text('服务群众')")
    assert "志愿服务" in page.inner_text("#index")
    member.shot("me-phone")
    member.only_own_host()

    # light pages: a cold cache on emulated Fast 3G, within 150 KB and 2 s
    cookie = [{"name": "mingdeng_session", "value": session, "url": platform.api}]
    for path, cookies in (("/login", None), ("/board", None), ("/me", cookie)):
        weight = page_weight.measure(browser, platform.api, path, "test", cookies)
        assert weight.within_limits, weight
    screen.only_own_host()
