from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

# Client libraries log every connection at INFO; their warnings are what matters to ops.
_CHATTY = ("kafka", "aiokafka", "asyncio")


def configure_logging(service: str) -> None:
    logging.basicConfig(
        level=os.environ.get("MINGDENG_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s",
    )
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RepeatLimit(handler.handle))


@dataclass
class _Allowance:
    tokens: float
    refilled_at: float
    suppressed: int = 0
    suppressed_since: float = 0.0
    last_suppressed_at: float = 0.0


class RepeatLimit(logging.Filter):
    """Lets through the first `burst` warnings or errors of each logger, level and message
    template, then one every `every_s` seconds (a token bucket per template); lines below
    `min_level` (progress, access logs) pass untouched. A line let through after some
    were held back says how many; held-back lines that nothing followed are told in a line of
    their own (`emit`) once `every_s` has passed, at the next line logged by anyone.

    An outage of minutes, where each client says "Unable connect …" at every attempt, so
    leaves a few lines a minute instead of hundreds a second."""

    def __init__(
        self,
        emit: Callable[[logging.LogRecord], object],
        burst: int = 5,
        every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_templates: int = 10_000,
        min_level: int = logging.WARNING,
    ) -> None:
        super().__init__()
        self._emit, self._burst, self._every_s, self._clock = emit, burst, every_s, clock
        self._max_templates, self._min_level = max_templates, min_level
        self._allowances: dict[tuple[str, int, str], _Allowance] = {}
        self._swept_at = clock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self._min_level or getattr(record, "repeat_summary", False):
            return True
        now = self._clock()
        self._sweep(now)
        key = (record.name, record.levelno, str(record.msg))
        allowance = self._allowances.get(key)
        if allowance is None:
            if len(self._allowances) >= self._max_templates:
                return True  # a flood of distinct messages: not this filter's kind
            allowance = self._allowances[key] = _Allowance(float(self._burst), now)
        allowance.tokens = min(
            float(self._burst),
            allowance.tokens + (now - allowance.refilled_at) / self._every_s,
        )
        allowance.refilled_at = now
        if allowance.tokens >= 1:
            allowance.tokens -= 1
            if allowance.suppressed:
                record.msg = f"{record.getMessage()} ({_held_back(allowance, now)})"
                record.args = None
                allowance.suppressed = 0
            return True
        if not allowance.suppressed:
            allowance.suppressed_since = now
        allowance.suppressed += 1
        allowance.last_suppressed_at = now
        return False

    def _sweep(self, now: float) -> None:
        """Tell what was held back and then followed by nothing; forget quiet templates."""
        if now - self._swept_at < min(1.0, self._every_s):
            return
        self._swept_at = now
        for (name, level, template), allowance in list(self._allowances.items()):
            if now - allowance.refilled_at < self._every_s:
                continue
            del self._allowances[(name, level, template)]
            if allowance.suppressed:
                summary = logging.LogRecord(
                    name, level, __file__, 0, "%s, the last at %s: %s",
                    (_held_back(allowance, now), _wall_clock(allowance.last_suppressed_at, now),
                     template),
                    None,
                )  # fmt: skip
                summary.repeat_summary = True
                self._emit(summary)


def _held_back(allowance: _Allowance, now: float) -> str:
    return (
        f"{allowance.suppressed:,} more like this in the last "
        f"{now - allowance.suppressed_since:.0f} s not logged"
    )


def _wall_clock(moment: float, now: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(time.time() - (now - moment)))
