"""Answers of the API kept in memory until the projector says that what they read has changed.

The projector calls `pg_notify(CHANGED_CHANNEL, "{agency}/{kind}")` in each transaction that
changes a kind of an agency's read model: `rankings` (scores, ranks, selections, statuses) or
`registry` (members, departments, branches). A notification arrives only after its transaction
committed. Each agency's kind has a generation, bumped by each of its notifications: an answer
is stored with the generation read before its query, and served only while the generation is
the same. The agency is the request's (`agency_schemas.current_agency`): an answer is stored
and found under its agency only, and a lookup with no agency set fails (LookupError).

Requests that miss the same answer under the same generation share one query (`through`): when
a change makes a page stale while hundreds of requests a second ask for it, one of them reads it
again and the others wait for that answer, where each used to run the same query (a ranking
page at 20,000 members under 200 events/s: every request a query, 158-301 requests/s).

The cache trusts nothing while it does not listen: before the listening connection is up, and
from the moment it is lost until it is back, every lookup misses (and what was stored before is
never served again).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Literal, TypeVar, cast

import asyncpg

from mingdeng.gateway.adapters.agency_schemas import current_agency
from mingdeng.runtime.clients import postgres_connection
from mingdeng.runtime.faults import Backoff
from mingdeng.runtime.worker import pause

log = logging.getLogger(__name__)

CHANGED_CHANNEL = "mingdeng_read_models"
Kind = Literal["rankings", "registry"]
KINDS: tuple[Kind, ...] = ("rankings", "registry")
T = TypeVar("T")


def changed_payload(agency: str, kind: Kind) -> str:
    return f"{agency}/{kind}"


def _agency() -> str:
    agency = current_agency.get()
    if agency is None:
        raise LookupError("the read cache is asked for outside of any agency")
    return agency


class ReadCache:
    def __init__(self, dsn: str, max_entries: int = 1024) -> None:
        self._dsn = dsn
        self._max_entries = max_entries
        self._generations: dict[tuple[str, Kind], int] = {}  # by agency and kind
        self._everything = 0  # bumped by `all`: every agency's every kind
        self._entries: OrderedDict[tuple[str, Kind, Hashable], tuple[int, object]] = OrderedDict()
        # the queries under way, by agency, kind, key and the generation they were started at
        self._loading: dict[tuple[str, Kind, Hashable, int], asyncio.Future[object]] = {}
        self.listening = False

    def generation(self, kind: Kind) -> int | None:
        """The generation to store an answer under, read before its query; None while not
        listening (nothing may be stored then)."""
        if not self.listening:
            return None
        return self._everything + self._generations.get((_agency(), kind), 0)

    def get(self, kind: Kind, key: Hashable) -> object | None:
        generation = self.generation(kind)
        entry = (_agency(), kind, key)
        found = self._entries.get(entry)
        if generation is None or found is None or found[0] != generation:
            return None
        self._entries.move_to_end(entry)
        return found[1]

    def put(self, kind: Kind, key: Hashable, generation: int | None, value: object) -> None:
        if generation is None or generation != self.generation(kind):
            return  # changed while it was read: the next request reads it again
        entry = (_agency(), kind, key)
        self._entries[entry] = (generation, value)
        self._entries.move_to_end(entry)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def through(self, kind: Kind, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The stored answer, or `load()`'s, stored under the generation read before it. A
        `load()` of the same answer under the same generation already under way is awaited
        rather than started again: its answer is as new as one started now would be (no
        change was told since it began). A caller that goes away does not cancel it for the
        others."""
        found = self.get(kind, key)
        if found is not None:
            return cast(T, found)
        generation = self.generation(kind)
        if generation is None:
            return await load()
        loading_key = (_agency(), kind, key, generation)
        loading = self._loading.get(loading_key)
        if loading is None:
            started: asyncio.Future[object] = asyncio.ensure_future(load())
            self._loading[loading_key] = loading = started
            started.add_done_callback(lambda done: self._loaded(loading_key, done))
        loaded = cast(T, await asyncio.shield(loading))
        self.put(kind, key, generation, loaded)
        return loaded

    def _loaded(
        self, loading_key: tuple[str, Kind, Hashable, int], done: asyncio.Future[object]
    ) -> None:
        self._loading.pop(loading_key, None)
        if not done.cancelled() and done.exception() is not None:  # also if no caller is left
            log.warning("read cache: reading %r failed: %r", loading_key[:3], done.exception())

    def changed(self, payload: str) -> None:
        """A notification: `{agency}/{kind}` changed (any other payload, `all` for one: every
        agency's every kind)."""
        agency, _, kind = payload.rpartition("/")
        if agency and kind in KINDS:
            self._generations[(agency, kind)] = self._generations.get((agency, kind), 0) + 1
        else:
            self._everything += 1

    async def listen(self, stop: asyncio.Event) -> None:
        """Hold the listening connection until stopped, connecting again when it is lost."""
        backoff = Backoff(first_s=0.5, ceiling_s=15.0)
        while not stop.is_set():
            try:
                connection = await postgres_connection(self._dsn)
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                delay = backoff.next_delay()
                log.warning(
                    "read cache: no listening connection (%s); again in %.0f s", error, delay
                )
                await pause(stop, delay)
                continue
            try:
                await self._hold(connection, stop, backoff)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("read cache: listening failed (%s); connecting again", error)
            finally:
                self.listening = False
                self.changed("all")
                if not connection.is_closed():
                    connection.terminate()
            await pause(stop, backoff.next_delay())

    async def _hold(
        self, connection: asyncpg.Connection, stop: asyncio.Event, backoff: Backoff
    ) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(
            CHANGED_CHANNEL, lambda _c, _p, _ch, payload: self.changed(payload)
        )
        self.changed("all")  # what was stored before this connection is not trusted
        self.listening = True
        backoff.reset()
        stopping = asyncio.create_task(stop.wait())
        losing = asyncio.create_task(lost.wait())
        await asyncio.wait({stopping, losing}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        losing.cancel()
        if lost.is_set():
            log.warning("read cache: the listening connection was lost; connecting again")
