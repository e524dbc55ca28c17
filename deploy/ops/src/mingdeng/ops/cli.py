"""`mingdeng`: operations commands (topics, demo data, dead letters)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import asyncpg
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.topics import EVENTS
from mingdeng.ops import dead_letters
from mingdeng.ops.demo import build_demo
from mingdeng.runtime.logs import configure_logging
from mingdeng.runtime.settings import KafkaSettings, PostgresSettings, kafka_settings
from mingdeng.runtime.topics_admin import ensure_topics

log = logging.getLogger("mingdeng.ops")

SCORING_GROUP = "mingdeng-scoring"


def publish(kafka: KafkaSettings, events: Iterable[Event[EventData]]) -> int:
    """Publish to the inbound topic as an upstream system would: keyed by subject, acks=all."""
    producer = KafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        client_id="mingdeng-demo",
    )
    count = 0
    try:
        for event in events:
            producer.send(
                kafka.topic(EVENTS), key=event.subject.encode(), value=serialize_event(event)
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="mingdeng")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("topics", help="create the platform's Kafka topics")
    demo = commands.add_parser("demo", help="publish the demo bureau through Kafka")
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--today", type=date.fromisoformat, default=date.today())
    demo.add_argument("--wait", type=float, default=300, help="seconds to wait for scoring")
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

    if args.command == "topics":
        created = ensure_topics(kafka)
        print(f"topics ready ({len(created)} created)")
    elif args.command == "demo":
        data = build_demo(args.seed, args.today)
        count = publish(kafka, data.events)
        print(f"published {count} demo events")
        # Closing a quarter freezes it: close only once scoring has taken in the history.
        wait_until_consumed(kafka, kafka.group(SCORING_GROUP), args.wait)
        publish(kafka, data.closes)
        print(
            f"closed {len(data.closes)} past quarters: {', '.join(e.subject for e in data.closes)}"
        )


async def dead_letter_command(args: argparse.Namespace, kafka: KafkaSettings) -> int:
    connection = await asyncpg.connect(PostgresSettings().dsn)
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
