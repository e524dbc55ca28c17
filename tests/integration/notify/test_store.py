"""The store port's contract, run against PostgreSQL and against the store in memory the unit
tests use, so that the fake cannot drift from what the database does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
import pytest

from mingdeng.contracts.derived import Bulletin, Task
from mingdeng.notify.adapters.store import PostgresStores
from mingdeng.notify.store import Queued, Stores
from tests.support.builders import Events, at
from tests.unit.notify.fakes import FakeStores

pytestmark = pytest.mark.integration

NOW = at("2026-11-24 10:00")
ME, OTHER = "instance-me", "instance-other"


@pytest.fixture(params=["postgres", "memory"])
def database(request: pytest.FixtureRequest) -> str | None:
    """A migrated database of its own, or None for the store in memory."""
    return str(request.getfixturevalue("notify_db")) if request.param == "postgres" else None


@pytest.fixture
async def stores(database: str | None) -> AsyncIterator[Stores]:
    if database is None:
        yield FakeStores(lambda: NOW)
        return
    async with asyncpg.create_pool(database, min_size=1, max_size=2) as pool:
        yield PostgresStores(pool)


def message(key: str, *, urgent: bool = False, not_before: datetime = NOW) -> Queued:
    rule, recipient, cause = key.split("/", 2)
    return Queued(
        key=key, rule=rule, recipient_id=recipient, cause=cause, phone=f"139{recipient}",
        text="…", params={"name": recipient}, urgent=urgent, not_before=not_before,
    )  # fmt: skip


def task(status: str = "open") -> Task:
    return Task(
        task_id="talk/v1", kind="talk", assignee_id="S1", member_id="M1", cause="v1",
        status=status, due=NOW + timedelta(days=7), created_at=NOW,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_events_are_kept_once_and_read_in_order(stores: Stores) -> None:
    e = Events()
    later, earlier = (
        e.violation("v2", "M1", "2026-11-02 10:00"),
        e.violation("v1", "M1", "2026-11-01 10:00"),
    )
    async with stores.transaction() as store:
        assert await store.keep_events([later, earlier]) == [later, earlier]
        assert await store.keep_events([earlier]) == []
    async with stores.transaction() as store:
        assert [x.id for x in await store.events(["default"])] == [earlier.id, later.id]  # fmt: skip


async def test_the_outbox_keeps_one_message_per_key_and_claims_the_most_pressing(
    stores: Stores,
) -> None:
    async with stores.transaction() as store:
        assert await store.enqueue(message("daily_maxim/M1/d", not_before=NOW - timedelta(hours=1)))
        assert await store.enqueue(message("violation_reminder/M2/v1", urgent=True))
        assert await store.enqueue(message("daily_maxim/M3/d", not_before=NOW + timedelta(hours=1)))
        assert not await store.enqueue(message("daily_maxim/M1/d"))
    async with stores.transaction() as store:
        first = await store.claim_next(NOW, ME)
        second = await store.claim_next(NOW, ME)
        assert await store.claim_next(NOW, ME) is None  # the third is not due
    assert first is not None and second is not None
    assert (first.key, first.attempts, first.claimed_at) == ("violation_reminder/M2/v1", 1, NOW)
    assert (second.key, second.params) == ("daily_maxim/M1/d", {"name": "M1"})

    later = NOW + timedelta(minutes=3)
    async with stores.transaction() as store:
        await store.seen(ME, NOW)
        assert [r.key for r in await store.unsettled(later, NOW, ME)] == [second.key, first.key]
        assert await store.unsettled(NOW, NOW, ME) == []  # claimed at NOW, not before
        await store.settle(first.key, later, status="sent", provider="p", provider_message_id="1")
        await store.postpone(second.key, later, later + timedelta(minutes=1), "per-number limit")
        assert await store.sent_to("139M2", NOW) == [later]
        assert await store.sent_to("139M2", later) == []
        assert [r.key for r in await store.unsettled(later, NOW, ME)] == []
    async with stores.transaction() as store:
        assert await store.claim_next(later, ME) is None
        again = await store.claim_next(later + timedelta(minutes=1), ME)
    assert again is not None and (again.key, again.attempts) == (second.key, 1)


async def test_a_claim_of_an_instance_that_is_gone_is_unsettled_at_once(stores: Stores) -> None:
    async with stores.transaction() as store:
        await store.seen(ME, NOW)
        await store.seen(OTHER, NOW)
        for key in ("daily_maxim/M1/d", "daily_maxim/M2/d", "daily_maxim/M3/d"):
            await store.enqueue(message(key))
        mine = await store.claim_next(NOW, ME)
        theirs = await store.claim_next(NOW, OTHER)
        unknown = await store.claim_next(NOW, "instance-never-seen")
    assert mine is not None and theirs is not None and unknown is not None
    soon = NOW + timedelta(seconds=1)
    async with stores.transaction() as store:
        assert [r.key for r in await store.unsettled(NOW, NOW, ME)] == [unknown.key]
        # OTHER last seen before the lease's start: gone; ME never counts as gone to itself
        assert [r.key for r in await store.unsettled(NOW, soon, ME)] == [theirs.key, unknown.key]
        await store.seen(OTHER, soon)
        assert [r.key for r in await store.unsettled(NOW, soon, ME)] == [unknown.key]
        await store.gone(OTHER)
        assert [r.key for r in await store.unsettled(NOW, NOW, ME)] == [theirs.key, unknown.key]


async def test_open_commendations_are_read_without_the_other_tasks(stores: Stores) -> None:
    commendation = task().model_copy(
        update={"task_id": "commendation/2026Q3/M1", "kind": "commendation", "cause": "2026Q3"}
    )
    done = commendation.model_copy(update={"task_id": "commendation/2026Q3/M2", "status": "done"})
    async with stores.transaction() as store:
        for each in (task(), commendation, done):
            await store.save_task(each)
        await store.of("czj").save_task(commendation)
        assert await store.open_commendations() == {
            "czj": [commendation],
            "default": [commendation],
        }


async def test_two_agencies_keep_rows_of_the_same_keys_apart(stores: Stores) -> None:
    async with stores.transaction() as store:
        czj = store.of("czj")
        for each in (store, czj):
            assert await each.enqueue(message("daily_maxim/M1/d"))
            assert await each.save_task(task())
            assert await each.claim_period("bulletin", "2026-11")
        assert not await czj.enqueue(message("daily_maxim/M1/d"))
        assert not await czj.claim_period("bulletin", "2026-11")
        await czj.maxim_sent("x1", "2026-11-24")
        assert await store.maxims_sent() == {} and await czj.maxims_sent() == {"x1": "2026-11-24"}
        first = await store.claim_next(NOW, ME)
        second = await store.claim_next(NOW, ME)
    assert first is not None and second is not None
    assert {(first.agency, first.key), (second.agency, second.key)} == {
        ("default", "daily_maxim/M1/d"),
        ("czj", "daily_maxim/M1/d"),
    }


async def test_tasks_change_only_when_different(stores: Stores) -> None:
    async with stores.transaction() as store:
        assert await store.save_task(task())
        assert not await store.save_task(task())
        assert await store.save_task(task("done"))
        assert [t.status for t in await store.tasks()] == ["done"]


async def test_a_period_is_claimed_once_and_a_bulletin_kept_once(stores: Stores) -> None:
    bulletin = Bulletin(
        month="2026-10", issued_at=NOW, violations_by_rule={}, violations_by_department={},
        violations=1, retractions=0, lectures=0, attendances=0, household_visits=0,
        community_visits=0, text="…",
    )  # fmt: skip
    async with stores.transaction() as store:
        assert await store.claim_period("bulletin", "2026-10")
        assert not await store.claim_period("bulletin", "2026-10")
        assert await store.claim_period("daily_maxim", "2026-10")
        await store.keep_bulletin(bulletin)
        await store.keep_bulletin(bulletin.model_copy(update={"violations": 9}))
        await store.maxim_sent("x1", "2026-11-23")
        await store.maxim_sent("x1", "2026-11-24")
        assert await store.maxims_sent() == {"x1": "2026-11-24"}


async def test_a_transaction_that_raises_keeps_nothing(stores: Stores) -> None:
    with pytest.raises(RuntimeError):
        async with stores.transaction() as store:
            await store.enqueue(message("daily_maxim/M1/d"))
            await store.claim_period("bulletin", "2026-10")
            raise RuntimeError
    async with stores.transaction() as store:
        assert await store.claim_next(NOW, ME) is None
        assert await store.claim_period("bulletin", "2026-10")
