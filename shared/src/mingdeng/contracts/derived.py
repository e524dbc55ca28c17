"""Messages the services derive from the event log, for the projector, the notifier and the stream.

Values on the derived topics are JSON of these models; the key of each is its `key` property.
Indices are published exact (`index_exact`) and rounded to 2 decimals. The rank of every subject
is the position of its id in its quarter's `QuarterSelection.ranking`; which events fed a value is
told by each event's `EventStatus.counts_for`.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["provisional", "final"]
Level = Literal["member", "department", "branch"]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


class EventRef(_Message):
    source: str
    id: str


class IndexScore(_Message):
    """The Vanguard (member) or Fortress (department, branch) Index of one subject in a quarter."""

    kind: Literal["score"] = "score"
    quarter: str
    level: Level
    id: str
    name: str
    department_id: str | None = None
    branch_id: str | None = None
    party_member: bool | None = None
    index: float
    index_exact: float
    components: dict[str, float]
    details: dict[str, float | int | list[str]]
    status: Status
    rules_version: str

    @property
    def key(self) -> str:
        return f"{self.quarter}/{self.level}/{self.id}"


class SelectedMember(_Message):
    rank: int
    member_id: str
    name: str
    department_id: str
    index: float


class SelectedDepartment(_Message):
    rank: int
    department_id: str
    name: str
    index: float


class Ranking(_Message):
    """Ids in rank order (rank 1 first), computed on unrounded values."""

    member: list[str]
    department: list[str]
    branch: list[str]


class QuarterSelection(_Message):
    kind: Literal["quarter"] = "quarter"
    quarter: str
    status: Status
    rules_version: str
    exemplars: list[SelectedMember]
    excellent_departments: list[SelectedDepartment]
    ranking: Ranking

    @property
    def key(self) -> str:
        return self.quarter


class TopTenMember(_Message):
    rank: int
    member_id: str
    name: str
    department_id: str
    mean_index: float
    quarters: dict[str, float]


class YearTopTen(_Message):
    kind: Literal["year"] = "year"
    year: int
    status: Status
    rules_version: str
    members: list[TopTenMember]

    @property
    def key(self) -> str:
        return str(self.year)


Selection = Annotated[QuarterSelection | YearTopTen, Field(discriminator="kind")]


class Contribution(_Message):
    """An event feeds this component of this subject's index in this quarter."""

    quarter: str
    level: Literal["member", "department"]
    id: str
    component: str


class EventStatus(_Message):
    """What became of an inbound event: applied (maybe as late, or a duplicate) or rejected.
    A late event's `reasons` say why it is late."""

    source: str
    id: str
    type: str | None
    status: Literal["applied", "rejected"]
    detail: Literal["new", "duplicate", "late"] | None = None
    reasons: list[dict[str, str]] = Field(default_factory=list)
    late_for: str | None = None
    counts_for: list[Contribution] = Field(default_factory=list)
    supersedes: list[EventRef] = Field(
        default_factory=list, description="events that no longer feed what this one feeds"
    )
    at: datetime

    @property
    def key(self) -> str:
        return f"{self.source} {self.id}"


class RecordHeader(_Message):
    """One Kafka header of a record, exactly (`value_base64`) and, when it is UTF-8, as text."""

    key: str
    value_base64: str
    text: str | None = None

    @classmethod
    def of(cls, key: str, value: bytes) -> RecordHeader:
        try:
            text: str | None = value.decode()
        except UnicodeDecodeError:
            text = None
        return cls(key=key, value_base64=base64.b64encode(value).decode(), text=text)

    @property
    def value(self) -> bytes:
        return base64.b64decode(self.value_base64)


class DeadLetter(_Message):
    """A record that could not be read, with why and where it came from. Nothing is dropped."""

    consumer: str
    topic: str
    partition: int
    offset: int
    key: str | None
    raw: str = Field(description="the record as text, for reading (undecodable bytes replaced)")
    raw_base64: str | None = Field(
        default=None, description="the record's bytes exactly, base64: what a re-drive sends"
    )
    headers: list[RecordHeader] = Field(
        default=[],
        description="the record's headers in their order (a binary-mode CloudEvent's "
        "attributes): what a re-drive sends back",
    )
    reasons: list[dict[str, str]]
    failed_at: datetime


class ReminderRequest(_Message):
    """A reminder another service asks the notifier to send. The notifier sends at most one
    message per (rule, recipient_id, cause). `login_code`: the gateway's one-time login code
    (details `code`), sent at once, never after `requested_at` + 5 minutes, and masked in the
    notification records."""

    rule: Literal["household_visit_overdue", "login_code"]
    recipient_id: str
    cause: str
    details: dict[str, Any]
    requested_at: datetime

    @property
    def key(self) -> str:
        return self.recipient_id


class Task(_Message):
    """Work the platform gives a person: a talk after a violation, a commendation delivery."""

    task_id: str
    kind: Literal["talk", "commendation"]
    assignee_id: str
    member_id: str  # whom it is about
    cause: str  # the violation id, or the quarter of the commendation
    status: Literal["open", "done", "cancelled"]
    due: datetime
    created_at: datetime
    done_at: datetime | None = None
    done_by_event: EventRef | None = None

    @property
    def key(self) -> str:
        return self.task_id


class Notification(_Message):
    """One outgoing message and what became of it. `phone` is masked."""

    key: str  # rule/recipient/cause: at most one message each
    rule: str
    recipient_id: str
    cause: str
    phone: str | None
    text: str
    status: Literal["queued", "sending", "sent", "failed", "suppressed"]
    reason: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    attempts: int = 0
    created_at: datetime
    updated_at: datetime


class Bulletin(_Message):
    """The monthly bulletin (督查通报): violations by rule and department, retractions, lecture
    and visit figures of one month, and its text as people read it."""

    month: str
    issued_at: datetime
    violations_by_rule: dict[str, int]
    violations_by_department: dict[str, int]
    violations: int
    retractions: int
    lectures: int
    attendances: int
    household_visits: int
    community_visits: int
    text: str

    @property
    def key(self) -> str:
        return self.month
