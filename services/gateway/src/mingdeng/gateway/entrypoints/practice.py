"""The report's practice (issue 24) as the API answers it: rounds of 党性体检 and the political
health cards (政治“保健卡”) of the members the viewer sees, with figures by branch; 支部结对共建
and its activities (the office and the branch's secretary); members' community 报到
(在职党员进社区), each member to themself, their branch's secretary and the office."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import TypeAdapter

from mingdeng.contracts.events import PartnerKind
from mingdeng.contracts.outreach_views import Liaison
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.gateway.adapters import practice as reads
from mingdeng.gateway.adapters import repository
from mingdeng.gateway.domain import practice as rules
from mingdeng.gateway.domain.access import Org, Principal
from mingdeng.gateway.entrypoints.answers import Answer
from mingdeng.gateway.entrypoints.deps import (
    VIEWER_PROBLEMS,
    Connection,
    Limit,
    Offset,
    Organisation,
    Viewer,
)
from mingdeng.gateway.entrypoints.problems import Problem, problems
from mingdeng.gateway.entrypoints.work import members_seen

router = APIRouter(prefix="/v1", tags=["practice"], responses=VIEWER_PROBLEMS)

CardStatus = Literal["not_filled", "filled", "reviewed"]
Year = Annotated[int | None, Query(ge=2000, le=2100, description="this year by default")]


def this_year() -> int:
    return datetime.now(BUSINESS_TZ).year


class HealthCardRound(Answer):
    round_id: str
    title: str
    questions: list[str]
    closes_on: date
    opened_at: datetime
    open: bool  # still takes cards today (Asia/Shanghai)


class HealthCardRounds(Answer):
    items: list[HealthCardRound]


class HealthCard(Answer):
    member_id: str
    branch_id: str
    status: CardStatus
    answers: list[str] | None
    filled_at: datetime | None
    reviewer_id: str | None
    comment: str | None
    reviewed_at: datetime | None


class BranchCardFigures(Answer):
    branch_id: str
    members: int  # active party members, who each owe a card
    filled: int
    reviewed: int
    not_filled: int


class HealthCards(Answer):
    round: HealthCardRound
    total: int
    by_branch: list[BranchCardFigures]  # over every member the viewer sees
    items: list[HealthCard]


class LiaisonOfBranch(Answer):
    leader_id: str
    name: str | None
    agency_branch_id: str
    village_branch: str
    liaison_visits: int  # in the current quarter


class Pairing(Answer):
    pairing_id: str
    branch_id: str
    partner: str
    partner_kind: PartnerKind
    since: date
    activities: int  # held together in the year
    person_times: int  # the agency's members who took part, summed over those activities


class Pairings(Answer):
    year: int
    items: list[Pairing]
    liaison: list[LiaisonOfBranch]  # the party-group members linked to these branches


class PairingActivity(Answer):
    activity_id: str
    pairing_id: str
    branch_id: str
    partner: str
    held_on: date
    title: str
    participants: list[str]
    notes: str | None


class PairingActivities(Answer):
    year: int
    total: int
    items: list[PairingActivity]


class CommunityMember(Answer):
    member_id: str
    branch_id: str
    community: str  # of their latest confirmed community report
    reported_on: date  # their first confirmed report to that community: the 报到
    activities: int  # confirmed community reports in the year (person-times)


class CommunityBranch(Answer):
    branch_id: str
    party_members: int
    reported: int  # members with a 报到
    activities: int  # person-times in the year


class CommunityReports(Answer):
    year: int
    reported: int
    activities: int
    by_branch: list[CommunityBranch]
    members: list[CommunityMember]


def _round(row: object) -> HealthCardRound:
    found = dict(row)  # type: ignore[call-overload]
    today = datetime.now(BUSINESS_TZ).date()
    return HealthCardRound(**found, open=rules.round_open(found["closes_on"], today))


def _status(filled: bool, reviewed: bool) -> CardStatus:
    return "reviewed" if reviewed else "filled" if filled else "not_filled"


def branches_seen(viewer: Principal, org: Org) -> list[str] | None:
    """Whose pairings the viewer sees (None: every branch's): the office all, a secretary
    their own branch's; anyone else is refused."""
    if viewer.role == "admin":
        return None
    if viewer.role == "secretary":
        branch = org.department_branch.get(org.member_department.get(viewer.subject, ""))
        return [branch] if branch is not None else []
    raise Problem(403, "Forbidden", "支部结对共建 is for the office and the branch secretaries")


@router.get("/health-cards/rounds")
async def health_card_rounds(viewer: Viewer, connection: Connection) -> HealthCardRounds:
    """The rounds of 党性体检, newest close date first, with their questions."""
    return HealthCardRounds(items=[_round(row) for row in await reads.rounds(connection)])


@router.get("/health-cards/rounds/{round_id}/cards", responses=problems(404))
async def health_cards(
    round_id: str, viewer: Viewer, org: Organisation, connection: Connection,
    branch_id: str | None = None, member_id: str | None = None,
    status: CardStatus | None = None, limit: Limit = 100, offset: Offset = 0,
) -> HealthCards:  # fmt: skip
    """The cards of a round of every active party member the viewer sees (the office all, a
    secretary their branch, anyone else their own), unfilled ones included, with the figures
    by branch."""
    found = await reads.round_of(connection, round_id)
    if found is None:
        raise Problem(404, "Not found", f"no round {round_id!r} of 党性体检")
    rows = await reads.cards(connection, round_id, members_seen(viewer, org))
    cards = [
        HealthCard(member_id=r["member_id"], branch_id=r["branch_id"],
                   status=_status(r["filled_at"] is not None, r["reviewed_at"] is not None),
                   answers=r["answers"], filled_at=r["filled_at"], reviewer_id=r["reviewer_id"],
                   comment=r["comment"], reviewed_at=r["reviewed_at"])
        for r in rows
    ]  # fmt: skip
    figures = rules.figures_by_branch(
        rules.CardState(c.member_id, c.branch_id, c.status != "not_filled", c.status == "reviewed")
        for c in cards
    )
    chosen = [c for c in cards if (branch_id is None or c.branch_id == branch_id)
              and (member_id is None or c.member_id == member_id)
              and (status is None or c.status == status)]  # fmt: skip
    return HealthCards(
        round=_round(found), total=len(chosen), items=chosen[offset : offset + limit],
        by_branch=[BranchCardFigures(branch_id=f.branch_id, members=f.members, filled=f.filled,
                                     reviewed=f.reviewed, not_filled=f.not_filled)
                   for f in figures],
    )  # fmt: skip


@router.get("/pairings")
async def pairings(
    viewer: Viewer, org: Organisation, connection: Connection, year: Year = None
) -> Pairings:
    """支部结对共建: each pairing of the branches the viewer sees (the office all, a secretary
    their own), its activities and person-times in the year, and the party-group members'
    liaison (联系点) with these branches this quarter."""
    year = year or this_year()
    branches = branches_seen(viewer, org)
    rows = await reads.pairings(connection, branches, year)
    quarter = Quarter.of(datetime.now(BUSINESS_TZ))
    view = await repository.outreach_view(connection, f"liaison/{quarter}", TypeAdapter(Liaison))
    liaison = [
        LiaisonOfBranch(leader_id=x.leader_id, name=x.name, agency_branch_id=x.agency_branch_id,
                        village_branch=x.village_branch, liaison_visits=x.liaison_visits)
        for x in (view[0].leaders if view else [])
        if branches is None or x.agency_branch_id in branches
    ]  # fmt: skip
    return Pairings(year=year, items=[Pairing.model_validate(dict(r)) for r in rows],
                    liaison=liaison)  # fmt: skip


@router.get("/pairings/activities")
async def pairing_activities(
    viewer: Viewer, org: Organisation, connection: Connection, year: Year = None,
    limit: Limit = 100, offset: Offset = 0,
) -> PairingActivities:  # fmt: skip
    """The activities held with the partners of the branches the viewer sees, newest first."""
    year = year or this_year()
    total, rows = await reads.pairing_activities(
        connection, branches_seen(viewer, org), year, limit, offset
    )
    return PairingActivities(year=year, total=total,
                             items=[PairingActivity.model_validate(dict(r)) for r in rows])  # fmt: skip


@router.get("/community/reports")
async def community_reports(
    viewer: Viewer, org: Organisation, connection: Connection, year: Year = None
) -> CommunityReports:
    """在职党员进社区: each member's 报到 to their residential community and their person-times
    there in the year, from their confirmed community reports, with figures by branch; the
    office sees everyone, a secretary their branch, anyone else themself."""
    year = year or this_year()
    among = members_seen(viewer, org)
    rows = [CommunityMember.model_validate(dict(r))
            for r in await reads.community(connection, among, year)]  # fmt: skip
    members = await reads.party_members_by_branch(connection, among)
    by_branch = [
        CommunityBranch(
            branch_id=branch, party_members=members.get(branch, 0),
            reported=sum(1 for r in rows if r.branch_id == branch),
            activities=sum(r.activities for r in rows if r.branch_id == branch),
        )
        for branch in sorted(set(members) | {r.branch_id for r in rows})
    ]  # fmt: skip
    return CommunityReports(year=year, reported=len(rows),
                            activities=sum(r.activities for r in rows), by_branch=by_branch,
                            members=rows)  # fmt: skip
