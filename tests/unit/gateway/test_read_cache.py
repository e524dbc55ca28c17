from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from mingdeng.gateway.adapters.agency_schemas import current_agency
from mingdeng.gateway.adapters.read_cache import ReadCache


@pytest.fixture(autouse=True)
def default_agency() -> Iterator[None]:
    token = current_agency.set("default")
    yield
    current_agency.reset(token)


def listening_cache() -> ReadCache:
    cache = ReadCache("postgresql://unused")
    cache.listening = True
    return cache


def test_an_answer_is_served_until_its_kind_changes() -> None:
    cache = listening_cache()
    generation = cache.generation("rankings")
    cache.put("rankings", "page-1", generation, b"answer")
    assert cache.get("rankings", "page-1") == b"answer"
    cache.changed("default/registry")  # another kind: still good
    assert cache.get("rankings", "page-1") == b"answer"
    cache.changed("default/rankings")
    assert cache.get("rankings", "page-1") is None


def test_an_answer_read_while_its_kind_changed_is_not_stored() -> None:
    cache = listening_cache()
    generation = cache.generation("rankings")  # read before the query …
    cache.changed("default/rankings")  # … a change commits meanwhile …
    cache.put("rankings", "page-1", generation, b"stale")  # … the answer may predate it
    assert cache.get("rankings", "page-1") is None


def test_nothing_is_cached_while_not_listening_nor_trusted_after() -> None:
    cache = listening_cache()
    cache.put("rankings", "page-1", cache.generation("rankings"), b"answer")
    cache.listening = False  # the listening connection is lost: changes may go unseen
    assert cache.generation("rankings") is None
    assert cache.get("rankings", "page-1") is None
    cache.put("rankings", "page-2", None, b"x")
    cache.changed("all")  # as the listener does when it is back
    cache.listening = True
    assert cache.get("rankings", "page-1") is None and cache.get("rankings", "page-2") is None


def test_an_unknown_payload_changes_every_kind_and_old_entries_go_first() -> None:
    cache = ReadCache("postgresql://unused", max_entries=2)
    cache.listening = True
    for page in ("a", "b", "c"):
        cache.put("rankings", page, cache.generation("rankings"), page)
    assert cache.get("rankings", "a") is None and cache.get("rankings", "c") == "c"
    cache.put("registry", "org", cache.generation("registry"), "org")
    cache.changed("all")
    assert cache.get("rankings", "c") is None and cache.get("registry", "org") is None


def test_an_agency_s_answers_are_its_own_and_change_with_it_only() -> None:
    cache = listening_cache()
    cache.put("rankings", "page-1", cache.generation("rankings"), b"of default")
    other = current_agency.set("czj")
    try:
        assert cache.get("rankings", "page-1") is None  # the same key, another agency
        cache.put("rankings", "page-1", cache.generation("rankings"), b"of czj")
        cache.changed("default/rankings")
        assert cache.get("rankings", "page-1") == b"of czj"
    finally:
        current_agency.reset(other)
    assert cache.get("rankings", "page-1") is None  # the default agency's changed


def test_outside_of_any_agency_the_cache_refuses() -> None:
    cache = listening_cache()
    outside = current_agency.set(None)
    try:
        with pytest.raises(LookupError):
            cache.get("rankings", "page-1")
    finally:
        current_agency.reset(outside)


async def test_requests_missing_the_same_answer_share_one_query() -> None:
    cache = listening_cache()
    queries = 0
    answered = asyncio.Event()

    async def load() -> bytes:
        nonlocal queries
        queries += 1
        await answered.wait()
        return b"page"

    waiting = [asyncio.create_task(cache.through("rankings", "page-1", load)) for _ in range(50)]
    await asyncio.sleep(0)
    answered.set()
    assert await asyncio.gather(*waiting) == [b"page"] * 50
    assert queries == 1
    assert await cache.through("rankings", "page-1", load) == b"page" and queries == 1


async def test_a_request_after_a_change_does_not_take_the_answer_read_before_it() -> None:
    cache = listening_cache()
    releases = [asyncio.Event(), asyncio.Event()]
    read: list[int] = []

    async def load() -> str:
        n = len(read)
        read.append(n)
        await releases[n].wait()
        return f"read {n}"

    before = asyncio.create_task(cache.through("rankings", "page-1", load))
    await asyncio.sleep(0)
    cache.changed("default/rankings")  # committed while the first read is under way
    after = asyncio.create_task(cache.through("rankings", "page-1", load))
    await asyncio.sleep(0)
    for release in releases:
        release.set()
    assert (await before, await after) == ("read 0", "read 1")
    assert cache.get("rankings", "page-1") == "read 1"


async def test_the_request_that_started_a_read_going_away_leaves_it_to_the_others() -> None:
    cache = listening_cache()
    answered = asyncio.Event()

    async def load() -> bytes:
        await answered.wait()
        return b"page"

    first = asyncio.create_task(cache.through("rankings", "page-1", load))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.through("rankings", "page-1", load))
    await asyncio.sleep(0)
    first.cancel()
    answered.set()
    assert await second == b"page"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_failed_read_fails_every_request_waiting_for_it_and_is_not_kept() -> None:
    cache = listening_cache()
    answered = asyncio.Event()
    reads = 0

    async def load() -> bytes:
        nonlocal reads
        reads += 1
        await answered.wait()
        raise ConnectionResetError("the database went away")

    waiting = [asyncio.create_task(cache.through("rankings", "page-1", load)) for _ in range(3)]
    await asyncio.sleep(0)
    answered.set()
    failed = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(error, ConnectionResetError) for error in failed) and reads == 1
    answered.clear()
    again = asyncio.create_task(cache.through("rankings", "page-1", load))
    for _ in range(2):  # the request, then its read
        await asyncio.sleep(0)
    assert reads == 2  # tried again, not the failure kept
    answered.set()
    with pytest.raises(ConnectionResetError):
        await again
