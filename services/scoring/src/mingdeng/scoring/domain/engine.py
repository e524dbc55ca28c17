"""The scoring engine: takes events one at a time, in any order, and keeps every open quarter's
standings up to date incrementally. An event marks only what it touches (a member, a department,
a branch; a lecture delivery marks its whole quarter, since every study rate depends on it);
`flush` recomputes exactly that and reports what changed. Closing a quarter freezes its
standings and drops its activity; later events for it are kept as late."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Any, Literal

from sortedcontainers import SortedList

from mingdeng.contracts import events as ev
from mingdeng.contracts.closing import early_close_reason
from mingdeng.contracts.envelope import Event, EventKey
from mingdeng.contracts.events import INDEX_KPI_SUBJECT, EventData
from mingdeng.contracts.periods import Quarter, quarters_of_year
from mingdeng.contracts.registry import REGISTRY_EVENTS, Stamp
from mingdeng.scoring.domain.facts import (
    Delivery,
    Facts,
    HouseholdVisit,
    Kpi,
    Violation,
)
from mingdeng.scoring.domain.indices import (
    FortressScore,
    VanguardScore,
    fortress_of_branch,
    fortress_of_department,
    vanguard,
)
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.domain.standings import (
    QuarterStandings,
    TopTen,
    TopTenEntry,
    compute_top_ten,
    department_order,
    select_exemplars,
    top_ten_place,
    vanguard_order,
)

OutcomeStatus = Literal["applied", "duplicate", "late", "rejected"]


@dataclass(frozen=True)
class Contribution:
    """An event feeds this component of this subject's index in this quarter."""

    quarter: Quarter
    level: Literal["member", "department"]
    subject_id: str
    component: str


@dataclass(frozen=True)
class Outcome:
    status: OutcomeStatus
    reason: str | None = None
    late_for: Quarter | None = None
    closed: Quarter | None = None
    counts_for: tuple[Contribution, ...] = ()
    supersedes: tuple[EventKey, ...] = ()  # events that no longer feed what this one feeds


@dataclass
class QuarterChanges:
    members: set[str] = field(default_factory=set)
    departments: set[str] = field(default_factory=set)
    branches: set[str] = field(default_factory=set)


@dataclass
class Changes:
    """What a flush changed: subjects by quarter, and the years whose top ten may have moved."""

    quarters: dict[Quarter, QuarterChanges] = field(default_factory=dict)
    years: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.quarters or self.years)


@dataclass
class Board:
    """The live standings of one open quarter."""

    quarter: Quarter
    members: dict[str, VanguardScore] = field(default_factory=dict)
    order: SortedList = field(default_factory=SortedList)  # vanguard_order keys
    in_department: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    departments: dict[str, FortressScore] = field(default_factory=dict)
    branches: dict[str, FortressScore] = field(default_factory=dict)
    all_stale: bool = True
    stale_members: set[str] = field(default_factory=set)
    stale_departments: set[str] = field(default_factory=set)
    stale_branches: set[str] = field(default_factory=set)
    _standings: QuarterStandings | None = None

    @property
    def stale(self) -> bool:
        return bool(
            self.all_stale or self.stale_members or self.stale_departments or self.stale_branches
        )

    def standings(self, rules: Rules) -> QuarterStandings:
        if self._standings is None:
            ranked = tuple(self.members[key[-1]] for key in self.order)
            departments = tuple(sorted(self.departments.values(), key=department_order))
            self._standings = QuarterStandings(
                quarter=self.quarter,
                status="provisional",
                rules_version=rules.version,
                members=ranked,
                departments=departments,
                branches=tuple(sorted(self.branches.values(), key=department_order)),
                exemplars=select_exemplars(ranked, rules),
                excellent_departments=tuple(
                    d.id for d in departments[: rules.selections.excellent_departments]
                ),
            )
        return self._standings


