"""Run a worker's loops until SIGTERM/SIGINT, with its health endpoint beside them."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from mingdeng.runtime.health import MetricsText, ReadinessCheck, start_health_server
from mingdeng.runtime.logs import configure_logging
from mingdeng.runtime.migrations import prestart
from mingdeng.runtime.settings import PostgresSettings

# Under steady traffic a batch is taken at most this often: what arrives meanwhile is fetched in
# the background and applied in one transaction. Taking each record as it comes made a
# transaction (and an offsets row, a fetch, a NOTIFY) per few records: at 1,000 events/s the
# database and the broker spent more CPU than the four services (bench/pipeline_bench.py,
# `cpu_ms_per_1000_events`). The first record after a quiet spell is not held back, nor is a
# consumer behind the log (it takes full batches as fast as it can).
GATHER_S = 0.05

log = logging.getLogger(__name__)

Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class _WithDatabase(Protocol):
    @property
    def postgres(self) -> PostgresSettings: ...


S = TypeVar("S", bound=_WithDatabase)


def worker_main(
    component: str,
    *,
    migrations: str,
    settings: Callable[[], S],
    run: Callable[[S], Coroutine[Any, Any, None]],
) -> None:
    """`mingdeng-<component> prestart` migrates its schema; `run` runs it until stopped."""
    parser = argparse.ArgumentParser(prog=f"mingdeng-{component}")
    parser.add_argument("command", choices=["prestart", "run"])
    args = parser.parse_args()
    configure_logging(component)
    loaded = settings()
    if args.command == "prestart":
        asyncio.run(prestart(loaded.postgres.dsn, component, migrations))
    else:
        asyncio.run(run(loaded))


async def run_until_stopped(
    *,
    name: str,
    health_host: str,
    health_port: int,
    readiness: ReadinessCheck,
    loops: list[Loop],
    metrics: MetricsText | None = None,
) -> None:
    stop = asyncio.Event()
    event_loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        event_loop.add_signal_handler(signum, stop.set)
    health = await start_health_server(health_host, health_port, readiness, metrics)
    log.info("%s running; health on http://%s:%d/healthz", name, health_host, health_port)
    tasks = [asyncio.create_task(loop(stop), name=f"{name}:{i}") for i, loop in enumerate(loops)]
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        for task, outcome in zip(
            tasks, await asyncio.gather(*tasks, return_exceptions=True), strict=True
        ):
            if isinstance(outcome, Exception):
                log.error("%s ended with an error", task.get_name(), exc_info=outcome)
        stopper.cancel()
        await health.cleanup()
        log.info("%s stopped", name)


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if the worker is asked to stop meanwhile."""
    with contextlib.suppress(TimeoutError):  # the pause ran its course
        await asyncio.wait_for(stop.wait(), seconds)


async def every(seconds: float, stop: asyncio.Event, step: Callable[[], Awaitable[object]]) -> None:
    """Run `step`, pause, again, until the worker is asked to stop."""
    while not stop.is_set():
        await step()
        await pause(stop, seconds)


async def until_either(*events: asyncio.Event) -> None:
    """Wait until any of `events` is set (e.g. ready, or asked to stop)."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
