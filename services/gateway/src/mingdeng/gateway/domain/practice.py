"""The rules of the report's practice that the gateway owns (issue 24; docs/practice.md):
who may fill in and review a political health card (政治“保健卡”) of a round of 党性体检, and
the figures of a round by branch. Pure: the pages and the API hand in what they read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

# The report's words: 唤醒“入党为什么，为党做什么”的初心
DEFAULT_QUESTIONS: tuple[str, ...] = ("入党为什么", "为党做什么")


def round_open(closes_on: date, today: date) -> bool:
    """A round takes cards until its close date, that day included."""
    return today <= closes_on


def fill_refused(closes_on: date, today: date, party_member: bool, reviewed: bool) -> str | None:
    """Why a member may not fill in (or change) their card now, or None when they may."""
    if not party_member:
        return "党性体检由党员填写保健卡。"
    if not round_open(closes_on, today):
        return f"本次党性体检已于{closes_on:%Y年%m月%d日}截止，不能再填写。"
    if reviewed:
        return "您的保健卡已由支部书记审阅，不能再修改。"
    return None


@dataclass(frozen=True)
class Reviewer:
    member_id: str
    role: str  # secretary or admin (the office)
    branch_id: str | None  # the reviewer's own branch


def review_refused(
    reviewer: Reviewer, member_id: str, member_branch: str | None, filled: bool, reviewed: bool
) -> str | None:
    """Why the reviewer may not review this card, or None: a branch secretary reviews the
    cards of their branch's members, the office any member's; nobody their own card."""
    if member_id == reviewer.member_id:
        return "不能审阅本人的保健卡。"
    if reviewer.role != "admin" and (
        reviewer.role != "secretary" or member_branch is None or member_branch != reviewer.branch_id
    ):
        return "只能审阅本支部党员的保健卡。"
    if not filled:
        return "这位党员还没有填写保健卡。"
    if reviewed:
        return "这份保健卡已经审阅过了。"
    return None


@dataclass(frozen=True)
class CardState:
    member_id: str
    branch_id: str
    filled: bool
    reviewed: bool


@dataclass(frozen=True)
class BranchFigures:
    branch_id: str
    members: int  # the branch's active party members: who owes a card
    filled: int
    reviewed: int

    @property
    def not_filled(self) -> int:
        return self.members - self.filled


def figures_by_branch(cards: Iterable[CardState]) -> list[BranchFigures]:
    """A round's figures per branch, by branch id, from each active party member's card
    state (a member who has not filled in: filled and reviewed False)."""
    counts: dict[str, list[int]] = {}
    for card in cards:
        tally = counts.setdefault(card.branch_id, [0, 0, 0])
        tally[0] += 1
        tally[1] += card.filled
        tally[2] += card.filled and card.reviewed
    return [BranchFigures(branch, *counts[branch]) for branch in sorted(counts)]
