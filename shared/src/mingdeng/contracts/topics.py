"""Every Kafka topic of the platform, defined once: name, partitions, key, what it carries."""

from __future__ import annotations

import re
from dataclasses import dataclass

FOREVER = -1
# The largest record batch a topic takes (Kafka's default `max.message.bytes`, set on every
# topic so that a broker configured otherwise does not change it), and the largest request a
# producer sends (aiokafka's and kafka-python's default `max_request_size`): 1 MiB. Every
# message the platform writes is bounded below it by construction (docs/architecture.md).
MAX_RECORD_BATCH_BYTES = 1024 * 1024 + 12
MAX_REQUEST_BYTES = 1024 * 1024

# A `quarter.closed` is published as one copy on every partition of the inbound topic, each with
# this record header: the quarter closes once every partition has been read up to its copy, so
# the final standings hold exactly what was accepted before the close (docs/scoring.md).
BARRIER_HEADER = "mingdeng-barrier"
# What scoring publishes for an agency other than the default one carries its agency in this
# record header (a tombstone too); keys of such records start with `{agency}/`.
AGENCY_HEADER = "mingdeng-agency"


@dataclass(frozen=True)
class Topic:
    """`producers` and `consumers` name who writes and reads the topic in the code, as
    "who (what for)" where a note helps; docs/architecture.md draws them (`flow_diagram`).
    Besides them, `mingdeng dead-letters redrive` may put a corrected record back on any topic
    a consumer parked it from."""

    name: str
    partitions: int
    key: str
    carries: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    compacted: bool = False
    retention_ms: int = FOREVER
    segment_bytes: int | None = None  # a compacted topic read whole on restore: small segments

    @property
    def config(self) -> dict[str, str]:
        config = {
            "cleanup.policy": "compact" if self.compacted else "delete",
            "retention.ms": str(self.retention_ms),
            "max.message.bytes": str(MAX_RECORD_BATCH_BYTES),
        }
        if self.segment_bytes is not None:
            config["segment.bytes"] = str(self.segment_bytes)
            config["min.cleanable.dirty.ratio"] = "0.1"
        return config


