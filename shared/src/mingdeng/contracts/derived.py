"""Messages the services derive from the event log, for the projector, the notifier and the stream.

Values on the derived topics are JSON of these models; the key of each is its `key` property.
Indices are published exact (`index_exact`) and rounded to 2 decimals. The rank of every subject
is the position of its id in its quarter's ranking (`RankingChunk`s); which events fed a value is
told by each event's `EventStatus.counts_for`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mingdeng.contracts.text import shown, shown_bytes

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


class RankingSizes(_Message):
    """How many subjects each level of a quarter's ranking holds."""

    member: int
    department: int
    branch: int


# Ids of one chunk of a ranking, as JSON: a ranking of any size is published in chunks of
# at most this, so that no message grows with the organisation (a 100,000-member quarter is
# about ten chunks; one message would pass Kafka's 1 MiB limit near 85,000 members).
RANKING_CHUNK_BYTES = 128 * 1024


class RankingChunk(_Message):
    """A run of a quarter's ranking at one level: `ids` hold ranks `first_rank`,
    `first_rank + 1`, … in order (computed on unrounded values). The quarter's selection says
    how many the ranking holds (`ranked`): a chunk beyond it is stale."""

    quarter: str
    level: Level
    chunk: int
    first_rank: int
    ids: list[str]
    status: Status

    @property
    def key(self) -> str:
        return f"{self.quarter}/{self.level}/{self.chunk}"


def ranking_chunks(
    quarter: str, level: Level, ids: Sequence[str], status: Status
) -> list[RankingChunk]:
    """`ids` in rank order cut into chunks of at most `RANKING_CHUNK_BYTES` (an id takes its
    length and 3 more: quotes and a comma)."""
    chunks: list[RankingChunk] = []
    start, size = 0, 0
    for end, member_id in enumerate(ids):
        taken = len(member_id.encode()) + 3
        if size + taken > RANKING_CHUNK_BYTES and end > start:
            chunks.append(
                RankingChunk(
                    quarter=quarter, level=level, chunk=len(chunks), first_rank=start + 1,
                    ids=list(ids[start:end]), status=status,
                )
            )  # fmt: skip
            start, size = end, 0
        size += taken
    if start < len(ids):
        chunks.append(
            RankingChunk(
                quarter=quarter, level=level, chunk=len(chunks), first_rank=start + 1,
                ids=list(ids[start:]), status=status,
            )
        )  # fmt: skip
    return chunks


class QuarterSelection(_Message):
    """A quarter's exemplars and excellent departments; its ranking, in rank order, comes in
    `RankingChunk`s on the rankings topic, `ranked` saying how many each level holds."""

    kind: Literal["quarter"] = "quarter"
    quarter: str
    status: Status
    rules_version: str
    exemplars: list[SelectedMember]
    excellent_departments: list[SelectedDepartment]
    ranked: RankingSizes

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
    """One Kafka header of a record, exactly (`value_base64`) and, when it is short UTF-8 text,
    as text. A name that is not UTF-8 is shown with its bad bytes escaped (`\\udcff` for 0xff,
    as the consumer reads it)."""

    key: str
    value_base64: str
    text: str | None = None

    @classmethod
    def of(cls, key: str, value: bytes) -> RecordHeader:
        text: str | None = None
        if len(value) <= HEADER_TEXT_BYTES:
            try:
                text = shown(value.decode(), HEADER_TEXT_BYTES)
            except UnicodeDecodeError:
                text = None
        return cls(
            key=shown(key, HEADER_KEY_CHARS),
            value_base64=base64.b64encode(value).decode(),
            text=text,
        )

    @property
    def value(self) -> bytes:
        return base64.b64decode(self.value_base64)


# What a dead letter keeps of its record, so that any record the broker accepts (up to 1 MiB,
# headers included) makes a letter that fits the producer's limit (1 MiB) by construction.
DEAD_LETTER_MAX_BYTES = 768 * 1024  # a letter's JSON, all parts below at their largest
EXACT_VALUE_BYTES = 256 * 1024  # the value kept exactly: any larger is never a valid event
PREVIEW_CHARS = 16 * 1024  # of the value as text, for reading
REFERENCE_PREVIEW_CHARS = 256
KEY_CHARS = 1024
HEADERS_JSON_BYTES = 128 * 1024  # the headers kept, in their order, as JSON
HEADER_KEY_CHARS = 128
HEADER_TEXT_BYTES = 256


