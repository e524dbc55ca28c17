"""The gateway's rules of 党性体检 (domain/practice.py), hand-worked: a round takes cards until
its close date included; who may fill in and who may review a card; the figures by branch."""

from __future__ import annotations

from datetime import date

import pytest

from mingdeng.gateway.domain.practice import (
    BranchFigures,
    CardState,
    Reviewer,
    figures_by_branch,
    fill_refused,
    review_refused,
    round_open,
)

CLOSES = date(2026, 12, 20)


def test_a_round_is_open_on_its_close_date_and_closed_the_day_after() -> None:
    assert round_open(CLOSES, date(2026, 12, 1))
    assert round_open(CLOSES, CLOSES)
    assert not round_open(CLOSES, date(2026, 12, 21))


@pytest.mark.parametrize(
    ("today", "party_member", "reviewed", "refused"),
    [
        (date(2026, 12, 20), True, False, None),  # the last day
        (date(2026, 12, 21), True, False, "本次党性体检已于2026年12月20日截止，不能再填写。"),
        (date(2026, 12, 10), False, False, "党性体检由党员填写保健卡。"),
        (date(2026, 12, 10), True, True, "您的保健卡已由支部书记审阅，不能再修改。"),
    ],
)
def test_a_party_member_fills_in_their_card_while_the_round_is_open_and_until_reviewed(
    today: date, party_member: bool, reviewed: bool, refused: str | None
) -> None:
    assert fill_refused(CLOSES, today, party_member, reviewed) == refused


SECRETARY_B1 = Reviewer("S1", "secretary", "b1")
OFFICE = Reviewer("A1", "admin", "b9")


@pytest.mark.parametrize(
    ("reviewer", "member_id", "member_branch", "filled", "reviewed", "refused"),
    [
        (SECRETARY_B1, "M1", "b1", True, False, None),
        (SECRETARY_B1, "M2", "b2", True, False, "只能审阅本支部党员的保健卡。"),
        (SECRETARY_B1, "S1", "b1", True, False, "不能审阅本人的保健卡。"),
        (SECRETARY_B1, "M1", "b1", False, False, "这位党员还没有填写保健卡。"),
        (SECRETARY_B1, "M1", "b1", True, True, "这份保健卡已经审阅过了。"),
        (OFFICE, "M2", "b2", True, False, None),  # the office reviews any branch's
        (OFFICE, "S1", "b1", True, False, None),  # which is how a secretary's card is reviewed
        (Reviewer("L1", "leader", "b1"), "M1", "b1", True, False, "只能审阅本支部党员的保健卡。"),
        (
            Reviewer("S2", "secretary", None),
            "M1",
            None,
            True,
            False,
            "只能审阅本支部党员的保健卡。",
        ),
    ],
)
def test_the_branch_secretary_reviews_their_branchs_cards_and_the_office_any(
    reviewer: Reviewer, member_id: str, member_branch: str | None, filled: bool,
    reviewed: bool, refused: str | None,
) -> None:  # fmt: skip
    assert review_refused(reviewer, member_id, member_branch, filled, reviewed) == refused


def test_figures_by_branch_count_members_filled_and_reviewed() -> None:
    cards = [
        CardState("M1", "b1", filled=True, reviewed=True),
        CardState("M2", "b1", filled=True, reviewed=False),
        CardState("M3", "b1", filled=False, reviewed=False),
        CardState("M4", "b2", filled=False, reviewed=False),
        CardState("M5", "b2", filled=True, reviewed=True),
        CardState("M6", "b2", filled=False, reviewed=True),  # a review without a card: not counted
    ]
    figures = figures_by_branch(cards)
    assert figures == [BranchFigures("b1", 3, 2, 1), BranchFigures("b2", 3, 1, 1)]
    assert [f.not_filled for f in figures] == [1, 2]
    assert figures_by_branch([]) == []
