"""The scoring worker's crash trials at length: `python bench/crash_trials.py [TRIALS]` (100 by
default) against the tests' broker (`make bench` starts it). Each trial is the one of
tests/integration/scoring/test_crash_trials.py: TERM or KILL at a random moment under load, or
while a checkpoint is written; then every inbound event must have exactly one status and a clean
replay must equal what was published. The tally goes to bench/results/crash-trials.json."""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from mingdeng.contracts.periods import Quarter  # noqa: E402
from tests.support.crash_trials import CrashRig, tally  # noqa: E402
from tests.support.history import Bureau  # noqa: E402

PER_TRIAL = 350


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    # about 750 events a quarter: enough quarters for every trial's load, all in the past
    bureau = Bureau(
        members=60,
        departments=6,
        branches=3,
        first_quarter=Quarter(2012, 1),
        quarters=min(55, 3 + trials // 2),
        activity_per_member_quarter=8,
    )
    rng = random.Random(int(os.environ.get("MINGDENG_TRIAL_SEED", "1")))
    with tempfile.TemporaryDirectory(prefix="mingdeng-crash-") as work:
        rig = CrashRig(
            os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"], Path(work), bureau, rate_per_s=500
        )
        results = []
        try:
            rig.publish(300)
            for number in range(trials):
                result = rig.trial(number, rng, per_trial=PER_TRIAL)
                results.append(result)
                print(
                    f"trial {number}: {result.signal} at {result.moment}: {'ok' if result.passed else 'FAILED'} ({result.seconds} s)",
                    flush=True,
                )
        finally:
            rig.close()
    summary = tally(results)
    out = ROOT / "bench" / "results" / "crash-trials.json"
    out.write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}, indent=1))
    sys.exit(0 if summary["passed"] == summary["trials"] else 1)


if __name__ == "__main__":
    main()
