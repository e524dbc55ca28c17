"""Record batches that any bytes the broker accepts can be read from.

aiokafka decodes every header name of a fetched record as strict UTF-8. A record whose header
name is not UTF-8 (the broker takes any bytes; a non-Java producer can write one) raises
UnicodeDecodeError inside the fetcher on every fetch of its partition: every consumer of the
topic stops there for good. `install` makes the fetcher read such a batch again with the
names decoded with `surrogateescape`, so the record arrives, its name's bytes kept; the codec
refuses it (`text.unstorable`) and scoring dead-letters it like any other bad record. Batches
without such a name are read by aiokafka's own (C) reader as before, at its speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiokafka.consumer.fetcher as fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import (
    DefaultRecordBatch,
    _DefaultRecordBatchPy,
    _DefaultRecordPy,
)
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import decode_varint

_LOG_OVERHEAD = 12  # a batch starts with baseOffset (int64) and batchLength (int32)


class _NamesAsBytesBatch(_DefaultRecordBatchPy):  # type: ignore[misc]
    """aiokafka's pure-Python reader of a v2 batch, except for how header names are decoded."""

    def _read_msg(self, decode_varint: Any = decode_varint) -> Any:
        buffer, pos = self._buffer, int(self._pos)  # type: ignore[has-type]
        length, pos = decode_varint(buffer, pos)
        start = pos
        _, pos = decode_varint(buffer, pos)  # attributes: unused in v2
        timestamp_delta, pos = decode_varint(buffer, pos)
        timestamp = (
            self.max_timestamp
            if self.timestamp_type == self.LOG_APPEND_TIME
            else self.first_timestamp + timestamp_delta
        )
        offset_delta, pos = decode_varint(buffer, pos)
        key, pos = _nullable_bytes(buffer, pos)
        value, pos = _nullable_bytes(buffer, pos)
        count, pos = decode_varint(buffer, pos)
        if count < 0:
            raise CorruptRecordException(f"a record with {count} headers")
        headers: list[tuple[str, bytes | None]] = []
        for _ in range(count):
            name, pos = _nullable_bytes(buffer, pos)
            if name is None:
                raise CorruptRecordException("a header without a name")
            header_value, pos = _nullable_bytes(buffer, pos)
            headers.append((name.decode(errors="surrogateescape"), header_value))
        if pos - start != length:
            raise CorruptRecordException(f"a record of {length} bytes read as {pos - start}")
        self._pos = pos
        return _DefaultRecordPy(
            self.base_offset + offset_delta, timestamp, self.timestamp_type, key, value, headers
        )


def _nullable_bytes(buffer: Any, pos: int) -> tuple[bytes | None, int]:
    size, pos = decode_varint(buffer, pos)
    if size < 0:
        return None, pos
    return bytes(buffer[pos : pos + size]), pos + size


class _TolerantBatch:
    """One batch of a fetch: aiokafka's reader until a header name fails to decode, then the
    rest of the batch (records after the last one given) from `_NamesAsBytesBatch`."""

    def __init__(self, batch: Any, buffer: memoryview) -> None:
        self._batch, self._buffer = batch, buffer
        self._given: int | None = None  # offset of the last record given
        self._rest: Iterator[Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def __iter__(self) -> _TolerantBatch:
        if self._rest is None:
            iter(self._batch)
        return self

    def __next__(self) -> Any:
        if self._rest is None:
            try:
                record = next(self._batch)
            except UnicodeDecodeError:
                given = -1 if self._given is None else self._given
                reread = _NamesAsBytesBatch(self._buffer.tobytes())
                self._rest = (record for record in reread if record.offset > given)
            else:
                self._given = record.offset
                return record
        return next(self._rest)


class TolerantMemoryRecords:
    """`MemoryRecords` whose v2 batches are `_TolerantBatch`es."""

    def __init__(self, buffer: bytes) -> None:
        self._records = MemoryRecords(buffer)
        self._buffer = buffer
        self._pos = 0

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        batch = self._records.next_batch()
        if batch is None:
            return None
        start = self._pos
        length = int.from_bytes(self._buffer[start + 8 : start + 12], "big", signed=True)
        self._pos = start + _LOG_OVERHEAD + length
        if not isinstance(batch, DefaultRecordBatch):
            return batch  # a legacy (v0, v1) batch: its records have no headers
        return _TolerantBatch(batch, memoryview(self._buffer)[start : self._pos])


def install() -> None:
    """Make every consumer of this process fetch through `TolerantMemoryRecords`."""
    fetcher.MemoryRecords = TolerantMemoryRecords
