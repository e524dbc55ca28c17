"""mingdeng-scoring run | replay | reconcile | simulate | rebuild"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path

from mingdeng.contracts.codec import record_agency, record_identity
from mingdeng.contracts.derived import DeadLetter
from mingdeng.contracts.periods import Quarter
from mingdeng.contracts.topics import (
    DEAD_LETTER,
    EVENT_STATUS,
    EVENTS,
    RANKINGS,
    SCORES,
    SCORING_CHECKPOINTS,
    SELECTIONS,
)
from mingdeng.runtime.agencies import agency_key
from mingdeng.runtime.changelog import ChangelogStore
from mingdeng.runtime.clients import kafka_producer
from mingdeng.runtime.logs import configure_logging
from mingdeng.runtime.stream import Publication
from mingdeng.runtime.worker import run_until_stopped
from mingdeng.scoring.adapters.kafka_log import (
    GroupNotEmpty,
    latest_by_key,
    partition_count,
    read_log,
    reset_group,
)
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.entrypoints.worker import GROUP, scoring_runner
from mingdeng.scoring.service import ScoringService
from mingdeng.scoring.settings import ScoringSettings

log = logging.getLogger(__name__)
PUBLISHED = (SCORES, RANKINGS, SELECTIONS)  # what replay --verify compares


async def fold_log(
    settings: ScoringSettings,
    rules: Rules,
    progress: bool = False,
    keep_closed_years: bool = False,
    frozen_finals: bool = True,
) -> tuple[ScoringService, dict[tuple[str, bytes], bytes]]:
    """A fresh service fed the inbound log from offset 0, and the newest value it would have
    published for every score and selection key. With `frozen_finals`, quarters closed under
    earlier rules keep the finals of the worker's checkpoint, as the worker does."""
    kafka = settings.kafka
    topic = kafka.topic(EVENTS)
    partitions = await partition_count(kafka.bootstrap_servers, topic)
    service = ScoringService(rules, partitions, keep_closed_years=keep_closed_years, statuses=False)
    if frozen_finals:  # the finals the worker's tasks hold
        for checkpoint, _ in (await changelog(settings).read(list(range(partitions)))).values():
            service.keep_finals_of(checkpoint)
    published: dict[tuple[str, bytes], bytes] = {}
    started, shown = time.monotonic(), 0.0

    def keep(publications: list[Publication]) -> None:
        for p in publications:
            if p.topic in PUBLISHED:
                if p.value is None:
                    published.pop((p.topic.name, p.key), None)
                else:
                    published[(p.topic.name, p.key)] = p.value

    async for batch in read_log(kafka.bootstrap_servers, topic):
        keep(service.take(batch))  # the final standings of quarters closed on the way
        if progress and time.monotonic() - shown > 2:
            shown = time.monotonic()
            rate = service.taken / (shown - started)
            print(f"replayed {service.taken:,} records ({rate:,.0f}/s)", file=sys.stderr)
    keep(service.publish_changes())  # the rest as it stands at the end
    return service, published


def changelog(settings: ScoringSettings) -> ChangelogStore:
    kafka = settings.kafka
    return ChangelogStore(kafka.bootstrap_servers, kafka.topic(SCORING_CHECKPOINTS))


async def replay(settings: ScoringSettings, verify: bool) -> int:
    """Recompute every score and selection from offset 0; with --verify, compare them with the
    ones the live worker published."""
    started = time.monotonic()
    service, replayed = await fold_log(settings, Rules.load(settings.rules_file), progress=True)
    elapsed = time.monotonic() - started
    rate = service.taken / elapsed if elapsed else 0.0
    print(f"replayed {service.taken:,} records in {elapsed:.2f} s ({rate:,.0f}/s)")
    if not verify:
        for (topic, key), value in sorted(replayed.items()):
            print(
                json.dumps(
                    {"topic": topic, "key": key.decode(), "value": json.loads(value)},
                    ensure_ascii=False,
                )
            )
        return 0
    kafka = settings.kafka
    live: dict[tuple[str, bytes], bytes] = {}
    for published in PUBLISHED:
        latest = await latest_by_key(kafka.bootstrap_servers, kafka.topic(published))
        live.update({(published.name, key): value for key, value in latest.items()})
    differing = sorted(k for k in replayed.keys() | live.keys() if replayed.get(k) != live.get(k))
    for name, key in differing[:20]:
        print(f"differs: {name} {key.decode(errors='replace')}", file=sys.stderr)
        for side, values in (("replayed", replayed), ("live", live)):
            found = values.get((name, key))
            shown = found.decode(errors="replace")[:400] if found else None
            print(f"  {side}: {shown}", file=sys.stderr)
    print(f"{len(replayed)} results replayed; {len(differing)} differ from the live ones")
    return 1 if differing else 0


