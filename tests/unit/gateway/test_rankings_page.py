"""The rankings page and its export read the API as their answer models through the `Api` port
(a fake here, no monkeypatch): the filters chosen on the page (department, branch) go to the
API, names replace ids, ties are marked, the list is searched and paged, and the page keeps the
filters in its selectors and export links."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel

from mingdeng.contracts.derived import Task
from mingdeng.gateway.entrypoints.answers import (
    FortressRanking,
    MemberRank,
    SubjectRank,
    VanguardRanking,
)
from mingdeng.gateway.web import excel, pages
from mingdeng.gateway.web.directory import Department, Directory, Person
from mingdeng.gateway.web.reads import A, Params, refusal

PARTS = {"performance": 0.0, "study": 20.0, "service": 10.5, "discipline": 20.0}
DEPARTMENTS = [SubjectRank(rank=1, id="d1", name="预算科", index=70.0, components={}),
               SubjectRank(rank=2, id="d2", name="国库科", index=60.0, components={})]  # fmt: skip
BRANCHES = [SubjectRank(rank=1, id="b1", name="第一支部", index=70.0, components={}),
            SubjectRank(rank=2, id="b2", name="第二支部", index=60.0, components={})]  # fmt: skip
NAMES = Directory(
    members={"D": Person("丁", "d2"), "E": Person("王芳", "d1"), "F": Person("王芳", "d2")},
    departments={"d1": Department("预算科", "b1"), "d2": Department("国库科", "b2")},
    branches={"b1": "第一支部", "b2": "第二支部"},
)


def member(rank: int, member_id: str, name: str, index: float) -> MemberRank:
    return MemberRank(rank=rank, member_id=member_id, name=name, department_id="d2", index=index,
                      components=PARTS)  # fmt: skip


class FakeApi:
    """The API's answers for the reads the pages make; records each read."""

    def __init__(self, members: list[MemberRank]) -> None:
        self.members = members
        self.reads: list[tuple[str, dict[str, Any]]] = []

    async def get(self, answer: type[A], path: str, params: Params | None = None) -> A:
        found = await self.find(answer, path, params)
        if found is None:
            raise refusal(404)
        return found

    async def find(self, answer: type[A], path: str, params: Params | None = None) -> A | None:
        params = dict(params or {})
        self.reads.append((path, params))
        body: BaseModel
        if path.endswith("/vanguard"):
            start = int(params.get("offset") or 0)
            body = VanguardRanking(quarter="2026Q3", status="provisional", total=len(self.members),
                                   items=self.members[start : start + int(params["limit"] or 0)])  # fmt: skip
        else:
            items = BRANCHES if params.get("level") == "branch" else DEPARTMENTS
            body = FortressRanking(quarter="2026Q3", status="provisional", total=2, items=items)
        assert isinstance(body, answer)
        return body

    async def directory(self) -> Directory:
        return NAMES


def vanguard_reads(api: FakeApi) -> list[dict[str, Any]]:
    return [params for path, params in api.reads if path == "/v1/quarters/2026Q3/vanguard"]


def test_the_page_reads_the_ranking_of_the_branch_chosen() -> None:
    api = FakeApi([member(4, "D", "丁", 80.5)])
    filters = pages.vanguard_filters(None, "b2")
    data = asyncio.run(pages._rankings(api, "2026Q3", filters, "department"))
    assert vanguard_reads(api) == [{"branch_id": "b2", "limit": 500}]
    assert data.branch_names == {"b1": "第一支部", "b2": "第二支部"}
    assert pages.vanguard_filters("d2", "b2") == {"department_id": "d2", "branch_id": "b2"}
    assert pages.vanguard_filters("", None) == {}  # "全部" chooses no filter
    assert data.unreported == ["performance"]  # everyone's 工作业绩 is 0 before the KPIs


def test_a_long_ranking_is_searched_by_name_paged_and_its_ties_marked() -> None:
    many = [member(n, f"m{n:03d}", f"党员{n}", 90.0 - n) for n in range(1, 121)]
    many[9] = member(10, "m010", "王芳", 60.0)
    many[10] = member(11, "m011", "李强", 60.0)  # same index shown: 并列
    api = FakeApi(many)
    data = asyncio.run(pages._rankings(api, "2026Q3", {}, "department", page_number=3))
    assert [m.rank for m in data.shown] == list(range(101, 121))
    assert (data.page_number, data.pages, data.matched) == (3, 3, 120)
    assert data.ties == {"m010", "m011"}
    found = asyncio.run(pages._rankings(api, "2026Q3", {}, "department", search="王"))
    assert [m.name for m in found.shown] == ["王芳"] and found.matched == 1


