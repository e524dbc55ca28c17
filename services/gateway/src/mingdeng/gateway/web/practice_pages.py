"""The report's practice on the pages (issue 24; docs/practice.md), in its words: 党性体检 —
the office opens a round, each party member fills in their political health card (政治“保健卡”)
on /me/health-card, their branch secretary reviews it; 支部结对共建 — the office pairs a branch
with a village branch, a community or an enterprise, the secretary records the activities held
together; 在职党员进社区 — each member's 报到 (a confirmed community report, /me/reports) and
their person-times there. Each action is an event from `/dashboard` with its actor; what an
action starts from is read from the API as the viewer sees it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from mingdeng.contracts import events as ev
from mingdeng.gateway.domain import practice as rules
from mingdeng.gateway.entrypoints.practice import (
    CommunityReports,
    HealthCardRound,
    HealthCardRounds,
    HealthCards,
    PairingActivities,
    Pairings,
)
from mingdeng.gateway.web import actions
from mingdeng.gateway.web.excel import Format, _table
from mingdeng.gateway.web.forms import checked_form
from mingdeng.gateway.web.member_pages import (
    Tokens,
    branch_members,
    parse_day,
    published,
    refuse,
    today,
    validated,
)
from mingdeng.gateway.web.pages import Admin, AnyViewer, Reviewer, page
from mingdeng.gateway.web.reads import Api, PageError, ViewerApi

router = APIRouter(include_in_schema=False)

CARD_STATES = {"not_filled": "未填写", "filled": "已填写，待审阅", "reviewed": "已审阅"}
PARTNER_KINDS = {"village": "村（社区）党支部", "community": "社区", "enterprise": "企业"}
HEALTH_CARD = "党性体检"


async def _rounds(api: Api) -> list[HealthCardRound]:
    return (await api.get(HealthCardRounds, "/v1/health-cards/rounds")).items


def _chosen(rounds: list[HealthCardRound], round_id: str) -> HealthCardRound | None:
    return next((r for r in rounds if r.round_id == round_id), rounds[0] if rounds else None)


# --- 党性体检: the member's card ---------------------------------------------------------------


@router.get("/me/health-card")
async def my_health_card(
    request: Request, viewer: AnyViewer, api: ViewerApi, forms: Tokens
) -> Response:
    """The viewer's political health card of each round: the form while the round is open
    and the card not reviewed, then the card with the secretary's comment."""
    rounds = await _rounds(api)
    cards = {}
    for found in rounds:
        mine = await api.get(HealthCards, f"/v1/health-cards/rounds/{found.round_id}/cards",
                             {"member_id": viewer.subject, "limit": 1})  # fmt: skip
        cards[found.round_id] = next(iter(mine.items), None)
    return page(
        request, "health_card.html", title="党性体检 · 政治“保健卡”", rounds=rounds, cards=cards,
        states=CARD_STATES, names=await api.directory(),
        form_token=forms.issue(viewer, "health-card"),
    )  # fmt: skip


