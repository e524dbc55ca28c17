"""Kafka clients made by mingdeng.runtime.clients wait before connecting again to a broker they
just failed to reach."""

from __future__ import annotations

import asyncio
import inspect

from aiokafka.client import AIOKafkaClient

from mingdeng.runtime.clients import (
    ReconnectBackoff,
    kafka_admin,
    kafka_consumer,
    kafka_producer,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_failed_connection_delays_the_next_attempt_growing_to_the_ceiling_and_a_success_resets(
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    clock = Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(asyncio, "sleep", sleep)
    broker_up = False
    attempts: list[tuple[object, dict[str, object]]] = []

    async def connect(node_id: object, **options: object) -> object:
        attempts.append((node_id, options))
        return "connection" if broker_up else None

    connecting = ReconnectBackoff(connect, first_s=0.25, ceiling_s=5.0, clock=clock)

    async def attempt(times: int) -> list[object]:
        return [await connecting(1, group=0) for _ in range(times)]

    assert asyncio.run(attempt(10)) == [None] * 10
    assert len(attempts) == 10 and attempts[0] == (1, {"group": 0})
    # the first attempt at once, then 0.25 s, 0.5 s, 1 s … up to 5 s, each ±20 %
    for waited, nominal in zip(slept, [0.25, 0.5, 1, 2, 4, 5, 5, 5, 5], strict=True):
        assert 0.8 * nominal <= waited <= 1.2 * nominal
    broker_up = True
    assert asyncio.run(attempt(3)) == ["connection"] * 3
    assert len(slept) == 10  # waited once more (the pause after the last failure), then not


def test_another_node_is_not_held_back_by_a_failed_one() -> None:
    async def connect(node_id: object, **_: object) -> object:
        return None if node_id == "down" else "connection"

    async def run() -> None:
        connecting = ReconnectBackoff(connect, first_s=30, ceiling_s=30)
        assert await connecting("down") is None
        assert await asyncio.wait_for(connecting("up"), 1) == "connection"

    asyncio.run(run())


def test_every_client_made_here_connects_through_the_backoff() -> None:
    # aiokafka's connection step, which the back-off wraps, is still what it was
    assert list(inspect.signature(AIOKafkaClient._get_conn).parameters) == [
        "self", "node_id", "group", "no_hint",
    ]  # fmt: skip

    async def made() -> list[object]:
        consumer = kafka_consumer("127.0.0.1:1", group_id="g")
        producer = kafka_producer("127.0.0.1:1", retry_backoff_ms=10)
        admin = kafka_admin("127.0.0.1:1")
        return [consumer._client._get_conn, producer.client._get_conn, admin._client._get_conn]

    assert all(isinstance(step, ReconnectBackoff) for step in asyncio.run(made()))