class DeadLetter(_Message):
    """A record that could not be read, with why and where it came from. Nothing is dropped:
    what does not fit in the letter (`truncated`) stays in the record at `topic`, `partition`,
    `offset`, which `value_size` and `value_sha256` identify."""

    consumer: str
    topic: str
    partition: int
    offset: int
    key: str | None
    raw: str = Field(
        description="the value as text, for reading (undecodable bytes replaced, NUL and lone "
        f"surrogates escaped), at most {PREVIEW_CHARS} characters"
    )
    raw_base64: str | None = Field(
        default=None,
        description=f"the value's bytes exactly, base64, when at most {EXACT_VALUE_BYTES} "
        "bytes: what a re-drive sends",
    )
    headers: list[RecordHeader] = Field(
        default=[],
        description="the record's headers in their order (a binary-mode CloudEvent's "
        "attributes): what a re-drive sends back",
    )
    reasons: list[dict[str, str]]
    failed_at: datetime
    value_size: int | None = Field(default=None, description="bytes of the value")
    value_sha256: str | None = None
    truncated: list[Literal["key", "raw", "raw_base64", "headers"]] = Field(
        default=[], description="parts of the record this letter does not hold whole"
    )

    @classmethod
    def of_record(
        cls,
        *,
        consumer: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        reasons: list[dict[str, str]],
        failed_at: datetime,
        whole: bool = True,
    ) -> DeadLetter:
        """The letter of a record, whatever it holds, within `DEAD_LETTER_MAX_BYTES`.
        `whole=False`: a reference only (a short preview, the reasons, where the record is),
        for a topic that refused the whole letter."""
        raw = value or b""
        preview_chars = PREVIEW_CHARS if whole else REFERENCE_PREVIEW_CHARS
        truncated: list[Literal["key", "raw", "raw_base64", "headers"]] = []
        shown_key = None
        if key is not None:
            shown_key = shown_bytes(key, KEY_CHARS)
            if len(key) > KEY_CHARS:
                truncated.append("key")
        if len(raw) > preview_chars:
            truncated.append("raw")
        exact = whole and len(raw) <= EXACT_VALUE_BYTES
        if not exact:
            truncated.append("raw_base64")
        kept: list[RecordHeader] = []
        room = HEADERS_JSON_BYTES if whole else 0
        for name, header_value in headers:
            header = RecordHeader.of(name, header_value)
            room -= len(header.model_dump_json()) + 1
            if room < 0:
                truncated.append("headers")
                break
            kept.append(header)
        return cls(
            consumer=consumer,
            topic=topic,
            partition=partition,
            offset=offset,
            key=shown_key,
            raw=shown_bytes(raw, preview_chars),
            raw_base64=base64.b64encode(raw).decode() if exact else None,
            headers=kept,
            reasons=[
                {name: shown(text, MAX_REASON_CHARS) for name, text in reason.items()}
                for reason in reasons[:MAX_REASONS]
            ],
            failed_at=failed_at,
            value_size=None if value is None else len(value),
            value_sha256=hashlib.sha256(raw).hexdigest(),
            truncated=truncated,
        )


MAX_REASONS = 20
MAX_REASON_CHARS = 500


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
    """Work the platform gives a person: a talk after a violation, a commendation delivery; a
    branch's meeting not held within its rhythm (`meeting`: the secretary is to hold it, cause
    the kind, `period` the one missed), a member absent three times in a row (`absences`:
    cause the first meeting of the run)."""

    task_id: str
    kind: Literal["talk", "commendation", "meeting", "absences"]
    assignee_id: str
    member_id: str  # whom it is about (for a meeting, the secretary)
    cause: str  # the violation id, the quarter of the commendation, the meeting kind or id
    status: Literal["open", "done", "cancelled"]
    due: datetime
    created_at: datetime
    done_at: datetime | None = None
    done_by_event: EventRef | None = None
    branch_id: str | None = None  # meeting and absences tasks: the branch
    period: str | None = None  # meeting tasks: the month (2026-11) or quarter (2026Q4) missed

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


class BulletinCase(_Message):
    """One violation of the month as the office's copy of the bulletin lists it: when, who,
    their department, the rule and what was found; `retracted` if an appeal was upheld since.
    Readers see a case only where they may see the violation (SPEC §6)."""

    violation_id: str
    member_id: str
    name: str
    department: str
    rule: int
    description: str
    at: datetime
    retracted: bool


class Bulletin(_Message):
    """The monthly bulletin (督查通报): violations by rule and department, retractions, lecture
    and visit figures of one month, its text as people read it, and its cases (oldest first;
    empty in bulletins issued before cases were listed)."""

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
    cases: list[BulletinCase] = []

    @property
    def key(self) -> str:
        return self.month
