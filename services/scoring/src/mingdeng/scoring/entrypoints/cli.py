"""mingdeng-scoring run | replay | simulate | rebuild"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import faust

from mingdeng.contracts.codec import parse_event
from mingdeng.contracts.periods import Quarter
from mingdeng.contracts.topics import EVENTS, SCORES, SCORING_FACTS, SELECTIONS
from mingdeng.runtime.logs import configure_logging
from mingdeng.scoring.adapters.kafka_log import (
    commit_start_where_missing,
    delete_topics,
    latest_by_key,
    read_from_start,
    reset_group_to_start,
)
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.entrypoints.worker import APP_ID, STALLED_EXIT, create_app
from mingdeng.scoring.service import ScoringService
from mingdeng.scoring.settings import ScoringSettings


def fold_facts(settings: ScoringSettings, rules: Rules) -> ScoringService:
    """A fresh service fed the scoring-facts log from offset 0, in the order scoring took it."""
    service = ScoringService(rules)
    kafka = settings.kafka
    for _, value in read_from_start(kafka.bootstrap_servers, kafka.topic(SCORING_FACTS)):
        service.handle(parse_event(value))
    return service


def replay(settings: ScoringSettings, verify: bool) -> int:
    """Recompute every published score and selection from offset 0 and compare with the live ones."""
    outgoing = fold_facts(settings, Rules.load(settings.rules_file)).flush()
    if not verify:
        print(json.dumps([json.loads(o.value) for o in outgoing], ensure_ascii=False, indent=1))
        return 0
    kafka = settings.kafka
    live = {
        topic.name: latest_by_key(kafka.bootstrap_servers, kafka.topic(topic))
        for topic in (SCORES, SELECTIONS)
    }
    mismatches = [o for o in outgoing if live[o.topic.name].get(o.key) != o.value]
    for o in mismatches[:20]:
        print(f"differs: {o.topic.name} {o.key}", file=sys.stderr)
    print(f"replayed {len(outgoing)} messages; {len(mismatches)} differ from the live ones")
    return 1 if mismatches else 0


def simulate(settings: ScoringSettings, rules_file: Path, quarter: Quarter | None, top: int) -> int:
    """What the standings would be under another rules file. Publishes nothing."""
    current = fold_facts(settings, Rules.load(settings.rules_file)).engine
    trial = fold_facts(settings, Rules.load(rules_file)).engine
    for q in [quarter] if quarter else current.quarters():
        now, then = current.standings(q), trial.standings(q)
        before = {m.member_id: (rank, m.index) for rank, m in enumerate(now.members, 1)}
        print(f"\n{q}: rules {now.rules_version} -> {then.rules_version}")
        print(f"{'rank':>4} {'member':<10} {'index':>7} {'was':>7} {'rank was':>8}")
        for rank, m in enumerate(then.members[:top], 1):
            was_rank, was_index = before.get(m.member_id, (0, 0.0))
            print(f"{rank:>4} {m.member_id:<10} {m.index:>7.2f} {was_index:>7.2f} {was_rank:>8}")
        print(f"exemplars: {', '.join(then.exemplars)} (were {', '.join(now.exemplars)})")
        print(
            f"excellent departments: {', '.join(then.excellent_departments)}"
            f" (were {', '.join(now.excellent_departments)})"
        )
    return 0


def rebuild(settings: ScoringSettings) -> int:
    """Drop the worker's state so that its next start rebuilds everything from offset 0.
    Stop the worker first: a live member of the group keeps its offsets."""
    kafka = settings.kafka
    app_id = kafka.group(APP_ID)
    dropped = delete_topics(kafka.bootstrap_servers, f"{app_id}-", "-changelog")
    reset_group_to_start(kafka.bootstrap_servers, app_id, kafka.topic(SCORING_FACTS))
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    print(
        f"dropped {', '.join(dropped) or 'no changelogs'}; the next start replays {kafka.topic(SCORING_FACTS)}"
    )
    return 0


def supervise(settings: ScoringSettings) -> int:
    """Run the faust worker as a child process; start it again when it reports a stall."""
    while True:
        child = subprocess.Popen([sys.argv[0], "run-worker"])

        def forward(signum: int, _frame: object, child: subprocess.Popen[bytes] = child) -> None:
            child.send_signal(signum)

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, forward)
        code = child.wait()
        if code != STALLED_EXIT:
            return code
        logging.getLogger(__name__).warning("the worker stalled; starting it again")
        time.sleep(1)


def run(settings: ScoringSettings) -> None:
    kafka = settings.kafka
    committed = commit_start_where_missing(
        kafka.bootstrap_servers,
        kafka.group(APP_ID),
        [kafka.topic(EVENTS), kafka.topic(SCORING_FACTS)],
    )
    if committed:
        logging.getLogger(__name__).info("starting %s from offset 0", ", ".join(committed))
    faust.Worker(create_app(settings), loglevel="INFO").execute_from_commandline()


def main() -> None:
    parser = argparse.ArgumentParser(prog="mingdeng-scoring")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the faust worker, restarting it if it stalls")
    commands.add_parser("run-worker", help="run the faust worker itself (what `run` supervises)")
    replay_cmd = commands.add_parser("replay", help="recompute all results from offset 0")
    replay_cmd.add_argument("--verify", action="store_true", help="compare with the live results")
    sim = commands.add_parser("simulate", help="standings under another rules file (what-if)")
    sim.add_argument("--rules", type=Path, required=True)
    sim.add_argument("--quarter", type=Quarter.parse)
    sim.add_argument("--top", type=int, default=15)
    commands.add_parser("rebuild", help="drop worker state; the next start rebuilds from offset 0")
    args = parser.parse_args()
    configure_logging("scoring")
    settings = ScoringSettings()
    if args.command == "run":
        sys.exit(supervise(settings))
    elif args.command == "run-worker":
        run(settings)
    elif args.command == "replay":
        sys.exit(replay(settings, args.verify))
    elif args.command == "simulate":
        sys.exit(simulate(settings, args.rules, args.quarter, args.top))
    else:
        sys.exit(rebuild(settings))
