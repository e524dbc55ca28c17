from __future__ import annotations

import logging

import pytest
from aiokafka import TopicPartition

from mingdeng.runtime.projection import ProjectionRunner


async def no_handler(*_: object) -> None:
    raise AssertionError("not called")


async def test_a_runner_far_behind_tells_its_progress(caplog: pytest.LogCaptureFixture) -> None:
    runner = ProjectionRunner(
        consumer="rebuilding", topics=["t"], bootstrap_servers="127.0.0.1:1",
        pool=None, handler=no_handler,  # type: ignore[arg-type]
    )  # fmt: skip
    runner._progress = (runner._progress[0] - 10, 0)  # ten seconds ago, nothing taken yet
    runner.processed = 200_000
    runner.lag = {TopicPartition("t", 0): 600_000}
    with caplog.at_level(logging.INFO, logger="mingdeng.runtime.projection"):
        runner._tell_progress()
        runner._tell_progress()  # within the interval: said once
    [said] = [r.getMessage() for r in caplog.records]
    assert said.startswith("rebuilding: 200,000 records taken, 600,000 behind, 20,00")
    assert "about 0 min to go" in said or "about 1 min to go" in said

    runner.lag = {TopicPartition("t", 0): 5}  # caught up: nothing more to tell
    runner._progress = (runner._progress[0] - 10, runner.processed)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mingdeng.runtime.projection"):
        runner._tell_progress()
    assert caplog.records == []
