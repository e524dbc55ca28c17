"""Inbound records as the scoring worker reads them from Kafka, for unit tests of the service."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.topics import BARRIER_HEADER
from mingdeng.runtime.stream import InboundRecord
from tests.support.builders import at

PARTITIONS = 4


class Log:
    """An in-memory partitioned log: appends get the next offset of their partition."""

    def __init__(self, partitions: int = PARTITIONS) -> None:
        self.partitions = partitions
        self.records: dict[int, list[InboundRecord]] = defaultdict(list)

    def append(
        self,
        event: Event[EventData] | bytes,
        partition: int | None = None,
        barrier: bool = False,
        key: bytes = b"x",
    ) -> InboundRecord:
        """An event of the default agency is keyed by its subject (as before agencies), of
        another agency by the agency; raw bytes by `key`."""
        if isinstance(event, bytes):
            value, timestamp = event, int(at("2026-11-25 00:00").timestamp() * 1000)
        else:
            subject_or_agency = event.subject if event.of_default_agency else event.agency
            value, key = serialize_event(event), subject_or_agency.encode()
            timestamp = int(event.time.timestamp() * 1000)
        if partition is None:
            partition = sum(key) % self.partitions
        record = InboundRecord(
            partition=partition,
            offset=len(self.records[partition]),
            key=key,
            value=value,
            timestamp_ms=timestamp,
            headers=((BARRIER_HEADER, b"1"),) if barrier else (),
        )
        self.records[partition].append(record)
        return record

    def close(self, event: Event[EventData]) -> list[InboundRecord]:
        """A close as the gateway publishes it: a barrier copy on every partition."""
        return [self.append(event, p, barrier=True) for p in range(self.partitions)]

    def extend(self, events: Iterable[Event[EventData]]) -> list[InboundRecord]:
        return [self.append(event) for event in events]

    def interleaved(self, order: Iterable[int]) -> list[InboundRecord]:
        """All records, taking the next record of each partition named by `order` in turn
        (then whatever remains, partition by partition)."""
        cursors = {p: 0 for p in self.records}
        out: list[InboundRecord] = []
        for partition in order:
            if partition in cursors and cursors[partition] < len(self.records[partition]):
                out.append(self.records[partition][cursors[partition]])
                cursors[partition] += 1
        for partition in sorted(self.records):
            out.extend(self.records[partition][cursors[partition] :])
        return out
