"""`mingdeng`: operations commands (topics, demo data, dead letters)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from pydantic import TypeAdapter

from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.derived import QuarterSelection, Selection
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.contracts.topics import EVENTS, SELECTIONS
from mingdeng.ops import agencies, dead_letters
from mingdeng.ops.demo import Bureau, LiveActivity, build_demo, commendation_visits, describe
from mingdeng.ops.demo_city import AGENCIES as CITY
from mingdeng.ops.demo_city import COMMITTEE, build_city_agency, registrations
from mingdeng.runtime.agencies import header_agency
from mingdeng.runtime.clients import postgres_connection
from mingdeng.runtime.logs import configure_logging
from mingdeng.runtime.settings import KafkaSettings, PostgresSettings, kafka_settings
from mingdeng.runtime.topics_admin import ensure_topics

log = logging.getLogger("mingdeng.ops")

SCORING_GROUP = "mingdeng-scoring"
SELECTION: TypeAdapter[Selection] = TypeAdapter(Selection)


def producer_for(kafka: KafkaSettings) -> KafkaProducer:
    """A producer as an upstream system would have: acks=all, idempotent."""
    return KafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        client_id="mingdeng-demo",
    )


def publish(kafka: KafkaSettings, events: Iterable[Event[EventData]]) -> int:
    """Publish to the inbound topic: the default agency's events keyed by subject (as before
    agencies), any other agency's by its agency (ADR 0002)."""
    producer = producer_for(kafka)
    count = 0
    try:
        for event in events:
            producer.send(
                kafka.topic(EVENTS),
                key=(event.subject if event.of_default_agency else event.partition_key).encode(),
                value=serialize_event(event),
            )
            count += 1
        producer.flush()
    finally:
        producer.close()
    return count


def wait_until_consumed(kafka: KafkaSettings, group: str, timeout_s: float) -> None:
    """Block until `group` has committed the end of every partition of the inbound topic."""
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    topic = kafka.topic(EVENTS)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        ends = consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_s
        while True:
            committed = admin.list_group_offsets({group: None}).get(group, {})
            behind = sum(
                max(0, ends[tp] - (committed[tp].offset if tp in committed else 0))
                for tp in partitions
            )
            if behind == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{group} is still {behind} events behind after {timeout_s:.0f} s"
                )
            log.info("waiting for %s: %d events to go", group, behind)
            time.sleep(2)
    finally:
        consumer.close()
        admin.close()


def final_exemplars(
    kafka: KafkaSettings, quarters: Iterable[str], timeout_s: float
) -> dict[str, list[str]]:
    """The exemplars of each quarter's final selection, read from scoring's selections topic;
    waits until every quarter named has one."""
    wanted = set(quarters)
    consumer = KafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    topic = kafka.topic(SELECTIONS)
    finals: dict[str, list[str]] = {}
    try:
        consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
        consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout_s
        while not wanted <= set(finals):
            if time.monotonic() > deadline:
                missing = ", ".join(sorted(wanted - set(finals)))
                raise TimeoutError(f"no final selection of {missing} after {timeout_s:.0f} s")
            for record in consumer:
                if record.value is None or header_agency(record.headers) != DEFAULT_AGENCY:
                    continue  # the bureau's exemplars: the default agency's selections
                selection = SELECTION.validate_json(record.value)
                if isinstance(selection, QuarterSelection) and selection.status == "final":
                    finals[selection.quarter] = [e.member_id for e in selection.exemplars]
    finally:
        consumer.close()
    return {quarter: finals[quarter] for quarter in sorted(wanted)}


def load_demo(kafka: KafkaSettings, seed: int, today: date, now: datetime, wait_s: float) -> None:
    """History and this morning, of the bureau and of the other agencies of its city
    (demo_city.py); the past quarters closed once scoring has taken them in; then the leaders'
    commendation visits to the exemplars it selected in the bureau."""
    data = build_demo(seed, today, now if now.date() == today else None)
    count = publish(kafka, data.events)
    print(f"published {count} demo events (today's violation: {data.todays_violation})")
    city = [build_city_agency(agency, seed, today) for agency in CITY]
    count = publish(kafka, [*registrations(now), *(e for d in city for e in d.events)])
    print(f"published {count} events of the city's {len(CITY)} other agencies under 机关工委 "
          f"{COMMITTEE} ({', '.join(f'{a.name} {a.staff}人' for a in CITY)})")  # fmt: skip
    # Closing a quarter freezes it: close only once scoring has taken in the history.
    wait_until_consumed(kafka, kafka.group(SCORING_GROUP), wait_s)
    publish(kafka, [*data.closes, *(e for d in city for e in d.closes)])
    print(f"closed {len(data.closes)} past quarters: {', '.join(e.subject for e in data.closes)}")
    exemplars = final_exemplars(kafka, (e.subject for e in data.closes), wait_s)
    closed = {e.subject: e.time for e in data.closes}
    visits = commendation_visits(data.bureau, exemplars, closed, today, seed)
    publish(kafka, visits)
    print(f"published {len(visits)} commendation visits (喜报到家)")


def run_live(
    kafka: KafkaSettings,
    bureau: Bureau,
    seed: int,
    rate: float,
    stop: threading.Event,
    out: TextIO = sys.stdout,
) -> int:
    """Publish the live trickle at `rate` events a second until `stop` is set; print each
    event as it is sent. Returns how many were published (all flushed)."""
    now = datetime.now(BUSINESS_TZ)
    activity = LiveActivity(bureau, seed, run=f"{now:%Y%m%d%H%M%S}")
    producer = producer_for(kafka)
    topic = kafka.topic(EVENTS)
    started, count = time.monotonic(), 0
    try:
        while not stop.wait(max(0.0, started + count / rate - time.monotonic())):
            for event in activity.next_events(datetime.now(BUSINESS_TZ)):
                producer.send(topic, key=event.subject.encode(), value=serialize_event(event))
                count += 1
                print(describe(event), file=out, flush=True)
    finally:
        producer.flush()
        producer.close()
    return count


