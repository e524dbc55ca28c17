"""What a read model of the gateway is: the tables it owns and a batch that fills them.

The projector gives each read model a fresh batch per batch of records. `add` reads one record
and keeps what it means in memory; it raises ValueError (a pydantic ValidationError is one) for
a record it cannot read, and then keeps nothing of it. `write` writes what the batch kept, a
statement (or one pipelined `executemany`) per table, in the transaction that also stores the
consumed offsets, and says which kinds of API answers changed (`read_cache.Kind`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import asyncpg
from pydantic import BaseModel

from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.runtime.projection import Record


class Batch(ABC):
    @abstractmethod
    def add(self, record: Record) -> None:
        """Keep what `record` (a tombstone when its value is None) means for this read model."""

    @abstractmethod
    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        """Write what was kept; the kinds of answers that changed."""


@dataclass(frozen=True, eq=False)
class ReadModel:
    """A read model fed by records of one topic. `tables` are in the schema `gateway`."""

    tables: tuple[str, ...]
    batch: Callable[[], Batch]


M = TypeVar("M", bound=BaseModel)


def upserted(
    table: str, message: type[M], sql: str, row: Callable[[M], Sequence[object]]
) -> ReadModel:
    """A read model of one table with a row per message (a tombstone: nothing to show), written
    in the order read with `sql`, whose parameters are `row(message)`."""
    return ReadModel(tables=(table,), batch=partial(_UpsertBatch, message, sql, row))


class _UpsertBatch(Batch, Generic[M]):
    def __init__(self, message: type[M], sql: str, row: Callable[[M], Sequence[object]]) -> None:
        self._message, self._sql, self._row = message, sql, row
        self._rows: list[Sequence[object]] = []

    def add(self, record: Record) -> None:
        if record.value is not None:
            self._rows.append(self._row(self._message.model_validate_json(record.value)))

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        if self._rows:
            await connection.executemany(self._sql, self._rows)
        return set()


class EventBatch(ABC):
    """What one read model of inbound events keeps of a batch (see `EventReadModel`)."""

    @abstractmethod
    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        """Write what was kept; the kinds of answers that changed."""


B = TypeVar("B", bound=EventBatch)


@dataclass(frozen=True, eq=False)
class EventReadModel(Generic[B]):
    """A read model of inbound events: its tables, and for each event type it reads, how its
    batch takes one event of that type in."""

    tables: tuple[str, ...]
    batch: Callable[[], B]
    reads: Mapping[type[EventData], Callable[[B, Event[Any]], None]]