@dataclass
class YearBoard:
    """The live top ten of an open year: every candidate's place, kept in order. The
    candidates are the members of the year's latest quarter with activity (`last`)."""

    year: int
    last: Quarter | None = None
    entries: dict[str, TopTenEntry] = field(default_factory=dict)
    places: dict[str, tuple[float, int, int, str]] = field(default_factory=dict)
    order: SortedList = field(default_factory=SortedList)  # top_ten_place keys
    all_stale: bool = True
    stale_members: set[str] = field(default_factory=set)


def _digest(ref: EventKey) -> int:
    """A stable 64-bit digest of an idempotency key (small to keep, fast to checkpoint)."""
    return int.from_bytes(blake2b(f"{ref[0]}\0{ref[1]}".encode(), digest_size=8).digest())


class ScoringEngine:
    """`keep_closed_years`: keep the final standings of every closed quarter in memory (for
    simulations); by default those of a year whose top ten is final are dropped, since they
    are published and nothing here reads them again."""

    def __init__(self, rules: Rules, *, keep_closed_years: bool = False) -> None:
        self.rules = rules
        self.facts = Facts()
        self.boards: dict[Quarter, Board] = {}
        self.closed: set[Quarter] = set()
        self.finals: dict[Quarter, QuarterStandings] = {}
        self.final_top_ten: dict[int, TopTen] = {}
        # finals computed under earlier rules, taken as they are when their close is replayed
        self.frozen: dict[Quarter, QuarterStandings] = {}
        self.frozen_top_ten: dict[int, TopTen] = {}
        self.years: dict[int, YearBoard] = {}  # open years whose top ten was asked for
        self.keep_closed_years = keep_closed_years
        # idempotency keys (digests) of the events of open quarters, by the quarter of their time
        self.seen: dict[Quarter, set[int]] = defaultdict(set)
        self.running_since: datetime | None = None  # the time of the first record taken in
        # the agency's newest registration by stamp, and the rules version it names (None: the
        # 机关工委's); which Rules that is, the service decides (`adopt`)
        self.registration: tuple[Stamp, str | None] | None = None
        self._changes = Changes()  # since the last flush

    # --- taking events in ---------------------------------------------------------------

    def apply(self, event: Event[EventData]) -> Outcome:
        # in UTC: the same instant, and one shared tzinfo instead of one per offset seen
        data, stamp = event.data, Stamp(event.time.astimezone(UTC), event.source, event.id)
        if isinstance(data, ev.QuarterClosed):
            return self.close(Quarter.parse(data.quarter), event.time, early_close_reason(event))
        time_quarter = Quarter.of(event.time)
        if time_quarter not in self.closed:
            key = _digest(event.key)
            if key in self.seen[time_quarter]:
                return Outcome("duplicate")
            self.seen[time_quarter].add(key)
        if isinstance(data, REGISTRY_EVENTS):
            self._record(data, stamp)
            self._mark_master_data(data)
            if time_quarter in self.closed:
                return Outcome(
                    "late",
                    late_for=time_quarter,
                    reason=f"{time_quarter} was closed before this event was read: its final"
                    " standings stay as they are; the event counts for the open quarters",
                )
            return Outcome("applied")
        quarter = self._quarter_of(data, stamp)
        if quarter is None:  # no index reads it, or a retraction before its violation
            self._record(data, stamp)
            return Outcome("applied")
        if quarter in self.closed:
            return Outcome(
                "late",
                late_for=quarter,
                reason=f"{quarter} was closed before this event was read: it is kept and"
                " listed, not applied to the final standings",
            )
        replaced = self._record(data, stamp)
        contributions = self._mark_activity(data, quarter)
        if replaced == stamp:  # an older KPI report than the one that counts
            return Outcome("applied")
        return Outcome(
            "applied",
            counts_for=contributions,
            supersedes=(replaced.key,) if replaced is not None else (),
        )

    def close(self, quarter: Quarter, at: datetime, early_reason: str | None = None) -> Outcome:
        """Final standings of `quarter` as they stand; before its end only with the reason
        of an early close (contracts.closing)."""
        if quarter in self.closed:
            return Outcome("applied", reason=f"{quarter} was already closed")
        if at < quarter.end and early_reason is None:
            return Outcome(
                "rejected",
                reason=f"{quarter} has not ended yet; it can be closed from {quarter.end.date()}"
                " (or earlier with the extension attribute earlyclose giving the reason)",
            )
        board = self._board(quarter)
        final = self.frozen.pop(quarter, None)
        if final is None:
            self._refresh(board)
            final = board.standings(self.rules).finalised()
        self.finals[quarter] = final
        self.closed.add(quarter)
        del self.boards[quarter]
        self._changes.quarters.pop(quarter, None)  # published whole, as final
        self._changes.years.add(quarter.year)
        self.facts.forget_quarter(quarter)
        self.seen.pop(quarter, None)
        if quarter.number == 4:
            frozen_top_ten = self.frozen_top_ten.pop(quarter.year, None)
            self.final_top_ten[quarter.year] = frozen_top_ten or self._compute_top_ten(
                quarter.year, "final"
            )
            self.years.pop(quarter.year, None)
            if not self.keep_closed_years:
                for done in [q for q in self.finals if q.year == quarter.year and q != quarter]:
                    del self.finals[done]
        return Outcome("applied", closed=quarter)

    @property
    def chosen_rules_version(self) -> str | None:
        """The rules version the agency's newest registration names; None: the default."""
        return None if self.registration is None else self.registration[1]

    def adopt(self, rules: Rules) -> None:
        """Score under `rules` from now on: every open quarter is recomputed whole at the next
        flush and published again, naming them; a closed quarter keeps its final standings."""
        if rules != self.rules:
            self.rules = rules
            self.forget_published()

    def forget_final(self, quarter: Quarter) -> None:
        """Drop a fourth quarter's final standings once published (see keep_closed_years)."""
        if not self.keep_closed_years and quarter.number == 4:
            self.finals.pop(quarter, None)

    # --- recomputing --------------------------------------------------------------------

    def forget_published(self) -> None:
        """Recompute every open quarter whole at the next flush, and report all of it: after a
        restart, what was published last before the crash is not known here."""
        self.boards = {quarter: Board(quarter) for quarter in self.boards}
        self.years = {}

    @property
    def has_changes(self) -> bool:
        """Whether a flush would find anything to recompute or report."""
        return bool(self._changes) or any(board.stale for board in self.boards.values())

    def flush(self) -> Changes:
        """Recompute what events marked since the last flush; report what changed since."""
        for board in self.boards.values():
            self._refresh(board)
        changes, self._changes = self._changes, Changes()
        return changes

    def _refresh(self, board: Board) -> None:
        if not board.stale:
            return
        quarter, facts = board.quarter, self.facts
        changed = QuarterChanges()
        if board.all_stale:
            candidates = set(board.members) | {m.member_id for m in facts.registry.active_members()}
            board.stale_departments |= set(board.departments) | set(facts.registry.departments)
            board.stale_branches |= set(board.branches) | set(facts.registry.branches)
        else:
            candidates = board.stale_members
        for member_id in sorted(candidates):
            member = facts.registry.active_member(member_id)
            score = vanguard(facts, quarter, member, self.rules) if member else None
            old = board.members.get(member_id)
            if score == old:
                continue
            if old is not None:
                board.order.remove(vanguard_order(old))
                board.in_department[old.department_id].discard(member_id)
                board.stale_departments.add(old.department_id)
                del board.members[member_id]
            if score is not None:
                board.members[member_id] = score
                board.order.add(vanguard_order(score))
                board.in_department[score.department_id].add(member_id)
                board.stale_departments.add(score.department_id)
            changed.members.add(member_id)

        for department_id in sorted(board.stale_departments):
            department = facts.registry.department(department_id)
            old_fortress = board.departments.get(department_id)
            fortress = None
            if department is not None:
                members = [board.members[m] for m in sorted(board.in_department[department_id])]
                fortress = fortress_of_department(
                    facts, quarter, department_id, members, self.rules
                )
            if fortress == old_fortress:
                continue
            for branch_id in {f.branch_id for f in (old_fortress, fortress) if f is not None}:
                board.stale_branches.add(branch_id)
            if fortress is None:
                del board.departments[department_id]
            else:
                board.departments[department_id] = fortress
            changed.departments.add(department_id)

        for branch_id in sorted(board.stale_branches):
            branch = facts.registry.branch(branch_id)
            fortress = None
            if branch is not None:
                own = sorted(
                    (d for d in board.departments.values() if d.branch_id == branch_id),
                    key=lambda d: d.id,
                )
                fortress = fortress_of_branch(branch_id, branch.name, own)
            if fortress == board.branches.get(branch_id):
                continue
            if fortress is None:
                del board.branches[branch_id]
            else:
                board.branches[branch_id] = fortress
            changed.branches.add(branch_id)

        board.all_stale = False
        board.stale_members, board.stale_departments, board.stale_branches = set(), set(), set()
        if changed.members or changed.departments or changed.branches:
            board._standings = None
            if self.boards.get(quarter) is board:
                if quarter.year in self.years:
                    self.years[quarter.year].stale_members |= changed.members
                pending = self._changes.quarters.setdefault(quarter, QuarterChanges())
                pending.members |= changed.members
                pending.departments |= changed.departments
                pending.branches |= changed.branches
                self._changes.years.add(quarter.year)

    # --- reading ------------------------------------------------------------------------

    def standings(self, quarter: Quarter) -> QuarterStandings:
        """The standings of a quarter as of now (a quarter nothing happened in is computed)."""
        if quarter in self.finals:
            return self.finals[quarter]
        if quarter in self.closed:
            raise LookupError(f"the final standings of {quarter} are published, not kept")
        board = self.boards.get(quarter) or Board(quarter)
        self._refresh(board)
        return board.standings(self.rules)

    def top_ten(self, year: int) -> TopTen:
        if year in self.final_top_ten:
            return self.final_top_ten[year]
        board = self.years.get(year)
        if board is None:
            board = self.years[year] = YearBoard(year)
        self._refresh_year(board)
        shown = board.order[: self.rules.selections.top_ten]
        return TopTen(
            year, "provisional", self.rules.version, tuple(board.entries[k[-1]] for k in shown)
        )

    def quarters(self) -> list[Quarter]:
        """Every quarter that has activity or has been closed."""
        return sorted({*self.boards, *self.closed})

    def quarters_due_to_close(self, now: datetime) -> list[Quarter]:
        """Quarters that ended while the platform ran and ended `close_after_days` ago."""
        if self.running_since is None:
            return []
        delay = timedelta(days=self.rules.selections.close_after_days)
        due, quarter = [], Quarter.of(self.running_since)
        while quarter.end + delay <= now:
            if quarter.end > self.running_since and quarter not in self.closed:
                due.append(quarter)
            quarter = quarter.next()
        return due

    # --- internals ----------------------------------------------------------------------

    def _board(self, quarter: Quarter) -> Board:
        board = self.boards.get(quarter)
        if board is None:
            board = self.boards[quarter] = Board(quarter)
        return board

    def _refresh_year(self, board: YearBoard) -> None:
        """Place again the members whose score changed in any quarter of the year; everyone
        when the candidates (the latest quarter's members) are another quarter's."""
        year = board.year
        for quarter in quarters_of_year(year):
            if quarter in self.boards:
                self._refresh(self.boards[quarter])
        last = max((q for q in self.quarters() if q.year == year), default=None)
        candidates: dict[str, VanguardScore] = {}
        if last in self.boards:
            candidates = self.boards[last].members
        elif last in self.finals:
            candidates = {m.member_id: m for m in self.finals[last].members}
        if last != board.last:
            board.last, board.all_stale = last, True
        stale = set(board.places) | set(candidates) if board.all_stale else board.stale_members
        for member_id in stale:
            if member_id in board.places:
                board.order.remove(board.places.pop(member_id))
                del board.entries[member_id]
            candidate = candidates.get(member_id)
            if candidate is None:
                continue
            per_quarter = {
                q: score
                for q in quarters_of_year(year)
                if (score := self._member_score(q, member_id)) is not None
            }
            place = top_ten_place(candidate, per_quarter)
            if place is not None:
                key, board.entries[member_id] = place
                board.places[member_id] = key
                board.order.add(key)
        board.all_stale, board.stale_members = False, set()

    def _member_score(self, quarter: Quarter, member_id: str) -> VanguardScore | None:
        if quarter in self.boards:
            return self.boards[quarter].members.get(member_id)
        if quarter in self.finals:
            return self.finals[quarter].member(member_id)
        return None

    def _compute_top_ten(self, year: int, status: Literal["provisional", "final"]) -> TopTen:
        quarters = {q: self.standings(q) for q in self.quarters() if q.year == year}
        last = max(quarters) if quarters else Quarter(year, 4)
        candidates = self.standings(last).members
        return compute_top_ten(year, quarters, candidates, self.rules, status)

    def _mark_master_data(self, data: EventData) -> None:
        for board in self.boards.values():
            match data:
                case ev.MemberRegistered() | ev.MemberLeft():
                    board.stale_members.add(data.member_id)
                case ev.DepartmentRegistered():
                    board.stale_departments.add(data.department_id)
                case ev.BranchRegistered():
                    board.stale_branches.add(data.branch_id)
                case ev.HouseholdRegistered():
                    board.stale_members |= self.facts.registry.members_paired_with.get(
                        data.household_id, set()
                    )
                case ev.HouseholdPaired() | ev.HouseholdUnpaired():
                    board.stale_members.add(data.member_id)

    def _mark_activity(self, data: EventData, quarter: Quarter) -> tuple[Contribution, ...]:
        board = self._board(quarter)

        def member(member_id: str, component: str) -> tuple[Contribution, ...]:
            board.stale_members.add(member_id)
            return (Contribution(quarter, "member", member_id, component),)

        match data:
            case ev.LectureDelivered():
                board.all_stale = True  # every member's study rate has a new denominator
                return (Contribution(quarter, "member", data.speaker_id, "study"),)
            case ev.LectureAttended():
                return member(data.member_id, "study")
            case ev.ViolationLogged():
                return member(data.member_id, "discipline")
            case ev.ViolationRetracted():
                found = self.facts.violation_quarter(data.violation_id)
                return member(found[1], "discipline") if found else ()
            case ev.VisitMade() | ev.VolunteerLogged():
                return member(data.member_id, "service")
            case ev.KpiReported() if data.subject_type == "member":
                return member(data.subject_id, "performance")
            case ev.KpiReported():
                board.stale_departments.add(data.subject_id)
                return (Contribution(quarter, "department", data.subject_id, "business"),)
        raise AssertionError(f"{type(data).__name__} has a quarter but marks nothing")

    def _quarter_of(self, data: EventData, stamp: Stamp) -> Quarter | None:
        """The quarter whose indices this event changes; None for events no index reads."""
        match data:
            case ev.LectureDelivered() | ev.ViolationLogged() | ev.VolunteerLogged():
                return Quarter.of(stamp.time)
            case ev.VisitMade(kind="household" | "community"):
                return Quarter.of(stamp.time)
            case ev.LectureAttended():
                return self.facts.lecture_quarter(data.lecture_id) or Quarter.of(stamp.time)
            case ev.ViolationRetracted():
                found = self.facts.violation_quarter(data.violation_id)
                return found[0] if found else None
            case ev.KpiReported() if data.metric in INDEX_KPI_SUBJECT:
                return Quarter.parse(data.period)
        return None

    def _record(self, data: EventData, stamp: Stamp) -> Stamp | None:
        """Take the event's fact in; for a KPI report, the stamp of the report it replaced
        (its own stamp when a newer report was already known). A type scoring does not read
        (`NOT_READ`) gets its status and nothing else."""
        record = _RECORDS.get(type(data))
        return record(self, data, stamp) if record is not None else None

    def _registered(self, data: EventData, stamp: Stamp) -> None:
        self.facts.registry.apply(stamp, data)

    def _agency_registered(self, data: ev.AgencyRegistered, stamp: Stamp) -> None:
        if self.registration is None or self.registration[0] < stamp:
            self.registration = (stamp, data.rules_version)

    def _lecture_delivered(self, data: ev.LectureDelivered, stamp: Stamp) -> None:
        earlier = self.facts.deliver_lecture(Delivery(data.lecture_id, data.speaker_id, stamp))
        if earlier is not None and earlier.quarter in self.boards:
            self.boards[earlier.quarter].all_stale = True

    def _lecture_attended(self, data: ev.LectureAttended, stamp: Stamp) -> None:
        self.facts.attend(data.lecture_id, data.member_id)

    def _violation_logged(self, data: ev.ViolationLogged, stamp: Stamp) -> None:
        violation = Violation(data.violation_id, data.member_id, data.rule, stamp)
        moved = self.facts.log_violation(violation)
        if moved is not None and moved.quarter in self.boards:
            self.boards[moved.quarter].stale_members.add(moved.member_id)

    def _violation_retracted(self, data: ev.ViolationRetracted, stamp: Stamp) -> None:
        self.facts.retract_violation(stamp, data.violation_id)

    def _visit_made(self, data: ev.VisitMade, stamp: Stamp) -> None:
        quarter = Quarter.of(stamp.time)
        if data.kind == "household":
            assert data.household_id is not None
            visit = HouseholdVisit(data.household_id, stamp)
            self.facts.visit_household(quarter, data.member_id, data.visit_id, visit)
        elif data.kind == "community":
            self.facts.visit_community(quarter, data.member_id, data.visit_id)
        # commendation and liaison visits: no index counts them

    def _volunteered(self, data: ev.VolunteerLogged, stamp: Stamp) -> None:
        self.facts.volunteer(Quarter.of(stamp.time), data.member_id, data.activity_id)

    def _kpi_reported(self, data: ev.KpiReported, stamp: Stamp) -> Stamp | None:
        if data.metric not in INDEX_KPI_SUBJECT:
            return None  # a dashboard figure: no index reads it
        replaced = self.facts.report_kpi(
            Quarter.parse(data.period),
            (data.subject_type, data.subject_id, data.metric),
            Kpi(data.value, stamp),
        )
        return replaced.stamp if replaced is not None else None