async def reconcile(settings: ScoringSettings, metrics_file: Path | None) -> int:
    """Every inbound record must have a status (by its agency, source and id) or a dead letter
    (by partition and offset). Names each one that has neither."""
    kafka = settings.kafka
    statuses = await latest_by_key(kafka.bootstrap_servers, kafka.topic(EVENT_STATUS))
    dead: set[tuple[int, int]] = set()
    async for batch in read_log(kafka.bootstrap_servers, kafka.topic(DEAD_LETTER)):
        for record in batch:
            try:
                letter = DeadLetter.model_validate_json(record.value or b"")
            except ValueError:
                continue
            if letter.topic == kafka.topic(EVENTS) or letter.topic == EVENTS.name:
                dead.add((letter.partition, letter.offset))
    missing: list[str] = []
    total = 0
    async for batch in read_log(kafka.bootstrap_servers, kafka.topic(EVENTS)):
        for record in batch:
            total += 1
            if (record.partition, record.offset) in dead:
                continue
            identity = record_identity(record.value, record.headers)
            agency = record_agency(record.value, record.headers)
            key = None if identity is None else agency_key(agency, f"{identity[0]} {identity[1]}")
            if key is None or key not in statuses:
                where = f"{record.partition}:{record.offset}"
                missing.append(f"{where} {key.decode() if key else '(unreadable, no dead letter)'}")
    for line in missing:
        print(f"no status: {line}")
    print(f"{total:,} inbound records; {len(missing)} without a status or dead letter")
    if metrics_file is not None:
        await asyncio.to_thread(
            metrics_file.write_text,
            "# HELP mingdeng_scoring_unreconciled_events inbound records without a status\n"
            "# TYPE mingdeng_scoring_unreconciled_events gauge\n"
            f"mingdeng_scoring_unreconciled_events {len(missing)}\n",
        )
    return 1 if missing else 0


async def simulate(
    settings: ScoringSettings, rules_file: Path, quarter: Quarter | None, top: int
) -> int:
    """What the standings would be under another rules file. Publishes nothing."""
    rules = Rules.load(settings.rules_file), Rules.load(rules_file)
    current, trial = [
        (await fold_log(settings, r, keep_closed_years=True, frozen_finals=False))[0] for r in rules
    ]
    current_engine, trial_engine = current.engine, trial.engine
    for q in [quarter] if quarter else current_engine.quarters():
        now, then = current_engine.standings(q), trial_engine.standings(q)
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


async def rebuild(settings: ScoringSettings) -> int:
    """Forget the tasks' checkpoints and the committed offsets: the next start replays the
    inbound log from offset 0. Stop the workers first."""
    kafka = settings.kafka
    try:  # first: with a partitioned worker still in the group, nothing is dropped
        await reset_group(settings.kafka.bootstrap_servers, settings.kafka.group(GROUP))
    except GroupNotEmpty as error:
        print(f"nothing dropped: {error}", file=sys.stderr)
        return 1
    partitions = await partition_count(kafka.bootstrap_servers, kafka.topic(EVENTS))
    store = changelog(settings)
    found = await store.read(list(range(partitions)))
    producer = kafka_producer(kafka.bootstrap_servers, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for task, (_, manifest) in found.items():
            await store.forget(producer, task, manifest)
    finally:
        await producer.stop()
    print("checkpoint and offsets dropped; the next start replays the inbound log")
    return 0


async def run(settings: ScoringSettings) -> None:
    """`/healthz`, `/readyz` (the broker answers; consuming and caught up) and `/metrics`
    (lag per partition, partitions held at a barrier, tasks, checkpoint age, …)."""
    runner = scoring_runner(settings)
    await run_until_stopped(
        name="scoring",
        health_host=settings.web_host,
        health_port=settings.web_port,
        readiness=runner.readiness,
        loops=[runner.run],
        metrics=runner.metrics_text,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="mingdeng-scoring")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the worker until SIGTERM")
    replay_cmd = commands.add_parser("replay", help="recompute all results from offset 0")
    replay_cmd.add_argument("--verify", action="store_true", help="compare with the live results")
    reconcile_cmd = commands.add_parser(
        "reconcile", help="name every inbound event without a status or dead letter"
    )
    reconcile_cmd.add_argument("--metrics-file", type=Path, help="also write a Prometheus textfile")
    sim = commands.add_parser("simulate", help="standings under another rules file (what-if)")
    sim.add_argument("--rules", type=Path, required=True)
    sim.add_argument("--quarter", type=Quarter.parse)
    sim.add_argument("--top", type=int, default=15)
    commands.add_parser("rebuild", help="drop worker state; the next start replays from offset 0")
    args = parser.parse_args()
    configure_logging("scoring")
    settings = ScoringSettings()
    match args.command:
        case "run":
            asyncio.run(run(settings))
        case "replay":
            sys.exit(asyncio.run(replay(settings, args.verify)))
        case "reconcile":
            sys.exit(asyncio.run(reconcile(settings, args.metrics_file)))
        case "simulate":
            sys.exit(asyncio.run(simulate(settings, args.rules, args.quarter, args.top)))
        case _:
            sys.exit(asyncio.run(rebuild(settings)))
