"""Who sees what across agencies (issue 25, items 3 and 4), on the real database and broker, the
gateway in process: two agencies, `default` and `czj`, with the SAME ids (members m001-m004,
department d1, branch b1, lecture L1, violation v1, task t1) naming different people. Every
name an agency's data carries ends in `·{agency}`; each role (admin, secretary, leader,
member) with a token or session of either agency asks every endpoint family, page and export,
and no answer may carry the other agency's mark. The live stream's channel is the agency's,
and a 机关工委 admin switches only within its committee's tree."""

from __future__ import annotations

import json
import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import new_event, serialize_event
from mingdeng.contracts.derived import IndexScore, Notification, Task
from mingdeng.contracts.events import EventData
from mingdeng.contracts.topics import EVENTS, NOTIFICATIONS, SCORES, TASKS, Topic
from mingdeng.gateway.adapters.agency_schemas import NO_AGENCY_SCHEMA
from mingdeng.gateway.adapters.projector import Projector
from mingdeng.gateway.adapters.read_models.scores import score_channel
from mingdeng.gateway.adapters.tokens import issue_token
from mingdeng.gateway.domain.access import Principal, Role
from mingdeng.gateway.entrypoints.app import create_app
from mingdeng.gateway.settings import GatewaySettings
from mingdeng.gateway.web.session import SESSION_COOKIE
from mingdeng.runtime.agencies import agency_headers, agency_key
from mingdeng.runtime.migrations import migrate
from mingdeng.runtime.projection import Record
from mingdeng.runtime.settings import KafkaSettings, PostgresSettings

pytestmark = pytest.mark.integration

AGENCIES = ("default", "czj")
SECRET = "access-matrix-secret-of-at-least-32-chars"
AT = datetime(2026, 8, 3, 9, tzinfo=UTC)
QUARTER = "2026Q3"
PEOPLE: dict[str, tuple[str, Role]] = {
    "m001": ("甲", "admin"),
    "m002": ("乙", "secretary"),
    "m003": ("丙", "leader"),
    "m004": ("丁", "member"),
}
API = [
    f"/v1/quarters/{QUARTER}/vanguard",
    f"/v1/quarters/{QUARTER}/fortress",
    f"/v1/members/m004/vanguard/{QUARTER}",
    f"/v1/members/m004/vanguard/{QUARTER}/events?component=discipline",
    f"/v1/quarters/{QUARTER}/selections",
    "/v1/lectures?year=2026",
    "/v1/lectures/L1",
    "/v1/lectures/stats?year=2026",
    "/v1/kpis",
    "/v1/tasks",
    "/v1/notifications",
    "/v1/violations",
    "/v1/appeals",
    "/v1/talks?year=2026",
    "/v1/inbox",
    "/v1/outreach/talk-obligations",
    f"/v1/outreach/coverage/{QUARTER}",
    "/v1/meetings?year=2026",
    "/v1/organisation-life?year=2026",
    "/v1/secondments?year=2026",
    "/v1/health-cards/rounds",
    "/v1/pairings",
    "/v1/members",
    "/v1/members/m004",
    "/v1/organisation",
    "/v1/dead-letters",
    "/v1/actions",
]
PAGES = {
    "admin": ["/office", "/rankings", "/office/violations", "/office/roster",
              f"/export/rankings-{QUARTER}.csv"],
    "secretary": ["/branch", "/branch/talks", "/rankings"],
    "leader": ["/line", "/rankings"],
    "member": ["/me", "/me/messages"],
}  # fmt: skip
MARK = re.compile(r"·(default|czj)")


@pytest.fixture
async def dsn(database_url: str) -> AsyncIterator[str]:
    name = f"mingdeng_access_{random.getrandbits(40):x}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE DATABASE {name}")
    url = database_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        await migrate(url, "runtime", "mingdeng.runtime.sql")
        await migrate(url, "gateway", "mingdeng.gateway.adapters.sql")
        yield url
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


def _inbound(kafka: KafkaSettings, data: EventData, agency: str, n: int) -> Record:
    source = "/systems/hr" if agency == "default" else f"/agencies/{agency}/hr"
    event = new_event(data, source=source, time=AT, event_id=f"{agency}-{n}", agency=agency)
    return Record(kafka.topic(EVENTS), 0, n, agency.encode(), serialize_event(event), 0)


def _derived(kafka: KafkaSettings, topic: Topic, key: str, value: bytes, agency: str) -> Record:
    return Record(
        kafka.topic(topic), 0, 0, agency_key(agency, key), value, 0, agency_headers(agency)
    )