def render_rankings(data: pages.RankingPage, branch_id: str = "") -> str:
    filters = pages.vanguard_filters(None, branch_id)
    return pages.templates.env.get_template("rankings.html").render(
        request=SimpleNamespace(url=SimpleNamespace(path="/rankings")), viewer=None,
        title="先锋指数与堡垒指数", quarter="2026Q3", quarters=["2026Q3"], department_id="",
        branch_id=branch_id, vanguard_query=pages.urlencode(filters), page_query="",
        level="department", search="", ranking=data, members=data.members, groups=data.groups,
        department_names=data.department_names, branch_names=data.branch_names,
    )  # fmt: skip


def test_the_page_keeps_the_branch_in_its_selector_its_exports_and_its_live_refresh() -> None:
    api = FakeApi([member(4, "D", "丁", 80.5)])
    data = asyncio.run(pages._rankings(api, "2026Q3", {"branch_id": "b2"}, "department"))
    html = render_rankings(data, "b2")
    assert '<label>支部<select name="branch_id">' in html
    assert '<option value="b2" selected>第二支部</option>' in html
    assert '<option value="b1" >第一支部</option>' in html
    assert 'href="/export/rankings-2026Q3.xlsx?index=vanguard&branch_id=b2"' in html
    assert 'href="/export/rankings-2026Q3.csv?index=vanguard&branch_id=b2"' in html
    assert "2026年第三季度 先锋指数与堡垒指数" in html
    assert '<a href="/members/D?quarter=2026Q3">丁</a>' in html  # the name links to its index
    assert "#0072B2" in html and "#CC79A7" in html  # the colour key, Okabe–Ito
    assert "“工作业绩”尚未计分" in html


def test_the_export_reads_and_writes_the_ranking_of_the_branch_chosen() -> None:
    api = FakeApi([member(4, "D", "丁", 80.5)])
    answer = asyncio.run(excel.export_rankings(
        pages.Principal("root", "admin"), api, "2026Q3", "csv", "vanguard",
        department_id=None, branch_id="b2",
    ))  # fmt: skip
    assert vanguard_reads(api) == [{"branch_id": "b2", "limit": 500}]
    rows = list(csv.reader(io.StringIO(bytes(answer.body).decode("utf-8-sig"))))
    assert rows[0] == ["名次", "姓名", "科室", "支部", "先锋指数",
                       "工作业绩", "学习提升", "服务群众", "遵规守纪"]  # fmt: skip
    assert rows[1] == ["4", "丁", "国库科", "第二支部", "80.5", "0.0", "20.0", "10.5", "20.0"]


def test_names_that_repeat_carry_their_department() -> None:
    assert NAMES.member("D") == "丁"
    assert NAMES.member("E") == "王芳（预算科）" and NAMES.member("F") == "王芳（国库科）"
    assert NAMES.member("nobody") == "未登记人员"


def test_tasks_list_the_overdue_first_then_the_open_then_the_done() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)

    def task(task_id: str, status: str, due_days: int) -> Task:
        return Task(task_id=task_id, kind="commendation", assignee_id="L", member_id="m",
                    cause="2026Q3", status=status, due=now + timedelta(days=due_days),  # type: ignore[arg-type]
                    created_at=now - timedelta(days=60))  # fmt: skip

    rows = pages.tasks_in_order(
        [task("done", "done", -50), task("soon", "open", 3), task("late", "open", -43),
         task("later", "open", 10), task("little-late", "open", -2)], now,
    )  # fmt: skip
    assert [(r.task.task_id, r.state, r.days_overdue) for r in rows] == [
        ("late", "overdue", 43), ("little-late", "overdue", 2), ("soon", "open", 0),
        ("later", "open", 0), ("done", "done", 0),
    ]  # fmt: skip
    assert pages.labels.task_state("overdue", 43) == "逾期 43 天"
