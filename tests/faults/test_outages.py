"""Readiness tells the truth: while the broker or the database is away, each service's
`/readyz` answers 503 within a few seconds, and 200 again once it is back."""

from __future__ import annotations

import time

import pytest

from tests.support.platform import Platform, deploy_script, stop_dependency
from tests.support.processes import answers, wait_for

pytestmark = pytest.mark.faults
NOT_READY_WITHIN_S = 5
READY_AGAIN_WITHIN_S = 60


def seconds_until(
    platform: Platform, names: list[str], ready: bool, limit_s: float
) -> dict[str, float]:
    """For each service, seconds until its /readyz answers 200 (ready) or anything else."""
    started, seen = time.monotonic(), {}
    while len(seen) < len(names) and time.monotonic() - started < limit_s:
        for name in names:
            if name not in seen and answers(platform.services[name].ready) == ready:
                seen[name] = round(time.monotonic() - started, 1)
        time.sleep(0.2)
    return seen


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("dependency", "readers"),
    [
        ("kafka", ["gateway", "scoring", "notify", "outreach"]),
        ("postgres", ["gateway", "notify", "outreach"]),  # scoring keeps no tables
    ],
)
def test_readyz_says_not_ready_while_a_dependency_is_away(
    platform: Platform, infrastructure_scripts: None, dependency: str, readers: list[str]
) -> None:
    wait_for(lambda: all(answers(s.ready) for s in platform.services.values()), 120, "ready")
    stop_dependency(dependency)  # Kafka: kill -9; PostgreSQL: a fast shutdown
    try:
        went = seconds_until(platform, readers, ready=False, limit_s=NOT_READY_WITHIN_S + 5)
        stayed = [n for n in readers if answers(platform.services[n].ready)]
    finally:
        deploy_script(f"{dependency}/start.sh")
    back = seconds_until(platform, readers, ready=True, limit_s=READY_AGAIN_WITHIN_S)
    print(f"{dependency} stopped: not ready after {went} s; started: ready after {back} s")
    assert sorted(went) == sorted(readers), f"still ready without {dependency}: {stayed}"
    assert max(went.values()) <= NOT_READY_WITHIN_S, went
    assert sorted(back) == sorted(readers), f"not ready again within a minute: {back}"
