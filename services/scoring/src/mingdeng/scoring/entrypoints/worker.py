"""The scoring worker: `mingdeng.events.v1` in; statuses, dead letters, scores, selections and
barrier copies out, with the consumed offsets, in one Kafka transaction per task and batch, run
by the stream runtime (`mingdeng.runtime.stream`).

Unpartitioned (the default), one worker runs one task over every partition: the default
agency's history keyed by subject needs them all (ADR 0002). Partitioned
(`MINGDENG_SCORING_PARTITIONED=true`), the workers of the group share a task per partition,
each holding the agencies keyed to it (docs/decisions/0004-scoring-tasks-per-partition.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mingdeng.contracts.topics import EVENTS, SCORING_CHECKPOINTS
from mingdeng.runtime.stream import StreamRunner, StreamSettings
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.service import ScoringService
from mingdeng.scoring.settings import ScoringSettings

log = logging.getLogger(__name__)

GROUP = "mingdeng-scoring"
TRANSACTIONAL_ID = "mingdeng-scoring"


class ScoringTasks:
    """Scoring's tasks for the stream runtime: a service per task, from its checkpoint."""

    def __init__(
        self, settings: ScoringSettings, rules: Rules, clock: Callable[[], datetime]
    ) -> None:
        self.settings = settings
        self.rules = rules
        self.clock = clock

    def task(
        self,
        partitions: tuple[int, ...],
        of: int,
        checkpoint: bytes | None,
        committed: dict[int, int],
    ) -> tuple[ScoringService, dict[int, int]]:
        """A service at its checkpoint, and where to read from; a fresh one and offset 0
        without a usable checkpoint (the finals it holds kept, when written by other rules)."""
        service = self._new_service(partitions, of)
        if checkpoint is None:
            return service, {}
        if not service.restore(checkpoint):
            kept = service.keep_finals_of(checkpoint)
            log.warning(
                "the checkpoint of %s was written by another version or rules: replaying the"
                " log, the final standings of %d closed quarters kept as they were computed",
                partitions,
                kept,
            )
            return service, {}
        start = service.next_offsets()
        if any(offset > committed.get(p, 0) for p, offset in start.items()):
            log.warning(
                "the checkpoint of %s is ahead of the committed offsets: not used", partitions
            )
            return self._new_service(partitions, of), {}
        return service, start

    def _new_service(self, partitions: tuple[int, ...], of: int) -> ScoringService:
        settings = self.settings
        return ScoringService(
            self.rules,
            of,
            clock=self.clock,
            barrier_timeout=timedelta(seconds=settings.barrier_timeout_s),
            selection_interval=timedelta(seconds=settings.selection_interval_s),
            inbound_topic=settings.kafka.topic(EVENTS),
            reads=partitions,
        )


def scoring_runner(
    settings: ScoringSettings,
    rules: Rules | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> StreamRunner:
    kafka = settings.kafka
    return StreamRunner(
        StreamSettings(
            name="scoring",
            topic=kafka.topic(EVENTS),
            changelog_topic=kafka.topic(SCORING_CHECKPOINTS),
            group=kafka.group(GROUP),
            transactional_id=kafka.group(TRANSACTIONAL_ID),
            outputs=kafka.topic,
            bootstrap_servers=kafka.bootstrap_servers,
            partitioned=settings.partitioned,
            spool_dir=settings.data_dir,
            max_batch=settings.max_batch,
            due_interval_s=settings.close_check_interval_s,
            checkpoint_every_s=settings.checkpoint_every_s,
            checkpoint_every_records=settings.checkpoint_every_records,
            ready_max_lag=settings.ready_max_lag,
            retry_backoff_max_s=settings.retry_backoff_max_s,
            session_timeout_ms=settings.session_timeout_ms,
        ),
        ScoringTasks(settings, rules or Rules.load(settings.rules_file), clock),
        clock,
    )
