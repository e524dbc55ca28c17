"""Crash trials of partitioned scoring workers at length (issue 26):
`python bench/scaleout_trials.py [TRIALS] [WORKERS]` (100 and 2 by default) against the tests'
broker (`make bench` starts it). Each trial is one of tests/integration/scoring/test_scaleout.py:
KILL, TERM or a pause past the group's session (a zombie) of a random worker, or a worker
joining, at a random moment under load or right after a close; then every inbound event must
have exactly one status and a clean replay must equal what was published. The tally goes to
bench/results/scaleout-trials.json."""

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
from tests.support.history import Bureau  # noqa: E402
from tests.support.scaleout_trials import ScaleOutRig, tally  # noqa: E402

PER_TRIAL = 160


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    # 8 agencies of 8 members, about 100 events an agency-quarter: enough for every trial
    bureau = Bureau(
        members=8,
        departments=4,
        branches=2,
        first_quarter=Quarter(2000, 1),
        quarters=min(100, 4 + trials // 4),
        activity_per_member_quarter=6,
    )
    rng = random.Random(int(os.environ.get("MINGDENG_TRIAL_SEED", "1")))
    work = tempfile.mkdtemp(prefix="mingdeng-scaleout-")  # kept: a failed trial's logs stay
    rig = ScaleOutRig(
        os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"], Path(work), bureau, workers=workers
    )
    results = []
    try:
        rig.start_all()
        rig.publish(200)
        for number in range(trials):
            result = rig.trial(number, rng, per_trial=PER_TRIAL)
            results.append(result)
            print(
                f"trial {number}: {result.action} at {result.moment} ({result.workers} workers):"
                f" {'ok' if result.passed else 'FAILED'} ({result.seconds} s)",
                flush=True,
            )
            if not result.passed:
                break
    finally:
        rig.close()
    summary = tally(results)
    out = ROOT / "bench" / "results" / "scaleout-trials.json"
    out.write_text(json.dumps({"workers": workers, **summary}, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}, indent=1))
    print(f"worker logs and any replay.log: {work}")
    sys.exit(0 if summary["passed"] == summary["trials"] == trials else 1)


if __name__ == "__main__":
    main()
