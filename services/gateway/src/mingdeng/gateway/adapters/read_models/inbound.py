"""The inbound events the gateway reads itself, routed by type to the read models that take
each (`READS`; an older version of a type goes where the newest goes). Any other type is not
read here (the other services read it); its record is let through without being parsed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, get_type_hints

import asyncpg

from mingdeng.contracts.codec import KAFKA_PREFIX, parse_record
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.events import EventData
from mingdeng.contracts.upcasting import UPCASTERS
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models import (
    actions,
    agencies,
    facts,
    kpis,
    lectures,
    orglife,
    practice,
    registry,
    work,
)
from mingdeng.gateway.adapters.read_models.base import Batch, EventBatch, EventReadModel, ReadModel
from mingdeng.runtime.projection import Record

EVENT_READ_MODELS: tuple[EventReadModel[Any], ...] = (
    registry.READ_MODEL,
    agencies.READ_MODEL,
    lectures.READ_MODEL,
    kpis.READ_MODEL,
    facts.READ_MODEL,
    actions.READ_MODEL,
    work.READ_MODEL,
    practice.READ_MODEL,
    orglife.READ_MODEL,
)
Route = tuple[EventReadModel[Any], Callable[[Any, Event[Any]], None]]


def _wire_types(kind: type[EventData]) -> list[str]:
    """The types on the wire whose events are read as `kind`: itself and every older version
    that upcasts to it (parsing upcasts them)."""
    older = [old for old, step in UPCASTERS.items() if get_type_hints(step)["return"] is kind]
    return [kind.event_type, *(t for old in older for t in _wire_types(old))]


def _routes(models: tuple[EventReadModel[Any], ...]) -> dict[str, tuple[Route, ...]]:
    """{event type on the wire: (each read model that reads it, how its batch takes it in)}"""
    routes: dict[str, tuple[Route, ...]] = {}
    for model in models:
        for kind, take in model.reads.items():
            for wire_type in _wire_types(kind):
                routes[wire_type] = (*routes.get(wire_type, ()), (model, take))
    return routes


READS = _routes(EVENT_READ_MODELS)


class InboundBatch(Batch):
    def __init__(self) -> None:
        self._batches: dict[EventReadModel[Any], EventBatch] = {}

    def add(self, record: Record) -> None:
        if record.value is None:
            return
        routes = READS.get(event_type(record.value, record.headers) or "")
        if routes is None:
            return  # most inbound events: nothing here reads them, no need to validate them
        try:
            event = parse_record(record.value, record.headers, record.key)
        except InvalidEvent:
            return  # scoring dead-letters invalid inbound events with their reasons
        for model, take in routes:
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


def event_type(value: bytes, headers: tuple[tuple[str, bytes], ...]) -> str | None:
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