@router.post("/me/health-card/{round_id}")
async def fill_health_card(
    request: Request,
    round_id: str,
    viewer: AnyViewer,
    api: ViewerApi,
    answers: Annotated[list[str], Form()],
    form_token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """A member fills in (or changes, until it is reviewed) their own card: healthcard.filled."""
    nonce = checked_form(request, csrf, form_token, viewer, "health-card")
    found = _chosen(await _rounds(api), round_id)
    if found is None or found.round_id != round_id:
        raise refuse("没有找到这次党性体检。", 404)
    mine = await api.get(HealthCards, f"/v1/health-cards/rounds/{round_id}/cards",
                         {"member_id": viewer.subject, "limit": 1})  # fmt: skip
    card = next(iter(mine.items), None)
    why = rules.fill_refused(found.closes_on, today(), card is not None,
                             card is not None and card.status == "reviewed")  # fmt: skip
    if why:
        raise refuse(why, 403 if card is None else 409)
    if len(answers) != len(found.questions) or not all(a.strip() for a in answers):
        raise refuse("请逐题填写保健卡，每一题都要回答。")
    filled = validated(ev.HealthCardFilled, {"answers": "回答"}, round_id=round_id,
                       member_id=viewer.subject, answers=[a.strip() for a in answers])  # fmt: skip
    await published(request, [actions.dashboard_event(filled, f"health-card-{nonce}", viewer)],
                    "这份保健卡已经提交过，没有重复提交。")  # fmt: skip
    return RedirectResponse(f"/me/health-card?filled={round_id}", 303)


# --- 党性体检: the secretary's review and the office's round ----------------------------------


@router.get("/branch/health-cards")
async def branch_health_cards(
    request: Request, viewer: Reviewer, api: ViewerApi, forms: Tokens, round_id: str = "",
    status: str = "",
) -> Response:  # fmt: skip
    """保健卡审阅: the cards of the round of the members the viewer sees (a secretary their
    branch's, the office every branch's), figures by branch, a comment form per filled card."""
    rounds = await _rounds(api)
    chosen = _chosen(rounds, round_id)
    cards = None
    if chosen is not None:
        cards = await api.get(
            HealthCards, f"/v1/health-cards/rounds/{chosen.round_id}/cards",
            {"limit": 500, "status": status if status in CARD_STATES else None},
        )  # fmt: skip
    return page(
        request, "branch_health_cards.html", title="保健卡审阅", rounds=rounds, chosen=chosen,
        cards=cards, states=CARD_STATES, chosen_status=status, names=await api.directory(),
        viewer_id=viewer.subject, form_token=forms.issue(viewer, "health-card-review"),
        office=viewer.role == "admin",
    )  # fmt: skip


@router.post("/branch/health-cards/{round_id}/{member_id}/review")
async def review_health_card(
    request: Request,
    round_id: str,
    member_id: str,
    viewer: Reviewer,
    api: ViewerApi,
    comment: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The secretary (or the office) has read the card: healthcard.reviewed with a comment."""
    nonce = checked_form(request, csrf, form_token, viewer, "health-card-review")
    cards = await api.get(HealthCards, f"/v1/health-cards/rounds/{round_id}/cards",
                          {"member_id": member_id, "limit": 1})  # fmt: skip
    card = next(iter(cards.items), None)
    names = await api.directory()
    own = names.members.get(viewer.subject)
    reviewer = rules.Reviewer(viewer.subject, viewer.role,
                              names.departments[own.department_id].branch_id
                              if own and own.department_id in names.departments else None)  # fmt: skip
    why = rules.review_refused(reviewer, member_id, card.branch_id if card else None,
                               card is not None and card.status != "not_filled",
                               card is not None and card.status == "reviewed")  # fmt: skip
    if why:
        raise refuse(why, 403 if card is None or member_id == viewer.subject else 409)
    review = validated(ev.HealthCardReviewed, {"comment": "审阅意见"}, round_id=round_id,
                       member_id=member_id, reviewer_id=viewer.subject, comment=comment)  # fmt: skip
    await published(request, [actions.dashboard_event(review, f"review-{nonce}", viewer)],
                    "这份审阅意见已经提交过，没有重复提交。")  # fmt: skip
    return RedirectResponse(f"/branch/health-cards?round_id={round_id}&reviewed={member_id}", 303)


@router.get("/office/health-cards")
async def office_health_cards(
    request: Request, viewer: Admin, api: ViewerApi, forms: Tokens
) -> Response:
    """党性体检 for the office: open a round; each round's figures by branch."""
    rounds = await _rounds(api)
    figures = {
        r.round_id: await api.get(HealthCards, f"/v1/health-cards/rounds/{r.round_id}/cards",
                                  {"limit": 1})
        for r in rounds
    }  # fmt: skip
    return page(
        request, "office_health_cards.html", title="党性体检", rounds=rounds, figures=figures,
        names=await api.directory(), questions="\n".join(rules.DEFAULT_QUESTIONS),
        today=today(), form_token=forms.issue(viewer, "health-card-round"),
    )  # fmt: skip


@router.post("/office/health-cards")
async def open_round(
    request: Request,
    viewer: Admin,
    title: Annotated[str, Form()] = "",
    questions: Annotated[str, Form()] = "",
    closes_on: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The office opens a round of 党性体检: healthcard.round.opened."""
    nonce = checked_form(request, csrf, form_token, viewer, "health-card-round")
    day = parse_day(closes_on, "截止日期")
    if day < today():
        raise refuse("截止日期不能早于今天。")
    asked = [line.strip() for line in questions.splitlines() if line.strip()]
    opened = validated(ev.HealthCardRoundOpened, {"title": "名称", "questions": "题目"},
                       round_id=f"health-card-{nonce}", title=title, questions=asked,
                       closes_on=day)  # fmt: skip
    await published(request, [actions.dashboard_event(opened, opened.round_id, viewer)],
                    "这次党性体检已经发起过，没有重复发起。")  # fmt: skip
    return RedirectResponse(f"/office/health-cards?opened={opened.round_id}", 303)


@router.get("/export/health-cards-{round_id}.{fmt}")
async def export_health_cards(
    viewer: Reviewer, api: ViewerApi, round_id: str, fmt: Format
) -> Response:
    """The cards of a round by branch, as /branch/health-cards shows them."""
    cards = await api.find(HealthCards, f"/v1/health-cards/rounds/{round_id}/cards",
                           {"limit": 500})  # fmt: skip
    if cards is None:
        raise PageError(404, "没有找到这次党性体检。")
    names = await api.directory()
    header = ["支部", "姓名", "科室", "状态", "填写时间", "审阅人", "审阅意见"]
    rows = [[names.branch(c.branch_id), names.member(c.member_id),
             names.department_of(c.member_id), CARD_STATES[c.status],
             c.filled_at.date().isoformat() if c.filled_at else "", names.member(c.reviewer_id)
             if c.reviewer_id else "", c.comment or ""] for c in cards.items]  # fmt: skip
    return _table(f"{cards.round.title} 保健卡", header, rows, f"health-cards-{round_id}", fmt)


# --- 支部结对共建 ---------------------------------------------------------------------------------


async def _pairings(api: Api, year: int | None) -> tuple[Pairings, PairingActivities]:
    params = {"year": year} if year else {}
    found = await api.get(Pairings, "/v1/pairings", params)
    held = await api.get(PairingActivities, "/v1/pairings/activities",
                         {"year": found.year, "limit": 500})  # fmt: skip
    return found, held


@router.get("/office/pairings")
async def office_pairings(
    request: Request, viewer: Admin, api: ViewerApi, forms: Tokens, year: int | None = None
) -> Response:
    """支部结对共建 for the office: pair a branch; every pairing with its activities of the year,
    and the party-group members' liaison beside them."""
    found, held = await _pairings(api, year)
    return page(
        request, "pairings.html", title="支部结对共建", pairings=found, activities=held,
        kinds=PARTNER_KINDS, names=await api.directory(), office=True, today=today(),
        form_token=forms.issue(viewer, "pairing"), members=[],
    )  # fmt: skip


@router.post("/office/pairings")
async def pair_branch(
    request: Request,
    viewer: Admin,
    api: ViewerApi,
    branch_id: Annotated[str, Form()] = "",
    partner: Annotated[str, Form()] = "",
    partner_kind: Annotated[str, Form()] = "",
    since: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The office pairs a branch with an outside organisation: branch.paired."""
    nonce = checked_form(request, csrf, form_token, viewer, "pairing")
    if branch_id not in (await api.directory()).branches:
        raise refuse("请选择结对的机关支部。")
    if partner_kind not in PARTNER_KINDS:
        raise refuse("请选择结对单位的类型：村（社区）党支部、社区或企业。")
    paired = validated(ev.BranchPaired, {"partner": "结对单位"}, pairing_id=f"pairing-{nonce}",
                       branch_id=branch_id, partner=partner, partner_kind=partner_kind,
                       since=parse_day(since, "结对日期"))  # fmt: skip
    await published(request, [actions.dashboard_event(paired, paired.pairing_id, viewer)],
                    "这项结对已经登记过，没有重复登记。")  # fmt: skip
    return RedirectResponse("/office/pairings?paired=" + paired.pairing_id, 303)


@router.get("/branch/pairings")
async def branch_pairings(
    request: Request, viewer: Reviewer, api: ViewerApi, forms: Tokens, year: int | None = None
) -> Response:
    """支部结对共建 of the secretary's branch: its partners, the activities held together this
    year, the form to record one, and the liaison of the party-group members."""
    found, held = await _pairings(api, year)
    names = await api.directory()
    return page(
        request, "pairings.html", title="支部结对共建", pairings=found, activities=held,
        kinds=PARTNER_KINDS, names=names, office=viewer.role == "admin", today=today(),
        form_token=forms.issue(viewer, "pairing-activity"),
        members=[viewer.subject, *branch_members(names, viewer)],
    )  # fmt: skip


@router.post("/branch/pairings/activities")
async def record_pairing_activity(
    request: Request,
    viewer: Reviewer,
    api: ViewerApi,
    pairing_id: Annotated[str, Form()] = "",
    held_on: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    participants: Annotated[list[str] | None, Form()] = None,
    notes: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The secretary records an activity held with the partner: pairing.activity.held."""
    nonce = checked_form(request, csrf, form_token, viewer, "pairing-activity")
    found = await api.get(Pairings, "/v1/pairings")
    if pairing_id not in {p.pairing_id for p in found.items}:
        raise refuse("请选择本支部的结对单位。", 403)
    day = parse_day(held_on, "活动日期")
    if day > today():
        raise refuse("活动日期不能晚于今天。")
    held = validated(ev.PairingActivityHeld, {"title": "活动名称", "participants": "参加党员",
                                               "notes": "活动情况"},
                     activity_id=f"pairing-activity-{nonce}", pairing_id=pairing_id, held_on=day,
                     title=title, participants=participants or [],
                     notes=notes.strip() or None)  # fmt: skip
    await published(request, [actions.dashboard_event(held, held.activity_id, viewer)],
                    "这次活动已经登记过，没有重复登记。")  # fmt: skip
    return RedirectResponse("/branch/pairings?recorded=" + held.activity_id, 303)


@router.get("/export/pairing-activities-{year}.{fmt}")
async def export_pairing_activities(
    viewer: Reviewer, api: ViewerApi, year: int, fmt: Format
) -> Response:
    """The activities held with the partners in a year."""
    _, held = await _pairings(api, year)
    names = await api.directory()
    header = ["日期", "支部", "结对单位", "活动", "参加党员", "人数", "活动情况"]
    rows = [[a.held_on.isoformat(), names.branch(a.branch_id), a.partner, a.title,
             "、".join(names.member(m) for m in a.participants), len(a.participants),
             a.notes or ""] for a in held.items]  # fmt: skip
    return _table(f"{year}年支部结对共建活动", header, rows, f"pairing-activities-{year}", fmt)


# --- 在职党员进社区 -------------------------------------------------------------------------------


@router.get("/me/community")
async def my_community(request: Request, viewer: AnyViewer, api: ViewerApi) -> Response:
    """The member's 报到 to their residential community and their person-times there."""
    found = await api.get(CommunityReports, "/v1/community/reports")
    mine = next((m for m in found.members if m.member_id == viewer.subject), None)
    return page(request, "my_community.html", title="在职党员进社区", found=found, mine=mine)


@router.get("/branch/community")
async def branch_community(request: Request, viewer: Reviewer, api: ViewerApi,
                           year: int | None = None) -> Response:  # fmt: skip
    """在职党员进社区 of the branch (the office: every branch): who has reported to their
    community, where and when, and their person-times there this year."""
    found = await api.get(CommunityReports, "/v1/community/reports",
                          {"year": year} if year else {})  # fmt: skip
    return page(request, "community.html", title="在职党员进社区", found=found,
                names=await api.directory(), office=viewer.role == "admin")  # fmt: skip


@router.get("/export/community-{year}.{fmt}")
async def export_community(viewer: Reviewer, api: ViewerApi, year: int, fmt: Format) -> Response:
    """The members who reported to their community, with their person-times in the year."""
    found = await api.get(CommunityReports, "/v1/community/reports", {"year": year})
    names = await api.directory()
    header = ["支部", "姓名", "科室", "报到社区", "报到日期", f"{year}年社区活动（人次）"]
    rows = [[names.branch(m.branch_id), names.member(m.member_id),
             names.department_of(m.member_id), m.community, m.reported_on.isoformat(),
             m.activities] for m in found.members]  # fmt: skip
    return _table(f"{year}年在职党员进社区报到", header, rows, f"community-{year}", fmt)
