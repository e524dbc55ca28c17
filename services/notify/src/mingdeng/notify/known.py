"""What the notifier knows, per agency: the state folded from an agency's events it kept, and
the agency's final quarter selections. The intake writes it (and folds it again after a
rollback); the rules, the outbox and the schedules read it. Agencies never mix: the same member
id in two agencies is two people, each in the state of their own agency."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
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


class KnownAgencies:
    """Each agency's knowledge, made when its first record is read."""

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

    async def load(self, store: NotifyStore) -> None:
        """Fold everything again from what the store has. What the rules made of it was
        committed with it: nothing is left for them to look at again."""
        self._agencies.clear()
        for event in await store.events():
            self.of(event.agency).state.apply(event)
        for agency, selection in await store.selections():
            self.of(agency).select(selection)
        for _, known in self:
            known.state.take_affected()
