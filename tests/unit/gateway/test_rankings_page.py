"""The rankings page and its export ask the API for the Vanguard ranking with the filters chosen
on the page (department, branch), and the page keeps them in its selectors and export links."""

from __future__ import annotations

import asyncio
import csv
import io
from types import SimpleNamespace
from typing import Any

import pytest

from mingdeng.gateway.web import excel, pages

MEMBER = {"rank": 4, "member_id": "D", "name": "丁", "department_id": "d2", "index": 80.5,
          "components": {"performance": 30.0, "study": 20.0, "service": 10.5, "discipline": 20.0}}  # fmt: skip
DEPARTMENTS = {
    "total": 2,
    "items": [{"id": "d1", "name": "预算科"}, {"id": "d2", "name": "国库科"}],
}
BRANCHES = {
    "total": 2,
    "items": [{"id": "b1", "name": "第一支部"}, {"id": "b2", "name": "第二支部"}],
}


@pytest.fixture
def api_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """The API reads the page makes, answered with a one-member ranking."""
    reads: list[tuple[str, dict[str, Any]]] = []

    async def read(request: object, path: str, params: dict[str, Any] | None = None) -> Any:
        params = params or {}
        reads.append((path, params))
        if path.endswith("/vanguard"):
            return {"quarter": "2026Q3", "status": "provisional", "total": 1, "items": [MEMBER]}
        return BRANCHES if params.get("level") == "branch" else DEPARTMENTS

    monkeypatch.setattr(pages, "read", read)
    monkeypatch.setattr(excel, "read", read)
    return reads


def vanguard_reads(reads: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [params for path, params in reads if path == "/v1/quarters/2026Q3/vanguard"]


def test_the_page_reads_the_ranking_of_the_branch_chosen(
    api_reads: list[tuple[str, dict[str, Any]]],
) -> None:
    filters = pages.vanguard_filters(None, "b2")
    data = asyncio.run(pages._rankings(SimpleNamespace(), "2026Q3", filters, "department"))
    assert vanguard_reads(api_reads) == [{"branch_id": "b2", "limit": 500}]
    assert data["branch_names"] == {"b1": "第一支部", "b2": "第二支部"}
    assert pages.vanguard_filters("d2", "b2") == {"department_id": "d2", "branch_id": "b2"}
    assert pages.vanguard_filters("", None) == {}  # "全部" chooses no filter


def test_the_page_keeps_the_branch_in_its_selector_its_exports_and_its_live_refresh() -> None:
    filters = pages.vanguard_filters(None, "b2")
    html = pages.templates.env.get_template("rankings.html").render(
        request=SimpleNamespace(url=SimpleNamespace(path="/rankings")), viewer=None,
        title="先锋指数与堡垒指数", quarter="2026Q3", quarters=["2026Q3"], department_id="",
        branch_id="b2", vanguard_query=pages.urlencode(filters), level="department",
        members={"status": "provisional", "total": 1, "items": [MEMBER]},
        groups={"items": []}, department_names={"d2": "国库科"},
        branch_names={"b1": "第一支部", "b2": "第二支部"},
    )  # fmt: skip
    assert '<label>支部<select name="branch_id">' in html
    assert '<option value="b2" selected>第二支部</option>' in html
    assert '<option value="b1" >第一支部</option>' in html
    assert 'href="/export/rankings-2026Q3.xlsx?index=vanguard&branch_id=b2"' in html
    assert 'href="/export/rankings-2026Q3.csv?index=vanguard&branch_id=b2"' in html
    assert "?quarter=2026Q3&branch_id=b2&level=department&fragment=1" in html


def test_the_export_reads_and_writes_the_ranking_of_the_branch_chosen(
    api_reads: list[tuple[str, dict[str, Any]]],
) -> None:
    answer = asyncio.run(excel.export_rankings(
        SimpleNamespace(), pages.Principal("root", "admin"), "2026Q3", "csv", "vanguard",
        department_id=None, branch_id="b2",
    ))  # fmt: skip
    assert vanguard_reads(api_reads) == [{"branch_id": "b2", "limit": 500, "offset": 0}]
    rows = list(csv.reader(io.StringIO(bytes(answer.body).decode("utf-8-sig"))))
    assert rows[1] == ["4", "D", "丁", "国库科", "80.5", "30.0", "20.0", "10.5", "20.0"]