def agency_history(kafka: KafkaSettings, agency: str) -> list[Record]:
    mark = f"·{agency}"
    facts: list[EventData] = [
        ev.AgencyRegistered(agency_id=agency, name=f"单位{mark}", committee_id="city"),
        ev.BranchRegistered(branch_id="b1", name=f"一支部{mark}"),
        ev.DepartmentRegistered(
            department_id="d1", name=f"预算科{mark}", branch_id="b1", leader_id="m003"
        ),
        *(
            ev.MemberRegistered(
                member_id=member,
                name=f"{name}{mark}",
                department_id="d1",
                phone=f"13{AGENCIES.index(agency)}000000{member[-1]}",
                roles=(role, "member") if role != "member" else ("member",),
                party_member=True,
            )
            for member, (name, role) in PEOPLE.items()
        ),
        ev.LectureScheduled(
            lecture_id="L1",
            date=AT.date(),
            module="theory",
            theme="loyalty",
            title=f"讲堂{mark}",
            speaker_id="m004",
        ),
        ev.LectureAttended(lecture_id="L1", member_id="m004"),
        ev.ViolationLogged(
            violation_id="v1",
            member_id="m004",
            rule=3,
            description=f"离岗{mark}",
            inspector_id="m002",
        ),
        ev.KpiReported(
            subject_type="member",
            subject_id="m004",
            metric="performance",
            period=QUARTER,
            value=80 + AGENCIES.index(agency),
        ),
    ]
    records = [_inbound(kafka, data, agency, n) for n, data in enumerate(facts)]
    score = IndexScore(
        quarter=QUARTER,
        level="member",
        id="m004",
        name=f"丁{mark}",
        department_id="d1",
        branch_id="b1",
        index=70.0 + AGENCIES.index(agency),
        index_exact=70.0,
        components={},
        details={},
        status="provisional",
        rules_version="1",
    )
    task = Task(
        task_id="t1",
        kind="talk",
        assignee_id="m002",
        member_id="m004",
        cause=f"v1{mark}",
        status="open",
        due=AT + timedelta(days=7),
        created_at=AT,
    )
    note = Notification(
        key=f"violation/m004/v1{mark}",
        rule="violation",
        recipient_id="m004",
        cause=f"v1{mark}",
        phone=None,
        text=f"提醒{mark}",
        status="sent",
        created_at=AT,
        updated_at=AT,
    )
    return [
        *records,
        _derived(kafka, SCORES, score.key, score.to_json(), agency),
        _derived(kafka, TASKS, task.key, task.to_json(), agency),
        _derived(kafka, NOTIFICATIONS, note.key, note.to_json(), agency),
    ]


async def project(dsn: str, kafka: KafkaSettings, records: list[Record]) -> None:
    connection = await asyncpg.connect(dsn, server_settings={"search_path": NO_AGENCY_SCHEMA})
    try:
        async with connection.transaction():
            await Projector(kafka).handle(connection, records)
    finally:
        await connection.close()