EVENTS = Topic(
    name="mingdeng.events.v1",
    partitions=4,
    key="the CloudEvent's `agency` (its `partitionkey`); a record of the default agency may "
    "be keyed by its `subject`, as before agencies",
    carries="accepted CloudEvents of every type in SPEC §2 (the log the platform is sourced from)",
    producers=(
        "upstream systems",
        "gateway (POST /v1/events)",
        "scoring (the barrier copies of a close)",
        "ops (demo data, re-drive)",
    ),
    consumers=("scoring", "notify", "outreach", "gateway projector"),
)
DEAD_LETTER = Topic(
    name="mingdeng.events.dead-letter.v1",
    partitions=1,
    key="the key of the refused record",
    carries="records that failed validation, with the per-field reasons and where they came from",
    producers=("scoring",),
    consumers=("gateway projector", "scoring (reconcile)"),
)
EVENT_STATUS = Topic(
    name="mingdeng.event-status.v1",
    partitions=4,
    key="`source` + ' ' + `id` of the event",
    carries="applied / rejected outcomes of inbound events, for read-your-writes",
    producers=("scoring",),
    consumers=("gateway projector", "scoring (reconcile)"),
    compacted=True,
)
SCORES = Topic(
    name="mingdeng.scores.v1",
    partitions=4,
    key="`{quarter}/{member|department|branch}/{id}`",
    carries="the current Vanguard or Fortress Index of one subject in one quarter, explained",
    producers=("scoring",),
    consumers=("gateway projector", "scoring (replay --verify)"),
    compacted=True,
)
RANKINGS = Topic(
    name="mingdeng.rankings.v1",
    partitions=1,
    key="`{quarter}/{member|department|branch}/{chunk}`",
    carries="a quarter's ranking order in chunks of at most 128 KiB of ids (ranks of every subject)",
    producers=("scoring",),
    consumers=("gateway projector", "scoring (replay --verify)"),
    compacted=True,
)
SELECTIONS = Topic(
    name="mingdeng.selections.v1",
    partitions=1,
    key="the quarter (`2026Q4`) or year (`2026`)",
    carries="provisional or final exemplars, excellent departments and year-end top ten",
    producers=("scoring",),
    consumers=("gateway projector", "notify", "scoring (replay --verify)"),
    compacted=True,
)
REMINDER_REQUESTS = Topic(
    name="mingdeng.reminder-requests.v1",
    partitions=2,
    key="the recipient member id",
    carries="reminders other services ask the notifier to send (e.g. overdue household visits)",
    producers=("outreach",),
    consumers=("notify",),
)
TASKS = Topic(
    name="mingdeng.tasks.v1",
    partitions=2,
    key="the task id",
    carries="the current state of a task (talk follow-up, commendation delivery)",
    producers=("notify",),
    consumers=("gateway projector",),
    compacted=True,
)
NOTIFICATIONS = Topic(
    name="mingdeng.notifications.v1",
    partitions=2,
    key="the message key `{rule}/{recipient}/{cause}`",
    carries="the current status of one outgoing message (queued, sent, failed, suppressed)",
    producers=("notify",),
    consumers=("gateway projector",),
    compacted=True,
)
BULLETINS = Topic(
    name="mingdeng.bulletins.v1",
    partitions=1,
    key="the month (`2026-10`)",
    carries="the monthly bulletin (督查通报) as a document",
    producers=("notify",),
    consumers=("gateway projector",),
    compacted=True,
)
OUTREACH = Topic(
    name="mingdeng.outreach.v1",
    partitions=2,
    key="the projection row key",
    carries="outreach projection changes (pairings, coverage, talks, liaison, suggestions)",
    producers=("outreach",),
    consumers=("gateway projector",),
    compacted=True,
)
SCORING_CHECKPOINTS = Topic(
    name="mingdeng.scoring-checkpoints.v1",
    partitions=EVENTS.partitions,  # a task's checkpoint on the partition of its input's number
    key="`{task}` (a manifest) or `{task}/{checkpoint id}/{n}` (a chunk of its state)",
    carries="scoring's state per input partition, in chunks of 512 KiB, with the input offsets"
    " it covers (runtime.changelog): restored by whichever worker owns the partition next",
    producers=("scoring (checkpoints)",),
    consumers=("scoring (restore)",),
    compacted=True,
    segment_bytes=16 * 1024 * 1024,
)

ALL_TOPICS: tuple[Topic, ...] = (
    EVENTS,
    DEAD_LETTER,
    EVENT_STATUS,
    SCORES,
    RANKINGS,
    SELECTIONS,
    REMINDER_REQUESTS,
    TASKS,
    NOTIFICATIONS,
    BULLETINS,
    OUTREACH,
    SCORING_CHECKPOINTS,
)


def flow_diagram(topics: tuple[Topic, ...] = ALL_TOPICS) -> str:
    """The topics between their producers and consumers, as a mermaid flowchart: a node per
    party ("who"; the note in brackets labels the arrow) and per topic."""
    lines = ["flowchart LR"]
    parties: dict[str, str] = {}

    def party(text: str) -> tuple[str, str]:
        who, _, note = text.partition(" (")
        node = "p_" + re.sub(r"\W+", "_", who)
        if node not in parties:
            parties[node] = who
            lines.append(f'    {node}("{who}")')
        return node, f'|"{note.removesuffix(")")}"|' if note else ""

    for topic in topics:
        node = "t_" + re.sub(r"\W+", "_", topic.name.removeprefix("mingdeng."))
        lines.append(f'    {node}[["{topic.name}"]]')
        for producer in topic.producers:
            source, label = party(producer)
            lines.append(f"    {source} -->{label} {node}")
        for consumer in topic.consumers:
            target, label = party(consumer)
            lines.append(f"    {node} -->{label} {target}")
    return "\n".join(lines) + "\n"