# The event types scoring reads, each with the one method that takes its fact in.
_RECORDS: dict[type[EventData], Callable[[ScoringEngine, Any, Stamp], Stamp | None]] = {
    **{kind: ScoringEngine._registered for kind in REGISTRY_EVENTS},
    ev.AgencyRegistered: ScoringEngine._agency_registered,  # its rules version
    ev.LectureDelivered: ScoringEngine._lecture_delivered,
    ev.LectureAttended: ScoringEngine._lecture_attended,
    ev.ViolationLogged: ScoringEngine._violation_logged,
    ev.ViolationRetracted: ScoringEngine._violation_retracted,
    ev.VisitMade: ScoringEngine._visit_made,
    ev.VolunteerLogged: ScoringEngine._volunteered,
    ev.KpiReported: ScoringEngine._kpi_reported,
}
READS: tuple[type[EventData], ...] = (*_RECORDS, ev.QuarterClosed)
# Read by other services only: scoring records their status (applied), nothing else.
NOT_READ: tuple[type[EventData], ...] = (
    ev.MemberPreferencesSet,
    ev.LiaisonAssigned,
    ev.LectureScheduled,
    ev.TalkHeld,
    ev.AppealFiled,
    ev.AppealUpheld,  # its violation.retracted, published with it, is what scoring reads
    ev.AppealRejected,
    ev.ReportSubmitted,  # a report counts through the scored event its confirmation publishes
    ev.ReportConfirmed,
    ev.ReportRejected,
    ev.InboxRead,
    ev.MaximSubmitted,
    ev.MaximApproved,
    ev.SuggestionSubmitted,
    ev.SuggestionAdopted,
    ev.WorkplanAdopted,
    ev.HealthCardRoundOpened,  # 党性体检 and 支部结对共建 feed no index (docs/practice.md)
    ev.HealthCardFilled,
    ev.HealthCardReviewed,
    ev.BranchPaired,
    ev.PairingActivityHeld,
    ev.MeetingHeld,  # the study component counts the 财政月讲堂 only (docs/scoring.md)
    ev.SecondmentAssigned,  # an index is computed as usual while away (docs/scoring.md)
)
