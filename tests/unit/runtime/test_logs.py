"""The log rate limiter: an outage's repeated lines leave a few lines a minute, and say how
many were held back."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

from mingdeng.runtime.logs import RepeatLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def logged(clock: Clock) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RepeatLimit(handler.handle, burst=3, every_s=60, clock=clock))
    logger = logging.getLogger("test.repeat")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, out
    logger.removeHandler(handler)


def lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_the_first_lines_pass_then_one_a_minute_saying_how_many_were_held_back(
    logged: tuple[logging.Logger, io.StringIO], clock: Clock
) -> None:
    logger, out = logged
    for attempt in range(1000):  # a second of a client retrying every millisecond
        logger.error('Unable connect to "%s:%s": attempt %d', "127.0.0.1", 9092, attempt)
        clock.now += 0.001
    assert lines(out) == [
        f'ERROR test.repeat: Unable connect to "127.0.0.1:9092": attempt {n}' for n in range(3)
    ]
    for _ in range(60):  # a minute more of it, one a second
        clock.now += 1
        logger.error('Unable connect to "%s:%s": attempt %d', "127.0.0.1", 9092, 0)
    assert len(lines(out)) == 4
    assert lines(out)[3].startswith(
        'ERROR test.repeat: Unable connect to "127.0.0.1:9092": attempt 0 ('
    )
    assert "1,056 more like this in the last 61 s not logged" in lines(out)[3]


def test_other_messages_loggers_and_info_lines_are_not_held_back(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = logged
    for n in range(10):
        logger.warning("the database is unavailable; again in %d s", n)
        logger.info("progress: %d records", n)  # below WARNING: never limited
        logging.getLogger("test.repeat.other").error("a different logger %d", n)
    text = lines(out)
    assert sum("the database is unavailable" in line for line in text) == 3
    assert sum("progress" in line for line in text) == 10


def test_lines_held_back_and_followed_by_nothing_are_told_at_the_next_line_after_the_interval(
    logged: tuple[logging.Logger, io.StringIO], clock: Clock
) -> None:
    logger, out = logged
    for _ in range(50):
        logger.error("Unable to update metadata from %s", [1])
    clock.now += 61  # the outage is over; nothing more of that kind
    logger.warning("the broker answers again")
    summary, after = lines(out)[3:]
    assert re.fullmatch(
        r"ERROR test\.repeat: 47 more like this in the last 61 s not logged, the last at"
        r" \d\d:\d\d:\d\d: Unable to update metadata from %s",
        summary,
    ), summary
    assert after == "WARNING test.repeat: the broker answers again"
    for _ in range(5):  # a new outage: a new burst
        logger.error("Unable to update metadata from %s", [1])
    assert len(lines(out)) == 5 + 3
