"""Partitioned scoring workers on the real broker (issue 26): a zombie is fenced, and crash
trials with 2 workers and random KILL / TERM / pauses / a worker joining, some right after a
close, lose and double nothing. `bench/scaleout_trials.py` runs the trials at length."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from mingdeng.contracts.periods import Quarter
from tests.support.history import Bureau
from tests.support.processes import wait_for
from tests.support.scaleout_trials import SESSION_S, ScaleOutRig, tally

pytestmark = pytest.mark.integration

TRIALS = 20
BUREAU = Bureau(
    members=8,
    departments=4,
    branches=2,
    first_quarter=Quarter(2014, 1),
    quarters=12,
    activity_per_member_quarter=6,
)


@pytest.mark.timeout(300)
def test_a_paused_worker_is_fenced_and_nothing_is_doubled(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Worker A is paused while records flow (so it holds records it has not committed), its
    partitions move to B, which takes them on; resumed, A's next transaction is refused
    (fenced by the partition's transactional id) and it joins again with nothing doubled."""
    rig = ScaleOutRig(kafka_bootstrap, tmp_path, BUREAU, workers=2, rate_per_s=300)
    zombie, other = rig.workers
    try:
        rig.start_all()
        rig.publish(200)
        wait_for(lambda: zombie.tasks() == other.tasks() == 2, 60, "two tasks each")
        fenced = 0
        for _ in range(3):  # until a pause catches A holding records (nearly always the first)
            rig.publish(100)
            zombie.signal(signal.SIGSTOP)
            rig.publish(150)
            wait_for(lambda: other.tasks() == 4, 30, "B owns every partition")
            rig.publish(100)
            zombie.signal(signal.SIGCONT)
            wait_for(lambda: zombie.tasks() > 0, 60, "A takes partitions again")
            log = zombie.service.log.read_text()
            fenced = log.count("ProducerFenced") + log.count("InvalidProducerEpoch")
            if fenced:
                break
            time.sleep(SESSION_S)
        assert fenced, f"A was never fenced (see {zombie.service.log})"
        counts = rig._wait_for_statuses()
        assert sum(1 for n in counts.values() if n > 1) == 0
        rig._wait_until_ready()
        time.sleep(1.5)
        assert rig.replay_matches(), f"see {tmp_path / 'replay.log'}"
    finally:
        rig.close()


@pytest.mark.timeout(600)
def test_partitioned_workers_lose_and_double_nothing_across_crashes(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    rig = ScaleOutRig(kafka_bootstrap, tmp_path, BUREAU, workers=2, rate_per_s=400)
    rng = random.Random(20261208)
    results = []
    try:
        rig.start_all()
        rig.publish(200)
        for number in range(TRIALS):
            result = rig.trial(number, rng, per_trial=120)
            results.append(result)
            assert result.passed, f"trial {number} failed: {result} (see {tmp_path})"
        summary = tally(results)
        assert summary["by_action"].keys() == {"SIGKILL", "SIGTERM", "pause", "join"}  # type: ignore[union-attr]
        assert summary["by_moment"].keys() == {"load", "close"}  # type: ignore[union-attr]
        assert summary["missing"] == summary["doubled"] == summary["replay_mismatches"] == 0
    finally:
        rig.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("action", "moment"),
    [("join", "close"), ("SIGTERM", "close"), ("SIGKILL", "close"), ("join", "load")],
)
def test_a_rebalance_right_after_a_close_or_under_load_loses_and_doubles_nothing(
    kafka_bootstrap: str, tmp_path: Path, action: str, moment: str
) -> None:
    """Issue 26's named cases, each on purpose rather than at random: a rebalance (a worker
    joining, one stopped or killed) while the workers apply a close they have just been sent,
    and a worker joining under load."""
    rig = ScaleOutRig(kafka_bootstrap, tmp_path, BUREAU, workers=2, rate_per_s=400)
    try:
        rig.start_all()
        rig.publish(200)
        wait_for(lambda: sum(w.tasks() for w in rig.workers) == 4, 60, "the partitions owned")
        for number in range(2):
            result = rig.trial(number, random.Random(number), 120, action, moment)
            assert result.passed, f"{result} (see {tmp_path})"
    finally:
        rig.close()
