"""The demo bureau as a newcomer meets it after `make up` (issue 14): loaded through `mingdeng
demo` into the services running as processes, it shows today's violation reminders in the SMS
sink, commendations delivered for past quarters and under way for the last closed one, a
bulletin for every month of its history, liaison visits and work plans. And `mingdeng demo
--live` publishes a trickle of valid events at its rate until a signal stops it."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import new_event, parse_event
from mingdeng.contracts.conduct import TEN_RULES
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.contracts.topics import EVENTS
from mingdeng.gateway.adapters.tokens import issue_token
from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.web import labels
from mingdeng.notify.domain.orglife import RhythmPeriod
from mingdeng.ops.demo import HISTORY_MONTHS, SOURCE, branch_of_department, build_demo
from mingdeng.ops.demo_city import AGENCIES as CITY
from mingdeng.ops.demo_city import BUREAU_NAME, COMMITTEE
from mingdeng.runtime.settings import KafkaSettings
from mingdeng.runtime.topics_admin import ensure_topics
from tests.e2e.conftest import SECRET, Platform, missing, token
from tests.support.processes import ROOT, wait_for

pytestmark = pytest.mark.e2e
ADMIN = token("admin", "m001")
SEED = 2026
COMMITTEE_ADMIN = {
    "Authorization": "Bearer " + issue_token(
        SECRET, Principal("committee-admin", "admin", agency=COMMITTEE, committee=COMMITTEE),
        timedelta(hours=1),
    )
}  # fmt: skip
SHOTS = ROOT / "docs" / "screenshots"


def mingdeng(*args: str) -> list[str]:
    return [str(ROOT / ".venv/bin/mingdeng"), *args]


def months_before(today: date, count: int) -> list[str]:
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        months.append(f"{year:04d}-{month:02d}")
    return sorted(months)


def every_item(api: str, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = httpx.get(
            f"{api}{path}", params={"limit": 500, "offset": len(items)}, headers=ADMIN
        ).json()
        items += page["items"]
        if len(items) >= page["total"]:
            return items


@pytest.mark.timeout(
    420
)  # prints 24 bulletins too; loads 18,000 events through every service: about 40 s alone
def test_the_demo_bureau_is_alive_after_loading(
    platform_of: Callable[..., Platform], tmp_path: Path, browser_of: Callable[[], object]
) -> None:
    sink = tmp_path / "sms.jsonl"
    platform = platform_of("gateway", "scoring", "outreach", MINGDENG_NOTIFY_SINK_FILE=str(sink))
    now = datetime.now(BUSINESS_TZ)
    today = now.date()
    env = {**platform.env, "PATH": "/usr/bin:/bin"}
    started = time.monotonic()
    loaded = subprocess.run(
        mingdeng("demo", "--seed", str(SEED)), env=env, capture_output=True, text=True,
        timeout=400,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert "commendation visits" in loaded.stdout
    print(f"the demo loaded in {time.monotonic() - started:.1f} s")
    platform.launch("notify")  # last, as `make up` starts it: it reads the history first
    demo = build_demo(SEED, today, now)
    violation = next(
        e.data
        for e in demo.events
        if isinstance(e.data, ev.ViolationLogged) and e.data.violation_id == demo.todays_violation
    )
    branch = branch_of_department(demo.bureau.department_of[violation.member_id])
    secretaries = {
        m
        for m in demo.bureau.secretaries
        if branch_of_department(demo.bureau.department_of[m]) == branch
    } - {violation.member_id}

    def sent() -> dict[str, dict[str, str]]:
        if not sink.exists():
            return {}
        return {
            record["key"]: record
            for record in map(json.loads, sink.read_text(encoding="utf-8").splitlines())
        }

    reminder = f"violation_reminder/{violation.member_id}/{demo.todays_violation}"
    wait_for(lambda: reminder in sent(), 180, "today's violation reminder in the sink")
    to_secretaries = [f"violation_secretary/{m}/{demo.todays_violation}" for m in secretaries]
    assert secretaries
    wait_for(lambda: set(to_secretaries) <= set(sent()), 60, "the secretary's reminder")
    for key in (reminder, *to_secretaries):
        at = datetime.fromisoformat(sent()[key]["at"]).astimezone(BUSINESS_TZ)
        assert at.date() == today, key
    assert violation.description in sent()[reminder]["text"]

    # 三会一课: the fourth branch has not held last month's 支委会; its secretary is reminded
    # (sent, or queued until the quiet hours end) and the office sees 未按期
    b4_secretary = next(m for m in demo.bureau.secretaries
                        if branch_of_department(demo.bureau.department_of[m]) == "b4")  # fmt: skip
    last_month = RhythmPeriod.last_ended(today, 1).name
    overdue = f"meeting_overdue/{b4_secretary}/b4/committee/{last_month}"

    def told(key: str) -> bool:
        found = httpx.get(f"{platform.api}/v1/notifications", timeout=10,
                          params={"recipient_id": b4_secretary, "limit": 500},
                          headers=token("admin", "m001")).json()["items"]  # fmt: skip
        return any(n["key"] == key and n["status"] in ("queued", "sent") for n in found)

    wait_for(lambda: told(overdue), 120, "the reminder of b4's 支委会")
    life = httpx.get(f"{platform.api}/v1/organisation-life", timeout=10,
                     params={"year": RhythmPeriod.named(last_month).first_day.year},
                     headers=token("admin", "m001")).json()  # fmt: skip
    assert [b["branch_id"] for b in life["branches"] if b["overdue"]] == ["b4"]

    closed = [e.subject for e in demo.closes]
    last = closed[-1]

    def commendations() -> dict[str, Counter[str]]:
        by_quarter: dict[str, Counter[str]] = {}
        for task in every_item(platform.api, "/v1/tasks"):
            if task["kind"] == "commendation":
                by_quarter.setdefault(task["cause"], Counter())[task["status"]] += 1
        return by_quarter

    expected = {q: Counter(done=10) for q in closed[:-1]} | {last: Counter(done=5, open=5)}
    seen: list[dict[str, Counter[str]]] = []

    def delivered_as_expected() -> bool:  # the notifier marks the visits' tasks done one by one
        seen.append(commendations())
        return seen[-1] == expected

    try:
        wait_for(delivered_as_expected, 180, "the commendation tasks of every closed quarter")
    except AssertionError:
        raise AssertionError(f"commendation tasks by quarter: {seen[-1]}") from None
    # history is not news: no leader is told to deliver a commendation of a quarter long closed
    assigned = [key for key in sent() if key.startswith("commendation_assigned/")]
    assert assigned == [], assigned

    history = months_before(today, HISTORY_MONTHS)

    def bulletins() -> list[str]:
        return [
            month
            for month in history
            if httpx.get(f"{platform.api}/v1/bulletins/{month}", headers=ADMIN).status_code == 200
        ]

    wait_for(lambda: bulletins() == history, 120, "a bulletin for every month of the history")
    for month in (history[0], history[-1]):
        document = httpx.get(f"{platform.api}/v1/bulletins/{month}", headers=ADMIN).json()
        assert document["lectures"] == 6, month  # the month's lecture hall: 6 short lectures

    suggestions = httpx.get(f"{platform.api}/v1/outreach/suggestions", headers=ADMIN).json()
    assert (suggestions["submitted"], suggestions["workplans"]) == (72, 17)
    assert suggestions["adopted"] >= 17
    liaison = httpx.get(f"{platform.api}/v1/outreach/liaison/{last}", headers=ADMIN).json()
    assert [x["flagged"] for x in liaison["leaders"]] == [False] * 7

    current = Quarter.of(now)
    ranking = httpx.get(
        f"{platform.api}/v1/quarters/{current}/vanguard", params={"limit": 500}, headers=ADMIN
    ).json()
    assert ranking["status"] == "provisional" and len(ranking["items"]) == 136
    standing = {item["member_id"]: item for item in ranking["items"]}
    assert standing[violation.member_id]["components"]["discipline"] <= 10  # this morning's

    browser = browser_of()
    print_documents(browser, platform.api, history, last, tmp_path)
    check_practice(platform.api, today)
    check_city(platform.api, browser, str(current))


def check_city(api: str, browser: Any, quarter: str) -> None:
    """The bureau inside its city (issue 25, item 6): the 机关工委's view lists the bureau and
    four agencies of other sizes, each with its own history (ids m001… in every agency, each
    agency's own people); the board and the big screen show them (screenshots in
    docs/screenshots/, looked at)."""
    committee = f"{api}/v1/committees/{COMMITTEE}"

    def agencies() -> dict[str, dict[str, Any]]:
        answer = httpx.get(f"{committee}/agencies", params={"quarter": quarter},
                           headers=COMMITTEE_ADMIN)  # fmt: skip
        return {a["agency_id"]: a for a in answer.json()["items"]} if answer.is_success else {}

    sizes = {"default": 136, **{a.agency_id: a.staff for a in CITY}}
    wait_for(lambda: {k: a["members"] for k, a in agencies().items()} == sizes, 120,
             "the city's agencies with their members")  # fmt: skip
    wait_for(lambda: all(a["fortress_mean"] is not None for a in agencies().values()), 120,
             "a 堡垒指数 of every agency's branches")  # fmt: skip
    found = agencies()
    assert all(a["lectures"] > 0 and a["vanguard_mean"] is not None for a in found.values())
    assert found["default"]["name"] == BUREAU_NAME
    ranking = httpx.get(f"{committee}/ranking", params={"quarter": quarter}).json()  # no token
    assert [a["rank"] for a in ranking["items"]] == sorted(a["rank"] for a in ranking["items"])
    assert "violations" not in ranking["items"][0]  # the public figures only
    branches = httpx.get(f"{committee}/branches", params={"quarter": quarter, "limit": 7})
    assert branches.json()["total"] == 5 * len(sizes) and 'rel="next"' in branches.headers["Link"]
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{api}/committee/{COMMITTEE}/board", wait_until="load")
    assert page.locator("#committee-agencies tbody tr").count() == len(sizes)
    assert page.locator("#committee-branches tbody tr").count() == 5 * len(sizes)
    for agency in CITY:
        assert agency.name in page.inner_text("#committee-agencies")
    page.screenshot(path=str(SHOTS / "committee-board.png"), full_page=True)
    screen = browser.new_context(locale="zh-CN", viewport={"width": 1920, "height": 1080})
    wall = screen.new_page()
    wall.goto(f"{api}/committee/{COMMITTEE}/screen", wait_until="networkidle")
    assert wall.locator("#screen-branches li").count() == 10
    assert wall.locator("#chart-fortress canvas").count() == 1  # drawn by ECharts
    wall.screenshot(path=str(SHOTS / "committee-screen.png"))
    context.close()
    screen.close()


def pdf(page: Any, path: Path) -> tuple[int, str, str]:
    """The page printed by Chromium: its number of pages, page size, and text without spaces."""
    page.pdf(path=str(path), prefer_css_page_size=True, print_background=True)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    fields = dict(line.split(":", 1) for line in info.stdout.splitlines() if ":" in line)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    return int(fields["Pages"]), fields["Page size"].strip(), "".join(text.split())


def print_documents(browser: Any, api: str, history: list[str], quarter: str, out: Path) -> None:
    """Every month's 督查通报 on one A4 page, citing each rule with its text and listing its
    cases (the office's copy); the 季讲评 of the last closed quarter; a 喜报 on one page."""
    if shutil.which("pdftotext") is None:
        missing("pdftotext", "deploy/test.sh installs poppler-utils")
    context = browser.new_context(locale="zh-CN")
    office = issue_token(SECRET, Principal("m001", "admin"), timedelta(hours=1))
    context.add_cookies([{"name": "mingdeng_session", "value": office, "url": api}])
    page = context.new_page()
    cited = 0
    for month in history:
        bulletin = httpx.get(f"{api}/v1/bulletins/{month}", headers=ADMIN).json()
        page.goto(f"{api}/office/bulletin?month={month}", wait_until="load")
        pages, size, text = pdf(page, out / f"bulletin-{month}.pdf")
        assert (pages, size.endswith("(A4)")) == (1, True), (month, pages, size)
        assert labels.issue_number(month) in text
        assert f"关于{labels.month(month)}“十不准”督查情况的通报" in text
        for rule in bulletin["violations_by_rule"]:
            number = int(rule.strip("第条"))
            assert TEN_RULES[number] in text, (month, rule)
            cited += 1
        for case in bulletin["cases"]:
            assert "".join(case["description"].split()) in text, (month, case)
    assert cited > 0  # the demo's history has violations to cite
    # an appeal upheld after a bulletin was issued: the bulletin says so beside what it said
    month, case = next((m, c) for m in reversed(history) for c in httpx.get(
        f"{api}/v1/bulletins/{m}", headers=ADMIN).json()["cases"] if not c["retracted"])  # fmt: skip
    retraction = new_event(ev.ViolationRetracted(violation_id=case["violation_id"],
                                                 reason="申诉成立"), source="/systems/appeals")  # fmt: skip
    posted = httpx.post(f"{api}/v1/events", json=retraction.to_cloudevent(), headers=ADMIN)
    assert posted.status_code == 202, posted.text
    wait_for(lambda: case["violation_id"] in httpx.get(f"{api}/v1/bulletins/{month}",
             headers=ADMIN).json()["retracted_cases"], 60, "the retraction beside the bulletin")  # fmt: skip
    page.goto(f"{api}/office/bulletin?month={month}", wait_until="load")
    pages, size, text = pdf(page, out / f"bulletin-{month}-corrected.pdf")
    assert "更正说明" in text and "本通报印发后申诉成立" in text, text
    page.goto(f"{api}/office/review?quarter={quarter}", wait_until="load")
    pages, size, text = pdf(page, out / f"review-{quarter}.pdf")
    assert size.endswith("(A4)") and pages <= 2, (pages, size)
    assert f"{labels.quarter(quarter)}“十不准”执行情况讲评" in text
    tasks = every_item(api, "/v1/tasks")
    task = next(t for t in tasks if t["kind"] == "commendation" and t["cause"] == quarter)
    leader = issue_token(SECRET, Principal(task["assignee_id"], "leader"), timedelta(hours=1))
    context.add_cookies([{"name": "mingdeng_session", "value": leader, "url": api}])
    page.goto(f"{api}/line", wait_until="load")
    row = page.locator(f"#commendations tr[data-task='{task['task_id']}']")
    assert "家住 浏阳市" in row.inner_text()  # the family's address, for the leader assigned
    row.locator("text=打印喜报").click()
    page.wait_for_selector("#certificate")
    pages, size, text = pdf(page, out / "certificate.pdf")
    assert (pages, size) == (1, "841.92 x 594.96 pts (A4)"), (pages, size)
    assert f"{labels.quarter(quarter)}“季度标兵”" in text and "浏阳市财政局" in text
    context.close()


def check_practice(api: str, today: date) -> None:
    """The report's practice (issue 24): 党性体检 rounds, 支部结对共建, 在职党员进社区."""
    rounds = httpx.get(f"{api}/v1/health-cards/rounds", headers=ADMIN).json()["items"]
    assert [r["title"] for r in rounds] == [
        f"{today.year}年度党性体检",
        f"{today.year - 1}年度党性体检",
    ]
    last_year = httpx.get(f"{api}/v1/health-cards/rounds/{rounds[1]['round_id']}/cards",
                          params={"limit": 1}, headers=ADMIN).json()  # fmt: skip
    owed = sum(f["members"] for f in last_year["by_branch"])
    filled = sum(f["filled"] for f in last_year["by_branch"])
    assert len(last_year["by_branch"]) == 5 and 0.9 * owed < filled < owed, last_year["by_branch"]
    pairings = httpx.get(f"{api}/v1/pairings", headers=ADMIN).json()["items"]
    assert len(pairings) == 5 and sum(p["activities"] for p in pairings) > 10, pairings
    community = httpx.get(f"{api}/v1/community/reports", params={"year": today.year - 1},
                          headers=ADMIN).json()  # fmt: skip
    assert 90 < community["reported"] <= 112 and community["activities"] > 100, community[
        "reported"
    ]


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_demo_live_publishes_at_its_rate_until_a_signal(
    kafka_bootstrap: str, unique: str, stop_with: signal.Signals
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"live-{unique}.")
    ensure_topics(kafka)
    env = {
        "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "MINGDENG_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "PATH": "/usr/bin:/bin",
    }
    rate = 20
    live = subprocess.Popen(
        mingdeng("demo", "--live", "--rate", str(rate)), env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert live.stdout is not None
        assert live.stdout.readline().startswith("publishing about 20 events a second")
        first_event = live.stdout.readline()  # publishing has begun
        time.sleep(3)
        live.send_signal(stop_with)
        # read through the same buffered file as readline (communicate reads the pipe beneath
        # it, and would miss lines readline took into its buffer); stderr is a line or two
        rest = live.stdout.read()
        live.wait(timeout=30)
        assert live.stderr is not None
        errors = live.stderr.read()
    finally:
        if live.poll() is None:
            live.kill()
    assert live.returncode == 0, errors
    lines = [first_event, *rest.splitlines()]
    assert lines[-1].startswith("stopped: published ")
    count = int(lines[-1].split()[2])
    assert len(lines) - 1 == count  # one line per event sent

    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, consumer_timeout_ms=3000)
    topic = kafka.topic(EVENTS)
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
    consumer.seek_to_beginning()
    events = [parse_event(record.value) for record in consumer]
    consumer.close()
    assert len(events) == count
    assert {e.source for e in events} == {SOURCE} and len({e.id for e in events}) == count
    span = (max(e.time for e in events) - min(e.time for e in events)).total_seconds()
    assert 0.7 * rate <= (count - 1) / span <= 1.3 * rate, (count, span)
    kinds = Counter(type(e.data).__name__ for e in events)
    assert kinds["VisitMade"] > 0 and kinds["LectureDelivered"] >= 1