@asynccontextmanager
async def gateway(dsn: str, kafka: KafkaSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        GatewaySettings(
            kafka=kafka,
            postgres=PostgresSettings(database_url=dsn),
            projector=False,
            environment="development",
            jwt_secret=SECRET,
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client


def token(member: str, role: Role, agency: str, committee: str | None = None) -> str:
    principal = Principal(member, role, agency=agency, committee=committee)
    return issue_token(SECRET, principal, timedelta(hours=1))


@pytest.fixture
async def client(dsn: str, kafka: KafkaSettings) -> AsyncIterator[httpx.AsyncClient]:
    await project(dsn, kafka, [r for a in AGENCIES for r in agency_history(kafka, a)])
    async with gateway(dsn, kafka) as answering:
        yield answering


async def test_each_role_of_each_agency_sees_its_own_agency_only(
    client: httpx.AsyncClient,
) -> None:
    checks, seen = 0, {agency: set[str]() for agency in AGENCIES}
    unexpected: list[tuple[str, str, str, str]] = []
    for agency in AGENCIES:
        other = next(a for a in AGENCIES if a != agency)
        for member, (_, role) in PEOPLE.items():
            bearer = token(member, role, agency)
            for path in API:
                answer = await client.get(path, headers={"Authorization": f"Bearer {bearer}"})
                if answer.status_code not in (200, 403, 404):
                    unexpected.append((agency, role, path, answer.text[:200]))
                marks = set(MARK.findall(answer.text))
                assert other not in marks, (agency, role, path, answer.text[:300])
                seen[agency] |= {path for _ in marks}
                checks += 1
            for path in PAGES[role]:
                answer = await client.get(path, cookies={SESSION_COOKIE: bearer})
                if answer.status_code != 200:
                    unexpected.append((agency, role, path, answer.text[:200]))
                marks = set(MARK.findall(answer.text))
                assert marks == {agency}, (agency, role, path, marks)
                checks += 1
    assert unexpected == []
    assert checks >= 40 * 2
    for agency in AGENCIES:  # each agency's own data was there to be seen
        assert {"/v1/tasks", "/v1/violations", "/v1/lectures/L1", "/v1/notifications"} <= seen[
            agency
        ], agency


async def test_the_same_member_id_is_another_person_in_another_agency(
    client: httpx.AsyncClient,
) -> None:
    for agency in AGENCIES:
        bearer = token("m004", "member", agency)
        answer = await client.get(
            f"/v1/members/m004/vanguard/{QUARTER}", headers={"Authorization": f"Bearer {bearer}"}
        )
        assert answer.status_code == 200
        assert answer.json()["name"] == f"丁·{agency}"
        assert answer.json()["index"] == 70.0 + AGENCIES.index(agency)


async def test_the_public_board_and_screen_name_their_agency(client: httpx.AsyncClient) -> None:
    for agency in AGENCIES:
        for path in ("/board", "/screen"):
            answer = await client.get(path, params={"agency": agency})
            assert answer.status_code == 200
            assert set(MARK.findall(answer.text)) <= {agency}, (path, agency)
    assert (await client.get("/board", params={"agency": "../x"})).status_code == 422


async def test_a_committee_admin_switches_within_its_tree_only(
    dsn: str, kafka: KafkaSettings, client: httpx.AsyncClient
) -> None:
    await project(
        dsn,
        kafka,
        [_inbound(kafka, ev.AgencyRegistered(agency_id="far", name="外市单位·far",
                                             committee_id="elsewhere"), "far", 0)],
    )  # fmt: skip
    session = token("committee-admin", "admin", "default", committee="city")
    office = await client.get("/office", cookies={SESSION_COOKIE: session})
    assert office.status_code == 200 and "切换单位" in office.text
    assert set(MARK.findall(office.text)) <= {"default", "czj"}  # the switcher names both
    csrf = re.search(r'name="csrf" value="([^"]+)"', office.text)
    assert csrf is not None
    cookies = {SESSION_COOKIE: session, "mingdeng_csrf": office.cookies.get("mingdeng_csrf", "")}
    moved = await client.post("/agency", data={"agency": "czj", "csrf": csrf[1]}, cookies=cookies)
    assert moved.status_code == 303
    now_czj = moved.cookies[SESSION_COOKIE]
    violations = await client.get("/v1/violations", headers={"Authorization": f"Bearer {now_czj}"})
    assert "离岗·czj" in violations.text and "离岗·default" not in violations.text
    office = await client.get("/office", cookies={SESSION_COOKIE: now_czj})
    assert office.status_code == 200 and '<option value="czj" selected>' in office.text
    refused = await client.post("/agency", data={"agency": "far", "csrf": csrf[1]}, cookies=cookies)
    assert refused.status_code == 403
    plain_admin = token("m001", "admin", "default")
    refused = await client.post(
        "/agency",
        data={"agency": "czj", "csrf": csrf[1]},
        cookies={**cookies, SESSION_COOKIE: plain_admin},
    )
    assert refused.status_code == 403  # an agency's own admin cannot switch


async def test_the_live_stream_of_an_agency_hears_its_scores_only(
    dsn: str, kafka: KafkaSettings, client: httpx.AsyncClient
) -> None:
    listener = await asyncpg.connect(dsn)
    heard: list[str] = []
    try:
        await listener.add_listener(
            score_channel("agency_czj"), lambda *args: heard.append(args[-1])
        )
        changed = [
            r for a in AGENCIES for r in agency_history(kafka, a) if r.topic == kafka.topic(SCORES)
        ]
        for record, index in zip(changed, (60.0, 61.0), strict=True):  # both scores change
            body = json.loads(record.value or b"{}") | {"index": index, "index_exact": index}
            await project(
                dsn, kafka, [Record(**{**record.__dict__, "value": json.dumps(body).encode()})]
            )
        await listener.execute("SELECT 1")  # notifications delivered before this answer
        assert [json.loads(payload)["name"] for payload in heard] == ["丁·czj"]
    finally:
        await listener.close()
