"""Rankings are paged, filtered and scoped in SQL (issue 11): each role reads exactly its part of
the bureau (docs/api.md), pages and totals agree, and a member who moves to another branch
leaves the secretary's ranking at once (who-may-see-what is cached until the registry moves)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Platform, token
from tests.support.builders import Events
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e
ADMIN = token("admin", "root")
SECRETARY = token("secretary", "S")  # a member of d1, so the secretary of branch b1
LEADER = token("leader", "L2")  # d2 is the one department of their line
MEMBER = token("member", "A")
WHEN = "2026-07-01 09:00"


def test_each_role_reads_its_part_of_a_ranking_page_by_page(
    platform_of: Callable[..., Platform],
) -> None:
    platform = platform_of("gateway", "scoring")
    api = httpx.Client(base_url=platform.api, timeout=10)
    e = Events(source="/systems/hr", prefix="scope")
    registry = [
        e.branch("b1", WHEN),
        e.branch("b2", WHEN),
        e.department("d1", "b1", WHEN, leader="L1"),
        e.department("d2", "b2", WHEN, leader="L2"),
        e.member("A", "d1", WHEN),
        e.member("B", "d1", WHEN),
        e.member("S", "d1", WHEN, roles=("member", "secretary")),
        e.member("C", "d2", WHEN),
        e.member("D", "d2", WHEN),
    ]
    activity = [e.volunteer("A", "2026-08-01 10:00"), e.volunteer("C", "2026-08-02 10:00")]
    posted = api.post(
        "/v1/events", json=[x.to_cloudevent() for x in registry + activity], headers=ADMIN
    )
    assert posted.status_code == 202, posted.text

    def page(headers: dict[str, str], path: str = "vanguard", **params: Any) -> dict[str, Any]:
        answer = api.get(f"/v1/quarters/2026Q3/{path}", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def ids(body: dict[str, Any], key: str = "member_id") -> list[str]:
        return [item[key] for item in body["items"]]

    wait_for(  # scores, and their ranks (the quarter's ranking follows within a second)
        lambda: len(page(ADMIN)["items"]) == 5 and all(i["rank"] for i in page(ADMIN)["items"]),
        60,
        "the ranking",
    )
    everyone = page(ADMIN)
    assert everyone["total"] == 5 and everyone["status"] == "provisional"
    assert ids(everyone)[:2] == ["A", "C"]  # the two who volunteered lead; ties by id
    assert [i["rank"] for i in everyone["items"]] == [1, 2, 3, 4, 5]
    assert set(everyone["items"][0]["components"]) == {
        "performance",
        "study",
        "service",
        "discipline",
    }

    second = page(ADMIN, limit=2, offset=2)
    assert (second["total"], ids(second)) == (5, ids(everyone)[2:4])
    assert page(ADMIN, offset=10)["items"] == [] and page(ADMIN, offset=10)["total"] == 5
    assert sorted(ids(page(ADMIN, department_id="d2"))) == ["C", "D"]

    # keyset paging: each page links the next (Link rel=next, `after=`) until the last
    walked, answer = [], api.get("/v1/quarters/2026Q3/vanguard?limit=2", headers=ADMIN)
    while True:
        assert answer.status_code == 200, answer.text
        walked += ids(answer.json())
        if "next" not in answer.links:
            break
        assert "offset" not in answer.links["next"]["url"]
        answer = api.get(answer.links["next"]["url"], headers=ADMIN)
    assert walked == ids(everyone)
    stranger = api.get("/v1/quarters/2026Q3/vanguard?after=bm90LWEtY3Vyc29y", headers=ADMIN)
    assert stranger.status_code == 404, stranger.text

    def ranked(body: dict[str, Any]) -> list[tuple[str, int]]:
        return [(item["member_id"], item["rank"]) for item in body["items"]]

    # a branch filter chooses the rows and keeps the quarter's ranks (A 1, C 2, B 3, D 4, S 5)
    assert ranked(page(ADMIN, branch_id="b2")) == [("C", 2), ("D", 4)]
    assert ranked(page(ADMIN, branch_id="b1")) == [("A", 1), ("B", 3), ("S", 5)]
    assert page(ADMIN, branch_id="b1")["total"] == 3
    assert ranked(page(ADMIN, branch_id="b1", limit=1, offset=1)) == [("B", 3)]
    assert page(ADMIN, branch_id="b1", department_id="d2") == {
        "quarter": "2026Q3", "status": "provisional", "total": 0, "items": []
    }  # fmt: skip
    assert page(ADMIN, branch_id="nowhere")["total"] == 0
    # ...within the viewer's scope: a secretary of b1 sees nothing of b2
    assert ranked(page(SECRETARY, branch_id="b1")) == [("A", 1), ("B", 3), ("S", 5)]
    assert page(SECRETARY, branch_id="b2")["total"] == 0
    assert ranked(page(LEADER, branch_id="b2")) == [("C", 2), ("D", 4)]
    assert ranked(page(MEMBER, branch_id="b1")) == [("A", 1)]

    assert sorted(ids(page(SECRETARY))) == ["A", "B", "S"]
    assert page(SECRETARY)["total"] == 3
    assert sorted(ids(page(LEADER))) == ["C", "D"]
    assert ids(page(MEMBER)) == ["A"]
    assert ids(page(SECRETARY, "fortress"), "id") == ["d1"]
    assert ids(page(SECRETARY, "fortress", level="branch"), "id") == ["b1"]
    assert ids(page(LEADER, "fortress"), "id") == ["d2"]

    moved = e.member("A", "d2", "2026-07-15 09:00")
    assert api.post("/v1/events", json=moved.to_cloudevent(), headers=ADMIN).status_code == 202
    wait_for(lambda: sorted(ids(page(SECRETARY))) == ["B", "S"], 30, "A gone from branch b1")
    assert sorted(ids(page(LEADER))) == ["A", "C", "D"]
    wait_for(  # A's score moves with them: the filter is on the score's branch
        lambda: sorted(ids(page(ADMIN, branch_id="b2"))) == ["A", "C", "D"], 30, "A in b2"
    )
    assert sorted(ids(page(ADMIN, branch_id="b1"))) == ["B", "S"]
