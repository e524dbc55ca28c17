from __future__ import annotations

import asyncio

from mingdeng.runtime.worker import every, pause, until_either


async def test_until_either_returns_when_stop_comes_first() -> None:
    ready, stop = asyncio.Event(), asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    async with asyncio.timeout(2):
        await until_either(ready, stop)
    assert stop.is_set() and not ready.is_set()


async def test_every_runs_rounds_until_stopped_and_a_pause_ends_at_the_stop() -> None:
    stop = asyncio.Event()
    rounds: list[int] = []

    async def step() -> None:
        rounds.append(1)
        if len(rounds) == 3:
            asyncio.get_running_loop().call_later(0.05, stop.set)

    async with asyncio.timeout(2):
        await every(0.01, stop, step)
    assert len(rounds) >= 3
    stop.clear()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    async with asyncio.timeout(2):  # a 60 s pause, cut short by the stop
        await pause(stop, 60)
