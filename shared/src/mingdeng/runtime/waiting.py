"""Pre-start: wait until the database answers before migrating."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from mingdeng.runtime.health import postgres_answers

log = logging.getLogger(__name__)


async def wait_for(what: str, probe: Callable[[], Awaitable[bool]], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if await probe():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not answer within {timeout_s:.0f} s")
        log.info("waiting for %s …", what)
        await asyncio.sleep(1)


async def wait_for_postgres(dsn: str, timeout_s: float = 60) -> None:
    await wait_for("PostgreSQL", lambda: postgres_answers(dsn), timeout_s)
