"""Read models of outreach (models of the contracts), kept up to date as the events arrive.

Each view is cut into rows that depend on few facts: a member's coverage in a period, one
pairing's overdue standing, one household's need of a new pairing. An event marks the rows it
can change (`Touched`, from the state's folds); `settle` computes them again, a bounded number
at a time, every row serialised once when it changes. A row is published as a line of its own
(`coverage_member`, `overdue_pairing`, `unpaired_household`), and a period's coverage as its
sums by department and branch, so no message grows with the organisation and the work of an
event grows neither with the history nor with the organisation.

The clock moves views too. Each moment a view changes without an event — a pairing falls
overdue or its days without a visit grow by one, a period ends, an event dated in the future
comes due — is kept in a heap, and `settle` takes what is due. Only the running periods'
`as_of` moves with every instant: `touch_running` stamps them again when asked.
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_right, insort
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, NamedTuple
from urllib.parse import quote

import pydantic_core
from sortedcontainers import SortedDict

from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.outreach_views import (
    LINE_VIEWS,
    BranchCoverage,
    Community,
    Coverage,
    DepartmentCoverage,
    DepartmentSuggestions,
    LeaderLiaison,
    Liaison,
    MemberCoverage,
    MemberHouseholds,
    OutreachView,
    OverduePairing,
    PairedHousehold,
    PairingChange,
    Suggestions,
    Talks,
    TalksByCategory,
    TopicSuggestions,
    UnpairedHousehold,
    ViewName,
)
from mingdeng.contracts.periods import Period
from mingdeng.outreach.domain.state import (
    OVERDUE_AFTER,
    REMIND_EVERY,
    OutreachState,
    PairKey,
    Touched,
    periods_of,
)

ONE_DAY = timedelta(days=1)
JUST_BEFORE = timedelta(microseconds=1)
PERIOD_VIEWS: tuple[ViewName, ...] = ("coverage", "talks", "community", "liaison")


class ViewRef(NamedTuple):
    """A view: its name and what it is of (a period, a member, a pairing, a household, a
    member's line in a period, or nothing)."""

    view: ViewName
    period: str = ""
    member_id: str = ""
    household_id: str = ""

    @property
    def key(self) -> str:
        """Unique per view: ids within a line's key are escaped, they may hold a "/"."""
        if self.view in LINE_VIEWS:
            ids = [quote(i, safe="") for i in (self.member_id, self.household_id) if i]
            return "/".join([self.view, *filter(None, [self.period]), *ids])
        return "/".join(filter(None, [self.view, self.period, self.member_id]))


@dataclass(frozen=True)
class Publication:
    """A view as published: `body` is the JSON of the model its view names."""

    view: ViewName
    key: str
    member_id: str | None
    period: str | None
    body: bytes
    computed_at: datetime
    agency: str = DEFAULT_AGENCY  # whose view: its record is keyed and marked by it

    def model(self) -> OutreachView:
        return OutreachView.model_validate_json(self.message())

    def message(self) -> bytes:
        """The `OutreachView` record, byte for byte as the model writes it."""
        return b"".join(
            (
                b'{"view":',
                pydantic_core.to_json(self.view),
                b',"key":',
                pydantic_core.to_json(self.key),
                b',"member_id":',
                pydantic_core.to_json(self.member_id),
                b',"period":',
                pydantic_core.to_json(self.period),
                b',"body":',
                self.body,
                b',"computed_at":',
                pydantic_core.to_json(self.computed_at),
                b"}",
            )
        )


# Rows are plain tuples of numbers, strings and times: the garbage collector stops tracking
# them, so its full collections do not walk every row (docs/outreach.md, "Work on the event
# loop"). The last item is the row's JSON.
_CoverageRow = tuple[int, int, str, str, str | None, bytes]  # pairings, visited, name, dept, branch
_Overdue = tuple[datetime, datetime | None, int, str, str | None, bytes]  # paired, last, days, …


@dataclass
class _CoverageSums:
    """A period's coverage rows summed, in total, by department and by branch."""

    total: list[int] = field(default_factory=lambda: [0, 0])  # pairings, visited
    by_department: dict[str, list[int]] = field(default_factory=dict)
    by_branch: dict[str, list[int]] = field(default_factory=dict)

    def count(self, row: _CoverageRow, sign: int) -> None:
        paired, visited, _, department_id, branch_id, _ = row
        for bucket, key in ((self.by_department, department_id), (self.by_branch, branch_id or "")):
            counts = bucket.setdefault(key, [0, 0])
            counts[0] += sign * paired
            counts[1] += sign * visited
            if not counts[0]:  # a department or branch is listed while it has pairings
                del bucket[key]
        self.total[0] += sign * paired
        self.total[1] += sign * visited


@dataclass(frozen=True)
class _Recheck:
    """A pairing whose overdue standing changes at the heap entry's moment."""

    pair: PairKey


@dataclass(frozen=True)
class _PeriodEnds:
    name: str


_Due = tuple[datetime, int, Touched | _Recheck | _PeriodEnds]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class OutreachViews:
    """The state and every view of it, kept incrementally. `work` counts the rows, pairings
    and list items visited: the measure of the unit test that work per event stays flat."""

    def __init__(self, now: datetime, agency: str = DEFAULT_AGENCY) -> None:
        """`agency`: whose events these views fold (one agency's, never two)."""
        self.state = OutreachState()
        self.agency = agency
        self.now = now
        self.work = 0
        self.periods: dict[str, Period] = {}
        self._ends: list[tuple[datetime, str]] = []  # (end, name) of the periods, in order
        self._now_periods: tuple[str, str] | None = None
        self._coverage: dict[str, SortedDict[str, _CoverageRow]] = {}  # period -> member -> row
        self._coverage_sums: dict[str, _CoverageSums] = {}
        self._overdue: dict[PairKey, _Overdue] = {}
        # the overdue list's order, longest without a visit first: (-days, member, household)
        self._overdue_order: SortedDict[tuple[int, str, str], bytes] = SortedDict()
        self._unpaired: dict[str, bytes] = {}  # household -> the UnpairedHousehold
        self._rows: set[tuple[str, str]] = set()
        self._pairs: set[PairKey] = set()
        self._households: set[str] = set()
        self._views = {ViewRef("suggestions")}
        self._lines: set[ViewRef] = set()  # marked lines: many, published as they come
        self._held: dict[str, set[ViewRef]] = {}  # period -> lines waiting for its coverage
        # a new process does not know what an earlier one published: until its first round of
        # publications is done, a line with nothing to show is published too (as `null`)
        self.first_round = True
        self._due: list[_Due] = []
        self._scheduled: dict[PairKey, datetime] = {}
        self._sequence = itertools.count()

    # --- events -------------------------------------------------------------------------------

    def apply(self, event: Event[EventData]) -> bool:
        """Fold an event in and mark what it changes; False for a type outreach does not read."""
        if not self.state.apply(event):
            return False
        touched = self.state.take_touched()
        self._mark(touched)
        if event.time > self.now:  # it counts from its time on: mark it again then
            heapq.heappush(self._due, (event.time, next(self._sequence), touched))
        return True

    def _mark(self, touched: Touched) -> None:
        state = self.state
        for name in touched.tallies:
            self._know(name)
            self._views.update(self._period_views(name, ("talks", "community", "liaison")))
        for name, member_id in touched.rows:
            self._know(name)
            self._rows.add((name, member_id))
        for pair in touched.pairs:
            if pair in state.changes:  # a visit to a household the member was ever paired with
                self._pairs.add(pair)
                self._views.add(ViewRef("households", member_id=pair[1]))
        members = set(touched.members)
        for household_id in touched.households:
            self._households.add(household_id)
            members |= state.members_paired_with(household_id)
        for department_id in touched.departments:
            members |= state.department_members.get(department_id, set())
        for member_id in members:
            self._member_wide(member_id)
        for (household_id, member_id), since in touched.pairings:
            self._pairs.add((household_id, member_id))
            self._households.add(household_id)
            self._views.add(ViewRef("households", member_id=member_id))
            self._rows.update((name, member_id) for name in self._periods_ending_after(since))
        if touched.liaisons:
            self._views.update(ViewRef("liaison", name) for name in self.periods if "Q" in name)
        if touched.suggestions:
            self._views.add(ViewRef("suggestions"))

    def _member_wide(self, member_id: str) -> None:
        households = self.state.households_of.get(member_id)
        if not households:
            return  # never paired: in no row of any view
        self.work += len(households) + len(self.periods)
        for household_id in households:
            self._pairs.add((household_id, member_id))
            self._households.add(household_id)
        self._views.add(ViewRef("households", member_id=member_id))
        self._rows.update((name, member_id) for name in self.periods)

    def _periods_ending_after(self, moment: datetime) -> list[str]:
        """The periods a change at `moment` can move (those that end before it cannot)."""
        later = self._ends[bisect_right(self._ends, (moment, "\uffff")) :]
        self.work += len(later)
        return [name for _, name in later]

    def _period_views(self, name: str, views: tuple[ViewName, ...]) -> list[ViewRef]:
        return [ViewRef(v, name) for v in views if v != "liaison" or "Q" in name]

    def _know(self, name: str) -> None:
        """A period seen for the first time: every paired member gets a row in it."""
        if name in self.periods:
            return
        period = Period.parse(name)
        self.periods[name] = period
        insort(self._ends, (period.end, name))
        self._coverage[name] = SortedDict()
        self._coverage_sums[name] = _CoverageSums()
        self.work += len(self.state.households_of)
        self._rows.update((name, member_id) for member_id in self.state.households_of)
        self._views.update(self._period_views(name, PERIOD_VIEWS))
        if period.end > self.now:
            heapq.heappush(self._due, (period.end, next(self._sequence), _PeriodEnds(name)))

    # --- the clock ----------------------------------------------------------------------------

    def touch_running(self, now: datetime) -> None:
        """Stamp the running periods' coverage with `now` at the next assembly."""
        self._views.update(
            ViewRef("coverage", name) for name, period in self.periods.items() if period.end > now
        )

    def _take_due(self, now: datetime) -> None:
        self.now = max(self.now, now)
        current = periods_of(now)
        if current != self._now_periods:
            self._now_periods = current
            for name in current:
                self._know(name)
                self._views.update(self._period_views(name, PERIOD_VIEWS))
        while self._due and self._due[0][0] <= now:
            moment, _, what = heapq.heappop(self._due)
            self.work += 1
            match what:
                case Touched():
                    self._mark(what)
                case _Recheck(pair):
                    if self._scheduled.get(pair) == moment:
                        del self._scheduled[pair]
                        self._pairs.add(pair)
                case _PeriodEnds(name):
                    self._views.update(self._period_views(name, ("coverage", "liaison")))

    def _schedule(self, pair: PairKey, moment: datetime) -> None:
        scheduled = self._scheduled.get(pair)
        if scheduled is None or moment < scheduled:
            self._scheduled[pair] = moment
            heapq.heappush(self._due, (moment, next(self._sequence), _Recheck(pair)))

    # --- rows -------------------------------------------------------------------------------

    def settle(self, now: datetime, budget: int | None = None) -> bool:
        """Take what fell due by `now` and compute marked rows again, at most `budget` of them;
        True when none is left."""
        self._take_due(now)
        left = budget if budget is not None else -1
        while left != 0 and (self._rows or self._pairs or self._households):
            if self._rows:
                self._coverage_row(*self._rows.pop(), now)
            elif self._pairs:
                self._overdue_row(self._pairs.pop(), now)
            else:
                self._household_row(self._households.pop(), now)
            left -= 1
        return not (self._rows or self._pairs or self._households)

    def _coverage_row(self, name: str, member_id: str, now: datetime) -> None:
        """Pairings of the member in force at the end of the period (or now, while it runs),
        and how many of them the member visited in the period while paired."""
        state, period = self.state, self.periods[name]
        moment = min(period.end - JUST_BEFORE, now)
        households = state.households_of.get(member_id, set())
        self.work += 1 + len(households)
        paired = visited = 0
        for household_id in households:
            pair = (household_id, member_id)
            if state.in_force(pair, moment) is None:
                continue
            paired += 1
            visited += state.last_visit(pair, period.start, moment) is not None
        rows, sums = self._coverage[name], self._coverage_sums[name]
        old = rows.get(member_id)
        line = ViewRef("coverage_member", name, member_id)
        if old is not None:
            if not paired:
                del rows[member_id]
                sums.count(old, -1)
                self._views.add(ViewRef("coverage", name))
                self._lines.add(line)
                return
        elif not paired:
            if self.first_round:
                self._lines.add(line)
            return
        member = state.registry.member(member_id)
        assert member is not None  # a pairing is in force only for an active member
        branch = state.branch_of(member_id)
        labels = (paired, visited, member.name, member.department_id, branch)
        if old is not None:
            if old[:5] == labels:
                return
            sums.count(old, -1)
        json = MemberCoverage(
            member_id=member_id,
            name=member.name,
            department_id=member.department_id,
            branch_id=branch,
            pairings=paired,
            visited=visited,
            rate=_rate(visited, paired),
        ).model_dump_json()
        rows[member_id] = row = (*labels, json.encode())
        sums.count(row, 1)
        self._views.add(ViewRef("coverage", name))
        self._lines.add(line)

    def _overdue_row(self, pair: PairKey, now: datetime) -> None:
        """A pairing whose member has not visited the household for 60 days (or since pairing);
        the next moment its standing changes is scheduled."""
        state = self.state
        self.work += 1
        paired_at = state.in_force(pair, now)
        old = self._overdue.get(pair)
        late = None
        if paired_at is not None:
            last = state.last_visit(pair, None, now)
            since = max(paired_at, last) if last else paired_at
            if now - since < OVERDUE_AFTER:
                self._schedule(pair, since + OVERDUE_AFTER)
            else:
                days = (now - since).days
                self._schedule(pair, since + (days + 1) * ONE_DAY)
                household_id, member_id = pair
                member = state.registry.member(member_id)
                assert member is not None
                branch = state.branch_of(member_id)
                if old is not None and old[:5] == (
                    paired_at,
                    last,
                    days,
                    member.department_id,
                    branch,
                ):
                    return
                json = OverduePairing(
                    household_id=household_id,
                    member_id=member_id,
                    department_id=member.department_id,
                    branch_id=branch,
                    paired_at=paired_at,
                    last_visit_at=last,
                    days_without_visit=days,
                ).model_dump_json()
                late = (paired_at, last, days, member.department_id, branch, json.encode())
        household_id, member_id = pair
        line = ViewRef("overdue_pairing", member_id=member_id, household_id=household_id)
        if late is None and old is None:
            if self.first_round:
                self._lines.add(line)
            return
        if old is not None:
            del self._overdue[pair], self._overdue_order[(-old[2], member_id, household_id)]
        if late is not None:
            self._overdue[pair] = late
            self._overdue_order[(-late[2], member_id, household_id)] = late[-1]
        self._lines.add(line)

    def _household_row(self, household_id: str, now: datetime) -> None:
        """A registered household without a pairing in force, for an admin to pair again."""
        state = self.state
        household = state.registry.household(household_id)
        members = state.members_paired_with(household_id)
        self.work += 1 + len(members)
        json = None
        if household is not None and not any(
            state.in_force((household_id, m), now) is not None for m in members
        ):
            changes = sorted(
                (stamp.time, member_id, is_paired)
                for member_id in members
                for stamp, is_paired in state.changes[(household_id, member_id)]
                if stamp.time <= now
            )
            reason: Literal["never paired", "unpaired", "member left"]
            if not changes:
                reason, since, previous = "never paired", None, None
            else:
                t, member_id, is_paired = changes[-1]
                reason = "member left" if is_paired else "unpaired"
                departure = state.registry.departures.get(member_id)
                since = (departure.time if departure else t) if is_paired else t
                previous = member_id
            json = (
                UnpairedHousehold(
                    household_id=household_id,
                    village=household.village,
                    reason=reason,
                    since=since,
                    previous_member_id=previous,
                )
                .model_dump_json()
                .encode()
            )
        line = ViewRef("unpaired_household", household_id=household_id)
        if self._unpaired.get(household_id) == json:
            if self.first_round:
                self._lines.add(line)
            return
        if json is None:
            del self._unpaired[household_id]
        else:
            self._unpaired[household_id] = json
        self._lines.add(line)

    # --- views --------------------------------------------------------------------------------

    def is_published(self, ref: ViewRef) -> bool:
        """Views of a period are published while it has activity or is running now."""
        if not ref.period:
            return True
        return self.state.tallies[ref.period].activity > 0 or ref.period in (
            self._now_periods or ()
        )

    def take_views(self) -> list[ViewRef]:
        """The marked views that are published (the others stay marked), in a stable order."""
        taken = sorted(ref for ref in self._views if self.is_published(ref))
        self._views.difference_update(taken)
        self.work += len(taken)
        for ref in taken:
            if ref.view == "coverage":  # its members' lines are published with it
                self._lines.update(self._held.pop(ref.period, ()))
        return taken

    def take_lines(self, most: int) -> list[ViewRef]:
        """At most `most` of the marked lines, in no particular order; the lines of a period
        whose views are not published wait for its coverage."""
        taken = []
        for _ in range(min(most, len(self._lines))):
            line = self._lines.pop()
            if self.is_published(line):
                taken.append(line)
            else:
                self._held.setdefault(line.period, set()).add(line)
        self.work += len(taken)
        return taken

    @property
    def lines_left(self) -> int:
        return len(self._lines)

    def publication(self, ref: ViewRef, now: datetime) -> Publication:
        """A view assembled from its rows (settled at `now`)."""
        return Publication(
            ref.view,
            ref.key,
            ref.member_id or None,
            ref.period or None,
            self._body(ref, now),
            now,
            self.agency,
        )

    def refresh(self, now: datetime) -> list[Publication]:
        """Settle and assemble every marked view at once (for tests and tools; the service
        does the same in bounded steps)."""
        self.settle(now)
        refs = self.take_views() + sorted(self.take_lines(len(self._lines)))
        self.first_round = False
        return [self.publication(ref, now) for ref in refs]

    def _body(self, ref: ViewRef, now: datetime) -> bytes:
        self.work += 1
        match ref.view:
            case "coverage":
                return self._coverage_body(self.periods[ref.period], now)
            case "coverage_member":
                row = self._coverage[ref.period].get(ref.member_id)
                return row[-1] if row else b"null"
            case "overdue_pairing":
                late = self._overdue.get((ref.household_id, ref.member_id))
                return late[-1] if late else b"null"
            case "unpaired_household":
                return self._unpaired.get(ref.household_id, b"null")
            case "liaison":
                return self._liaison(self.periods[ref.period], now).model_dump_json().encode()
            case "talks":
                return self._talks(ref.period).model_dump_json().encode()
            case "community":
                return self._community(ref.period).model_dump_json().encode()
            case "suggestions":
                return self._suggestions().model_dump_json().encode()
            case "households":
                return self._member_households(ref.member_id, now).model_dump_json().encode()

    def _coverage_body(self, period: Period, now: datetime) -> bytes:
        sums = self._coverage_sums[period.name]
        self.work += len(sums.by_department) + len(sums.by_branch)
        total, seen = sums.total
        return Coverage(
            period=period.name,
            as_of=min(period.end - JUST_BEFORE, now),
            pairings=total,
            visited=seen,
            rate=_rate(seen, total),
            by_department=[
                DepartmentCoverage(department_id=d, pairings=p, visited=s, rate=_rate(s, p))
                for d, (p, s) in sorted(sums.by_department.items())
            ],
            by_branch=[
                BranchCoverage(branch_id=b, pairings=p, visited=s, rate=_rate(s, p))
                for b, (p, s) in sorted(sums.by_branch.items())
            ],
        ).to_json()

    def reminders_due(
        self, last_reminded: dict[PairKey, datetime], now: datetime
    ) -> Iterator[OverduePairing]:
        """Overdue pairings (as settled last, longest without a visit first) whose member was
        not reminded about them in the last 14 days."""
        for (_, member_id, household_id), json in list(self._overdue_order.items()):
            reminded = last_reminded.get((household_id, member_id))
            if reminded is None or now - reminded >= REMIND_EVERY:
                yield OverduePairing.model_validate_json(json)

    def _liaison(self, quarter: Period, now: datetime) -> Liaison:
        """Each party-group member's contact points, liaison visits in the quarter, and a flag
        for a leader with none (so far, while the quarter runs)."""
        visits = self.state.tallies[quarter.name].liaison_visits
        leaders = []
        for leader_id, (_, assigned) in sorted(self.state.liaisons.items()):
            member = self.state.registry.member(leader_id)
            leaders.append(
                LeaderLiaison(
                    leader_id=leader_id,
                    name=member.name if member else None,
                    agency_branch_id=assigned.agency_branch_id,
                    village_branch=assigned.village_branch,
                    liaison_visits=visits[leader_id],
                    flagged=visits[leader_id] == 0,
                )
            )
        self.work += len(leaders)
        return Liaison(quarter=quarter.name, quarter_over=quarter.end <= now, leaders=leaders)

    def _talks(self, name: str) -> Talks:
        counts = self.state.tallies[name].talks
        return Talks(
            period=name,
            total=sum(counts.values()),
            by_category=TalksByCategory(
                youth=counts["youth"], leadership=counts["leadership"], member=counts["member"]
            ),
        )

    def _community(self, name: str) -> Community:
        """Members reporting to their residential community, and volunteering, in
        person-times."""
        tally = self.state.tallies[name]
        return Community(
            period=name,
            community_reports=tally.community_reports.total(),
            members_reported=len(tally.community_reports),
            volunteer_person_times=tally.volunteering.total(),
            volunteer_members=len(tally.volunteering),
            volunteer_hours=round(tally.volunteer_minutes / 60, 1),
        )

    def _suggestions(self) -> Suggestions:
        state = self.state
        by = sorted(state.suggestions_by.items())
        self.work += len(by)
        return Suggestions(
            submitted=len(state.suggestions),
            adopted=sum(a for (kind, _), (_, a) in by if kind == "department"),
            workplans=len(state.workplans),
            by_department=[
                DepartmentSuggestions(department_id=key, submitted=s, adopted=a)
                for (kind, key), (s, a) in by
                if kind == "department"
            ],
            by_topic=[
                TopicSuggestions(topic=key, submitted=s, adopted=a)
                for (kind, key), (s, a) in by
                if kind == "topic"
            ],
        )

    def _member_households(self, member_id: str, now: datetime) -> MemberHouseholds:
        """A member's households (personal data: admin and the member only) and pairing
        history."""
        state = self.state
        households = sorted(state.households_of.get(member_id, set()))
        current = []
        for household_id in households:
            pair = (household_id, member_id)
            paired_at = state.in_force(pair, now)
            household = state.registry.household(household_id)
            if paired_at is None or household is None:
                continue
            current.append(
                PairedHousehold(
                    household_id=household_id,
                    village=household.village,
                    head_name=household.head_name,
                    phone=household.phone,
                    address=household.address,
                    paired_at=paired_at,
                    last_visit_at=state.last_visit(pair, None, now),
                )
            )
        history = sorted(
            (stamp.time, household_id, paired)
            for household_id in households
            for stamp, paired in state.changes[(household_id, member_id)]
        )
        self.work += len(households) + len(history)
        return MemberHouseholds(
            member_id=member_id,
            households=current,
            history=[
                PairingChange(household_id=h, at=t, paired=paired) for t, h, paired in history
            ],
        )
