"""Crash trials (issue 9): TERM or KILL hits the scoring worker at a random moment under load,
or while it writes a checkpoint; after each, every inbound event has exactly one status and a
clean replay equals what was published. `bench/crash_trials.py` runs the same trials at length."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.support.crash_trials import CrashRig, tally
from tests.support.history import Bureau

pytestmark = pytest.mark.integration

TRIALS = 10


def test_the_worker_loses_and_doubles_nothing_across_crashes(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    bureau = Bureau(
        members=60, departments=6, branches=3, quarters=3, activity_per_member_quarter=8
    )
    rig = CrashRig(kafka_bootstrap, tmp_path, bureau, rate_per_s=500)
    rng = random.Random(20261125)
    results = []
    try:
        rig.publish(300)  # the registry and some activity before the first trial
        for number in range(TRIALS):
            result = rig.trial(number, rng, per_trial=350)
            results.append(result)
            assert result.passed, f"trial {number} failed: {result} (see {tmp_path})"
        summary = tally(results)
        assert summary["by_signal"].keys() == {"SIGTERM", "SIGKILL"}  # type: ignore[union-attr]
        assert summary["by_moment"].keys() == {"load", "checkpoint"}  # type: ignore[union-attr]
        assert summary["missing"] == summary["doubled"] == summary["replay_mismatches"] == 0
    finally:
        rig.close()
