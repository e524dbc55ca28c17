"""Issue 12, part 5: each service lists the event types it reads once, in the table it
dispatches on. A type a service lists can only be one that reaches it (the newest version of a
type), and scoring, which answers every event with a status, names the types it does not read."""

from __future__ import annotations

import pytest

from mingdeng.contracts.events import PAYLOAD_TYPES, EventData
from mingdeng.contracts.upcasting import UPCASTERS
from mingdeng.notify.domain import state as notify
from mingdeng.outreach.domain import state as outreach
from mingdeng.scoring.domain import engine as scoring

ARRIVING = {kind for kind in PAYLOAD_TYPES if kind not in UPCASTERS}  # what readers are given


@pytest.mark.parametrize(
    "reads", [scoring.READS, notify.READS, outreach.READS], ids=["scoring", "notify", "outreach"]
)
def test_a_service_reads_only_types_that_reach_it(reads: tuple[type[EventData], ...]) -> None:
    assert len(set(reads)) == len(reads)
    assert set(reads) <= ARRIVING, set(reads) - ARRIVING


def test_scoring_names_every_type_it_reads_or_leaves() -> None:
    assert not set(scoring.READS) & set(scoring.NOT_READ)
    assert set(scoring.READS) | set(scoring.NOT_READ) == ARRIVING
