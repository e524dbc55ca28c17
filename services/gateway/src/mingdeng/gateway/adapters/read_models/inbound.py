"""The inbound events the gateway reads itself, routed by type to the read model that takes
each: `READS`, checked at import to name each type once. Any other type is not read here (the
other services read it); its record is let through without being parsed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import asyncpg

from mingdeng.contracts.codec import KAFKA_PREFIX, parse_record
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models import kpis, lectures, registry
from mingdeng.gateway.adapters.read_models.base import Batch, EventBatch, EventReadModel, ReadModel
from mingdeng.runtime.projection import Record

EVENT_READ_MODELS: tuple[EventReadModel[Any], ...] = (
    registry.READ_MODEL,
    lectures.READ_MODEL,
    kpis.READ_MODEL,
)


def _routes(
    models: tuple[EventReadModel[Any], ...],
) -> dict[str, tuple[EventReadModel[Any], Callable[[Any, Event[Any]], None]]]:
    """{event type on the wire: (its read model, how that model's batch takes it)}"""
    routes: dict[str, tuple[EventReadModel[Any], Callable[[Any, Event[Any]], None]]] = {}
    for model in models:
        for kind, take in model.reads.items():
            if kind.event_type in routes:
                raise TypeError(f"{kind.event_type} is read by two read models")
            routes[kind.event_type] = (model, take)
    return routes


READS = _routes(EVENT_READ_MODELS)


class InboundBatch(Batch):
    def __init__(self) -> None:
        self._batches: dict[EventReadModel[Any], EventBatch] = {}

    def add(self, record: Record) -> None:
        if record.value is None:
            return
        route = READS.get(_event_type(record.value, record.headers) or "")
        if route is None:
            return  # most inbound events: nothing here reads them, no need to validate them
        try:
            event = parse_record(record.value, record.headers, record.key)
        except InvalidEvent:
            return  # scoring dead-letters invalid inbound events with their reasons
        model, take = route
        batch = self._batches.get(model)
        if batch is None:
            batch = self._batches[model] = model.batch()
        take(batch, event)

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        changed: set[Kind] = set()
        for batch in self._batches.values():
            changed |= await batch.write(connection)
        return changed


_TYPE = re.compile(rb'"type"\s*:\s*"([^"\\]*)"')


_TYPE_HEADER = f"{KAFKA_PREFIX}type"


def _event_type(value: bytes, headers: tuple[tuple[str, bytes], ...]) -> str | None:
    """The record's `type`, or None: its `ce_type` header in binary mode. In structured mode,
    a record without a backslash cannot escape the key or its value, so when no `"type": "…"`
    in it names a type read here, it is let through unparsed."""
    for name, raw in headers:
        if name.lower() == _TYPE_HEADER:
            return raw.decode(errors="replace")
    if b"\\" not in value and not any(
        found.decode(errors="replace") in READS for found in _TYPE.findall(value)
    ):
        return None
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        return None
    kind = document.get("type") if isinstance(document, dict) else None
    return kind if isinstance(kind, str) else None


READ_MODEL = ReadModel(
    tables=tuple(table for model in EVENT_READ_MODELS for table in model.tables),
    batch=InboundBatch,
)
