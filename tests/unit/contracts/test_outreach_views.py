"""An outreach view travels as the model its view names, and only as that one."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mingdeng.contracts.outreach_views import (
    OutreachView,
    OverduePairing,
    Talks,
    TalksByCategory,
    UnpairedHousehold,
)
from tests.support.builders import at

NOW = at("2026-10-01 12:00")
TALKS = Talks(
    period="2026Q3", total=2, by_category=TalksByCategory(youth=1, leadership=0, member=1)
)
OVERDUE = OverduePairing(
    household_id="h1",
    member_id="M1",
    department_id="d1",
    branch_id="b1",
    paired_at=at("2026-06-01 09:00"),
    last_visit_at=None,
    days_without_visit=122,
)


def view(name: str, body: object) -> OutreachView:
    return OutreachView.model_validate(
        {"view": name, "key": name, "body": body, "computed_at": NOW}
    )


def test_a_view_comes_back_from_json_as_its_model() -> None:
    sent = view("talks", TALKS)
    read = OutreachView.model_validate_json(sent.to_json())
    assert read.body == TALKS and isinstance(read.body, Talks)
    overdue = OutreachView.model_validate_json(view("overdue_pairing", OVERDUE).to_json())
    assert overdue.body == OVERDUE
    assert sent.body_json() == TALKS.model_dump_json()


def test_a_line_with_nothing_to_show_is_null_and_a_view_never_is() -> None:
    cleared = OutreachView.model_validate_json(view("overdue_pairing", None).to_json())
    assert cleared.body is None and cleared.body_json() == "null"
    with pytest.raises(ValidationError):
        view("talks", None)


def test_a_body_of_another_view_is_refused() -> None:
    with pytest.raises(ValidationError):
        view("coverage", TALKS)
    with pytest.raises(ValidationError):
        view("unpaired_household", OVERDUE.model_dump(mode="json"))
    with pytest.raises(ValidationError, match="by_category"):
        view("talks", {"period": "2026Q3", "total": 2, "by_categories": {}})
    with pytest.raises(ValidationError):
        view("overdue", [OVERDUE.model_dump(mode="json")])  # the whole list of earlier versions
    assert isinstance(
        view(
            "unpaired_household",
            {"household_id": "h5", "village": "村", "reason": "unpaired", "since": None,
             "previous_member_id": "M3"},
        ).body,
        UnpairedHousehold,
    )  # fmt: skip