def stopped_by_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM (instead of an exception in the middle of a send)."""
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    return stop


def main() -> None:
    parser = argparse.ArgumentParser(prog="mingdeng")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("topics", help="create the platform's Kafka topics")
    demo = commands.add_parser("demo", help="publish the demo bureau through Kafka")
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument(
        "--today", type=date.fromisoformat, help="the demo's today (default: today in Shanghai)"
    )
    demo.add_argument("--wait", type=float, default=300, help="seconds to wait for scoring")
    demo.add_argument(
        "--live",
        action="store_true",
        help="instead of loading the bureau: publish its daily activity until SIGINT or SIGTERM",
    )
    demo.add_argument(
        "--rate", type=float, default=2.0, help="with --live: events a second (default 2)"
    )
    agency_commands = commands.add_parser(
        "agencies", help="agencies on one platform: upgrade, a committee's close"
    ).add_subparsers(dest="action", required=True)
    upgrade = agency_commands.add_parser(
        "upgrade",
        help="register a one-agency installation's agency in the tree and check a replay",
    )
    upgrade.add_argument("--name", required=True, help="the agency's name, e.g. 某市财政局")
    upgrade.add_argument("--committee", required=True, help="the id of its 机关工委")
    upgrade.add_argument("--parent", help="the id of the agency above it, if any")
    closing = agency_commands.add_parser(
        "close-quarter", help="close a quarter for every agency of a 机关工委"
    )
    closing.add_argument("--committee", required=True, help="the id of the 机关工委")
    closing.add_argument("--quarter", required=True, help="e.g. 2026Q3 (it must have ended)")
    closing.add_argument(
        "--wait", type=float, default=120, help="seconds to wait until all are final (0: none)"
    )
    letters = commands.add_parser("dead-letters", help="inspect and re-drive dead letters")
    letter_commands = letters.add_subparsers(dest="action", required=True)
    listing = letter_commands.add_parser("list", help="dead letters not re-driven yet")
    listing.add_argument("--all", action="store_true", help="re-driven ones too")
    show = letter_commands.add_parser("show", help="one dead letter's bytes, as they were")
    show.add_argument("ref", help="the reference `list` prints, e.g. p:mingdeng-notify:…:0:41")
    again = letter_commands.add_parser(
        "redrive", help="publish a corrected record (or the original) to its topic"
    )
    again.add_argument("ref")
    again.add_argument("--file", type=Path, help="the corrected record; `-` for stdin")
    args = parser.parse_args()
    configure_logging("ops")
    kafka = kafka_settings()
    if args.command == "dead-letters":
        sys.exit(asyncio.run(dead_letter_command(args, kafka)))
    if args.command == "agencies":
        sys.exit(agency_command(args, kafka))

    if args.command == "topics":
        created = ensure_topics(kafka)
        print(f"topics ready ({len(created)} created)")
    elif args.command == "demo" and args.live:
        if args.rate <= 0:
            parser.error("--rate must be above 0")
        stop = stopped_by_signals()
        print(f"publishing about {args.rate:g} events a second; Ctrl-C stops", flush=True)
        bureau = build_demo(args.seed, date.today()).bureau
        count = run_live(kafka, bureau, args.seed, args.rate, stop)
        print(f"stopped: published {count} events", flush=True)
    elif args.command == "demo":
        now = datetime.now(BUSINESS_TZ)
        load_demo(kafka, args.seed, args.today or now.date(), now, args.wait)


def agency_command(args: argparse.Namespace, kafka: KafkaSettings) -> int:
    if args.action == "upgrade":
        return agencies.upgrade(kafka, args.name, args.committee, args.parent)

    async def tree() -> list[str]:
        connection = await postgres_connection(PostgresSettings().dsn)
        try:
            return await agencies.committee_agencies(connection, args.committee)
        finally:
            await connection.close()

    members = asyncio.run(tree())
    return agencies.close_quarter(kafka, members, args.quarter, datetime.now(UTC), args.wait)


async def dead_letter_command(args: argparse.Namespace, kafka: KafkaSettings) -> int:
    connection = await postgres_connection(PostgresSettings().dsn)
    try:
        if args.action == "list":
            found = await dead_letters.list_dead_letters(connection, everything=args.all)
            for letter in found:
                done = (
                    f" (re-driven {letter.redriven_at:%Y-%m-%d %H:%M})"
                    if letter.redriven_at
                    else ""
                )
                print(f"{letter.ref}{done}\n    {letter.reason[:200]}\n    {letter.preview()}")
            print(f"{len(found)} dead letters")
        elif args.action == "show":
            letter = await dead_letters.find(connection, args.ref)
            sys.stdout.buffer.write(letter.value or b"")
        else:
            corrected = None
            if args.file is not None:
                corrected = (
                    sys.stdin.buffer.read() if str(args.file) == "-" else args.file.read_bytes()
                )
            try:
                letter = await dead_letters.redrive(connection, kafka, args.ref, corrected)
            except (LookupError, ValueError) as error:
                print(f"not re-driven: {error}", file=sys.stderr)
                return 1
            print(f"re-published {letter.ref} to {letter.origin_topic}")
        return 0
    finally:
        await connection.close()
