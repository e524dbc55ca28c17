from __future__ import annotations

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
