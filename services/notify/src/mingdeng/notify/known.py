"""What the notifier knows: the state folded from the events it kept, and the final quarter
selections it kept. The intake writes it (and folds it again after a rollback); the rules, the
outbox and the schedules read it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from mingdeng.contracts.derived import QuarterSelection
from mingdeng.notify.domain.state import NotifyState
from mingdeng.notify.store import NotifyStore


@dataclass
class Known:
    state: NotifyState = field(default_factory=NotifyState)
    selections: dict[str, QuarterSelection] = field(default_factory=dict)
    quarters_of_exemplar: defaultdict[str, set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )

    async def load(self, store: NotifyStore) -> None:
        """Fold everything again from what the store has. What the rules made of it was
        committed with it: nothing is left for them to look at again."""
        self.state, self.selections = NotifyState(), {}
        self.quarters_of_exemplar.clear()
        for event in await store.events():
            self.state.apply(event)
        for selection in await store.selections():
            self.select(selection)
        self.state.take_affected()

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
