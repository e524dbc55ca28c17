"""Crash trials of partitioned scoring workers at length (issue 26):
`python bench/scaleout_trials.py [TRIALS] [WORKERS] [--action A] [--moment M]` (100 and 2 by
default) against the tests' broker (`make bench` starts it). Each trial is one of
tests/integration/scoring/test_scaleout.py: KILL, TERM or a pause past the group's session (a zombie) of a random worker, or a worker
joining, at a random moment under load or right after a close; then every inbound event must
have exactly one status and a clean replay must equal what was published. The tally goes to
bench/results/scaleout-trials.json; a run aimed at one fault (`--action SIGTERM --moment close`)
writes its tally beside the workers' logs only."""

from __future__ import annotations

import argparse
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
from tests.support.scaleout_trials import ACTIONS, ScaleOutRig, tally  # noqa: E402

PER_TRIAL = 160


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trials", type=int, nargs="?", default=100)
    parser.add_argument("workers", type=int, nargs="?", default=2)
    parser.add_argument("--action", choices=ACTIONS, help="every trial's fault (random by default)")
    parser.add_argument("--moment", choices=("load", "close"), help="when it hits")
    args = parser.parse_args()
    trials, workers = args.trials, args.workers
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
            result = rig.trial(number, rng, PER_TRIAL, args.action, args.moment)
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
    aimed = args.action is not None or args.moment is not None
    out = (
        Path(work) / "tally.json" if aimed else ROOT / "bench" / "results" / "scaleout-trials.json"
    )
    out.write_text(
        json.dumps(
            {"workers": workers, "action": args.action, "moment": args.moment, **summary}, indent=1
        )
    )
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}, indent=1))
    print(f"worker logs and any replay.log: {work}")
    sys.exit(0 if summary["passed"] == summary["trials"] == trials else 1)


if __name__ == "__main__":
    main()
