"""The read models of outreach, one model each: outreach builds them, publishes them on
`mingdeng.outreach.v1` (an `OutreachView` each), and the gateway reads them as these models.

No view grows with the organisation without a bound: what has a line per member, pairing or
household (a member's coverage, an overdue pairing, a household to pair again) is a view of its
own, keyed by what it is of, and `null` when it has nothing to show any more."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, TypeAdapter, model_validator

from mingdeng.contracts.derived import _Message


class MemberCoverage(_Message):
    member_id: str
    name: str
    department_id: str
    branch_id: str | None
    pairings: int
    visited: int
    rate: float | None


class DepartmentCoverage(_Message):
    department_id: str
    pairings: int
    visited: int
    rate: float | None


class BranchCoverage(_Message):
    branch_id: str
    pairings: int
    visited: int
    rate: float | None


class Coverage(_Message):
    """Pairings in force at the end of the period (or `as_of` now, while it runs) and how many
    of them the paired member visited during the period; `rate` is None without pairings. Each
    member's line is a `coverage_member` view of its own."""

    period: str
    as_of: datetime
    pairings: int
    visited: int
    rate: float | None
    by_department: list[DepartmentCoverage]
    by_branch: list[BranchCoverage]


class OverduePairing(_Message):
    """A pairing whose member has not visited the household for 60 days (or since pairing)."""

    household_id: str
    member_id: str
    department_id: str
    branch_id: str | None
    paired_at: datetime
    last_visit_at: datetime | None
    days_without_visit: int


class UnpairedHousehold(_Message):
    """A registered household without a pairing in force, to pair again."""

    household_id: str
    village: str
    reason: Literal["never paired", "unpaired", "member left"]
    since: datetime | None
    previous_member_id: str | None


class LeaderLiaison(_Message):
    leader_id: str
    name: str | None
    agency_branch_id: str
    village_branch: str
    liaison_visits: int
    flagged: bool  # no liaison visit in the quarter (so far, while it runs)


class Liaison(_Message):
    quarter: str
    quarter_over: bool
    leaders: list[LeaderLiaison]


class TalksByCategory(_Message):
    youth: int
    leadership: int
    member: int


class Talks(_Message):
    period: str
    total: int
    by_category: TalksByCategory


class DepartmentSuggestions(_Message):
    department_id: str
    submitted: int
    adopted: int


class TopicSuggestions(_Message):
    topic: str
    submitted: int
    adopted: int


class Suggestions(_Message):
    submitted: int
    adopted: int
    workplans: int = Field(description="work plans drawn up from adopted suggestions")
    by_department: list[DepartmentSuggestions]
    by_topic: list[TopicSuggestions]


class Community(_Message):
    """Members reporting to their residential community, and volunteering, in person-times."""

    period: str
    community_reports: int
    members_reported: int
    volunteer_person_times: int
    volunteer_members: int
    volunteer_hours: float


class PairedHousehold(_Message):
    household_id: str
    village: str
    head_name: str
    phone: str | None
    address: str | None
    paired_at: datetime
    last_visit_at: datetime | None


class PairingChange(_Message):
    household_id: str
    at: datetime
    paired: bool


class MemberHouseholds(_Message):
    """A member's households in force (personal data) and pairing history."""

    member_id: str
    households: list[PairedHousehold]
    history: list[PairingChange]


ViewName = Literal[
    "coverage",
    "coverage_member",
    "overdue_pairing",
    "unpaired_household",
    "liaison",
    "talks",
    "suggestions",
    "community",
    "households",
]
LINE_VIEWS: tuple[ViewName, ...] = ("coverage_member", "overdue_pairing", "unpaired_household")
ViewBody = (
    Coverage
    | MemberCoverage
    | OverduePairing
    | UnpairedHousehold
    | Liaison
    | Talks
    | Suggestions
    | Community
    | MemberHouseholds
)
BODY_OF_VIEW: dict[str, TypeAdapter[Any]] = {
    "coverage": TypeAdapter(Coverage),
    "coverage_member": TypeAdapter(MemberCoverage | None),
    "overdue_pairing": TypeAdapter(OverduePairing | None),
    "unpaired_household": TypeAdapter(UnpairedHousehold | None),
    "liaison": TypeAdapter(Liaison),
    "talks": TypeAdapter(Talks),
    "suggestions": TypeAdapter(Suggestions),
    "community": TypeAdapter(Community),
    "households": TypeAdapter(MemberHouseholds),
}


class OutreachView(_Message):
    """One read model of outreach, recomputed and republished whole when it changes; `body` is
    the model its `view` names, `null` for a line (`coverage_member`, `overdue_pairing`,
    `unpaired_household`) with nothing to show any more. `member_id` is set on views about one
    member, `period` on views of a period."""

    view: ViewName
    key: str
    member_id: str | None = None
    period: str | None = None
    body: ViewBody | None
    computed_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _body_of_its_view(cls, value: Any) -> Any:
        """The body is read as the model its view names, not as whichever member of the union
        takes it (an empty list would do for either list)."""
        if isinstance(value, dict) and value.get("view") in BODY_OF_VIEW:
            value = {
                **value,
                "body": BODY_OF_VIEW[value["view"]].validate_python(value.get("body")),
            }
        return value

    def body_json(self) -> str:
        return BODY_OF_VIEW[self.view].dump_json(self.body).decode()
