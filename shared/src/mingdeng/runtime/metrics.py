"""Prometheus text exposition (format 0.0.4) of what the consumers know about themselves."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import asyncpg
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mingdeng.runtime.faults import is_transient
from mingdeng.runtime.projection import ProjectionRunner

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATES = ("starting", "running", "retrying", "stopped")


class ConsumerHealthSettings(BaseSettings):
    """When a consumer stops counting as ready (`/readyz` answers 503)."""

    model_config = SettingsConfigDict(env_prefix="MINGDENG_CONSUMER_", extra="ignore")

    max_lag: int = Field(default=10_000, ge=0, description="records behind, over all partitions")
    max_age_s: float = Field(
        default=300, gt=0, description="age of the newest record taken while more wait"
    )


@dataclass
class Family:
    name: str
    kind: str  # gauge or counter
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((labels, value))


def render(families: Iterable[Family]) -> str:
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        suffix = "_total" if family.kind == "counter" else ""
        for labels, value in family.samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            lines.append(f"{family.name}{suffix}{{{text}}} {value:g}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def consumer_families(runners: Sequence[ProjectionRunner]) -> list[Family]:
    lag = Family("mingdeng_consumer_lag", "gauge", "records not yet taken, per partition")
    behind = Family(
        "mingdeng_consumer_behind_seconds",
        "gauge",
        "age of the newest record taken while more wait (0 when caught up)",
    )
    state = Family("mingdeng_consumer_state", "gauge", "1 for the consumer's current state")
    up = Family("mingdeng_consumer_up", "gauge", "1 while the consumer runs or waits out an outage")
    taken = Family("mingdeng_consumer_records", "counter", "records taken since the start")
    parked = Family(
        "mingdeng_dead_letters",
        "counter",
        "records parked (dead-lettered) since the start, by reason",
    )
    for runner in runners:
        group = runner.consumer_name
        for partition, records in sorted(runner.lag.items()):
            lag.add(records, group=group, topic=partition.topic, partition=str(partition.partition))
        behind.add(round(runner.behind_s(), 3), group=group)
        for name in STATES:
            state.add(1 if runner.state == name else 0, group=group, state=name)
        up.add(0 if runner.state == "stopped" else 1, group=group)
        taken.add(runner.processed, group=group)
        for reason, count in sorted(runner.parked.items()):
            parked.add(count, consumer=group, reason=reason)
    return [lag, behind, state, up, taken, parked]


def consumer_checks(
    runners: Sequence[ProjectionRunner], settings: ConsumerHealthSettings
) -> dict[str, bool]:
    """One readiness check per consumer: it runs, and is not too far behind."""
    return {
        f"consumer {runner.consumer_name}": runner.state in ("starting", "running")
        and runner.total_lag <= settings.max_lag
        and runner.behind_s() <= settings.max_age_s
        for runner in runners
    }


async def parked_families(pool: asyncpg.Pool) -> list[Family]:
    """Parked records not re-driven yet, by consumer and reason, as stored (they survive
    restarts, unlike the counters); nothing when the database does not answer."""
    stored = Family(
        "mingdeng_parked_records",
        "gauge",
        "records parked in public.parked_records and not re-driven, by consumer and reason",
    )
    try:
        async with pool.acquire(timeout=2) as connection:
            rows = await connection.fetch(
                """SELECT consumer, reason, count(*) AS n FROM public.parked_records
                   WHERE redriven_at IS NULL GROUP BY consumer, reason ORDER BY 1, 2"""
            )
    except Exception as error:
        if not is_transient(error):
            raise
        log.warning("parked records unknown: %s", error)
        return []
    for row in rows:
        stored.add(row["n"], consumer=row["consumer"], reason=row["reason"])
    return [stored]
