"""What the notifier knows, per agency: the state folded from an agency's events it kept, and
the agency's final quarter selections. The intake writes it (and folds it again after a
rollback); the rules, the outbox and the schedules read it. Agencies never mix: the same member
id in two agencies is two people, each in the state of their own agency."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mingdeng.contracts.derived import QuarterSelection
from mingdeng.notify.domain.state import NotifyState
from mingdeng.notify.store import NotifyStore


@dataclass
class Known:
    """One agency's knowledge."""

    state: NotifyState = field(default_factory=NotifyState)
    selections: dict[str, QuarterSelection] = field(default_factory=dict)
    quarters_of_exemplar: defaultdict[str, set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )

    def select(self, selection: QuarterSelection) -> None:
        """A quarter's final selection, instead of any earlier one: its commendation tasks are
        for the rules to look at again."""
        earlier = self.selections.get(selection.quarter)
        for exemplar in earlier.exemplars if earlier else ():
            self.quarters_of_exemplar[exemplar.member_id].discard(selection.quarter)
        self.selections[selection.quarter] = selection
        for exemplar in selection.exemplars:
            self.quarters_of_exemplar[exemplar.member_id].add(selection.quarter)
        self.state.affected.quarters.add(selection.quarter)


def every_agency(agency: str) -> bool:
    return True


class KnownAgencies:
    """Each agency's knowledge, made when its first record is read. With several notifiers,
    of the agencies this one holds (docs/decisions/0005): `drop` and `load` follow the
    partitions assigned to it."""

    def __init__(self) -> None:
        self._agencies: dict[str, Known] = {}

    def of(self, agency: str) -> Known:
        known = self._agencies.get(agency)
        if known is None:
            known = self._agencies[agency] = Known()
        return known

    def __iter__(self) -> Iterator[tuple[str, Known]]:
        """Every agency known, by id."""
        return iter(sorted(self._agencies.items()))

    def drop(self, agencies: Callable[[str], bool]) -> None:
        """Forget `agencies`: another notifier holds them now."""
        self._agencies = {a: known for a, known in self._agencies.items() if not agencies(a)}

    async def load(
        self, store: NotifyStore, agencies: Callable[[str], bool] = every_agency
    ) -> None:
        """Fold `agencies` again from what the store has. What the rules made of it was
        committed with it: nothing is left for them to look at again."""
        self.drop(agencies)
        wanted = [agency for agency in await store.agencies() if agencies(agency)]
        if not wanted:
            return
        for event in await store.events(wanted):
            self.of(event.agency).state.apply(event)
        for agency, selection in await store.selections(wanted):
            self.of(agency).select(selection)
        for agency in wanted:
            self.of(agency).state.take_affected()
