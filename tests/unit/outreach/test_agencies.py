"""Outreach serves one agency until it is scoped by agency (issue 25, interim rule): the events
of other agencies are neither stored nor folded into its views, and are counted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import asyncpg

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.topics import EVENTS
from mingdeng.outreach.service import OutreachService
from mingdeng.runtime.projection import Record
from tests.support.builders import Events, at
from tests.unit.outreach.scenario import bureau_events


class StoringConnection:
    """Stores every event it is given (the `INSERT … RETURNING` of event_store.keep)."""

    def __init__(self) -> None:
        self.stored: list[tuple[str, str]] = []

    async def fetch(self, _sql: str, sources: Sequence[str], ids: Sequence[str], *_: Any) -> Any:
        rows = [{"source": s, "id": i} for s, i in zip(sources, ids, strict=True)]
        self.stored += [(s, i) for s, i in zip(sources, ids, strict=True)]
        return rows


def records(agency: str) -> list[Record]:
    return [
        Record(EVENTS.name, 0, 0, agency.encode(), serialize_event(event), 0)
        for event in bureau_events(Events(agency=agency))
    ]


async def coverage(agency: str, taken: Sequence[str]) -> tuple[OutreachService, set[str]]:
    service = OutreachService(clock=lambda: at("2026-10-01 12:00"), agency=agency)
    connection = StoringConnection()
    for other in taken:
        await service.handle(cast(asyncpg.Connection, connection), records(other))
    sources = {source for source, _ in connection.stored}
    return service, sources


async def test_outreach_of_the_default_agency_keeps_nothing_of_another_agency() -> None:
    service, stored_from = await coverage("default", ["czj"])
    assert stored_from == set()
    assert service.other_agencies.skipped == {EVENTS.name: len(bureau_events())}
    assert not [p for p in await service.refresh() if p.key == "coverage/2026Q3"]


async def test_outreach_of_an_agency_serves_it_alone() -> None:
    service, stored_from = await coverage("czj", ["default", "czj"])
    assert stored_from == {"/agencies/czj/test"}
    assert service.other_agencies.skipped == {EVENTS.name: len(bureau_events())}
    alone, _ = await coverage("default", ["default"])
    ours = {p.key: p.body for p in await service.refresh()}
    theirs = {p.key: p.body for p in await alone.refresh()}
    assert ours == theirs and "coverage/2026Q3" in ours  # the same bureau's figures, once
