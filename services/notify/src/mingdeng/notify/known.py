"""What the notifier knows: the state folded from the events it kept, and the final quarter
selections it kept. The intake writes it (and folds it again after a rollback); the rules, the
outbox and the schedules read it."""

from __future__ import annotations

from dataclasses import dataclass, field

from mingdeng.contracts.derived import QuarterSelection
from mingdeng.notify.domain.state import NotifyState
from mingdeng.notify.store import NotifyStore


@dataclass
class Known:
    state: NotifyState = field(default_factory=NotifyState)
    selections: dict[str, QuarterSelection] = field(default_factory=dict)

    async def load(self, store: NotifyStore) -> None:
        """Fold everything again from what the store has."""
        self.state, self.selections = NotifyState(), {}
        for event in await store.events():
            self.state.apply(event)
        for selection in await store.selections():
            self.selections[selection.quarter] = selection
