"""Which failures pass by themselves (a dependency away) and which never will (the input).

A transient failure is retried with backoff; a permanent one is the record's fault: it is
parked with its reason and the consumer moves on. Anything not known to be transient is
treated as permanent for one record, never for a whole service.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)

_TRANSIENT_POSTGRES = (
    asyncpg.PostgresConnectionError,  # 08xxx: connection lost or refused
    asyncpg.InterfaceError,  # the client's connection is closed or in a bad state
    # the connection broke in the middle of an operation ("cannot switch to state …, another
    # operation is in progress"): seen when PostgreSQL restarts under load
    asyncpg.InternalClientError,
    asyncpg.OperatorInterventionError,  # 57xxx: admin shutdown, cannot connect now (restarting)
    asyncpg.InsufficientResourcesError,  # 53xxx: too many connections, disk full
    asyncpg.TransactionRollbackError,  # 40xxx: serialization failure, deadlock
)


def is_transient(error: BaseException) -> bool:
    """True when trying the same thing again later may succeed."""
    if isinstance(error, KafkaError):
        return not is_refused_record(error)
    return isinstance(error, (OSError, TimeoutError, *_TRANSIENT_POSTGRES))


def is_refused_record(error: BaseException) -> bool:
    """The broker (or the producer, before sending) refused a record for its size: sending
    the same record again fails again."""
    return isinstance(error, KafkaError) and type(error).__name__ in {
        "MessageSizeTooLargeError",
        "RecordListTooLargeError",
        "RecordTooLargeError",
    }


class Backoff:
    """Exponential backoff with jitter: 0.5 s, 1 s, 2 s … up to `ceiling_s`."""

    def __init__(self, first_s: float = 0.5, ceiling_s: float = 15.0) -> None:
        self.first_s, self.ceiling_s = first_s, ceiling_s
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        delay = min(self.ceiling_s, self.first_s * 2 ** (self.failures - 1))
        return float(delay * random.uniform(0.8, 1.2))

    def reset(self) -> None:
        self.failures = 0


async def retrying(
    what: str,
    step: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    backoff: Backoff | None = None,
) -> bool:
    """Run `step` until it succeeds, waiting out transient failures; False if asked to stop
    first. A permanent failure is raised."""
    backoff = backoff or Backoff()
    while not stop.is_set():
        try:
            await step()
        except Exception as error:
            if not is_transient(error):
                raise
            delay = backoff.next_delay()
            log.warning("%s: %s: %s; again in %.1f s", what, type(error).__name__, error, delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                continue  # the pause ran its course
            return False
        backoff.reset()
        return True
    return False


Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def riding_out_outages(what: str, loop: Loop) -> Loop:
    """A worker loop that, when a dependency goes away, waits and starts again instead of
    ending the service. A bug (a permanent failure) still ends it, for the supervisor to see."""

    async def resilient(stop: asyncio.Event) -> None:
        await retrying(what, lambda: loop(stop), stop, Backoff(first_s=1.0, ceiling_s=10.0))

    return resilient
