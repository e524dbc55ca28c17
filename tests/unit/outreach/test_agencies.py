"""Outreach per agency (issue 25, item 3): each agency's events fold into views of its own, so
the same member and household ids in two agencies are two sets of people; an agency's views
equal those it would have alone (and the incremental views equal the full recomputation per
agency: tests/unit/outreach/test_properties.py, on one agency's views), and its records are
keyed and marked by it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import asyncpg

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.topics import EVENTS
from mingdeng.outreach.domain.views import OutreachViews
from mingdeng.outreach.service import OutreachService
from mingdeng.runtime.projection import Record
from tests.support.builders import Events, at
from tests.unit.outreach.scenario import bureau_events

NOW = "2026-10-01 12:00"


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


async def fed(*agencies: str) -> OutreachService:
    service = OutreachService(clock=lambda: at(NOW))
    connection = cast(asyncpg.Connection, StoringConnection())
    batches = [records(agency) for agency in agencies]
    for step in range(0, max(len(b) for b in batches), 7):  # the agencies' events interleaved
        for batch in batches:
            await service.handle(connection, batch[step : step + 7])
    return service


async def test_each_agency_has_the_views_it_would_have_alone() -> None:
    both = await fed("default", "czj")
    published = {(p.agency, p.key): p.body for p in await both.refresh()}
    for agency in ("default", "czj"):
        alone = {p.key: p.body for p in await (await fed(agency)).refresh()}
        ours = {key: body for (of, key), body in published.items() if of == agency}
        assert ours == alone and "coverage/2026Q3" in ours


async def test_incremental_views_equal_one_fold_of_the_agencys_events() -> None:
    both = await fed("default", "czj", "qxj")
    for agency in ("czj", "qxj"):
        fresh = OutreachViews(at(NOW), agency)
        for event in bureau_events(Events(agency=agency)):
            fresh.apply(event)
        expected = {p.key: p.body for p in fresh.refresh(at(NOW))}
        views = both.agencies[agency]
        assert {p.key: p.body for p in views.refresh(at(NOW))} == expected


async def test_an_event_touches_only_its_agencys_views() -> None:
    service = await fed("default", "czj")
    await service.refresh()
    e = Events(agency="czj", prefix="late")
    visit = bureau_events(e)[-1]  # the agency's last fact once more, under a new id
    await service.handle(
        cast(asyncpg.Connection, StoringConnection()),
        [Record(EVENTS.name, 0, 0, b"czj", serialize_event(visit), 0)],
    )
    assert {p.agency for p in await service.refresh()} <= {"czj"}
