"""The notifier: events in, messages and tasks out, through an outbox in PostgreSQL.

- `handle` (ProjectionRunner handler) keeps what the rules read and evaluates them in the
  runner's transaction: messages are enqueued with the consumed offsets, once per key.
- `dispatch` claims a message ('sending', committed), calls the provider, records the outcome.
- `reconcile` settles messages a crash left 'sending' by asking the providers, never by
  sending blindly again.
- `run_schedules` claims each period of a schedule in PostgreSQL, so that it runs once
  however many notifiers run, and enqueues its messages in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta

import asyncpg
from pydantic import TypeAdapter

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import parse_event
from mingdeng.contracts.derived import QuarterSelection, ReminderRequest, Selection
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.contracts.topics import EVENTS, REMINDER_REQUESTS, SELECTIONS, Topic
from mingdeng.notify.adapters import outbox
from mingdeng.notify.adapters.providers import Outgoing, ProviderChain, ProviderError
from mingdeng.notify.adapters.templates import Template
from mingdeng.notify.domain import rules
from mingdeng.notify.domain.delivery import (
    QUIET_HOURS,
    Limit,
    QuietHours,
    after_quiet_hours,
    after_rate_limits,
    backoff,
)
from mingdeng.notify.domain.rules import Message
from mingdeng.notify.domain.state import NotifyState
from mingdeng.runtime import event_store
from mingdeng.runtime.projection import Record
from mingdeng.runtime.settings import KafkaSettings

log = logging.getLogger(__name__)

EVENT_TABLE = "notify.events"

SELECTION: TypeAdapter[Selection] = TypeAdapter(Selection)
READS = (
    ev.MemberRegistered,
    ev.MemberLeft,
    ev.MemberPreferencesSet,
    ev.DepartmentRegistered,
    ev.ViolationLogged,
    ev.ViolationRetracted,
    ev.TalkHeld,
    ev.VisitMade,
    ev.MaximSubmitted,
    ev.MaximApproved,
    ev.LectureDelivered,
    ev.LectureAttended,
    ev.QuarterClosed,
)
# What the task and message rules read; the rest (lectures, household and community visits,
# maxims) only feeds the bulletin and the maxim, which are read at their scheduled time.
RULE_INPUTS = (
    ev.MemberRegistered,
    ev.MemberLeft,
    ev.DepartmentRegistered,
    ev.ViolationLogged,
    ev.ViolationRetracted,
    ev.TalkHeld,
    ev.QuarterClosed,
)
MAXIM_AT, MAXIM_UNTIL = time(8, 0), time(22, 0)
BULLETIN_AT = time(9, 0)


class NotifyService:
    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        templates: dict[str, Template],
        providers: ProviderChain,
        limits: Sequence[Limit],
        clock: Callable[[], datetime],
        max_attempts: int = 8,
        settle_after: timedelta = timedelta(seconds=60),
        quiet_hours: QuietHours | None = QUIET_HOURS,
    ) -> None:
        self.quiet_hours = quiet_hours
        self.state = NotifyState()
        self.selections: dict[str, QuarterSelection] = {}
        self._topics: dict[str, Topic] = {
            kafka.topic(t): t for t in (EVENTS, SELECTIONS, REMINDER_REQUESTS)
        }
        self.topic_names = list(self._topics)
        self.templates, self.providers, self.limits = templates, providers, limits
        self.clock, self.max_attempts, self.settle_after = clock, max_attempts, settle_after

    async def reload(self, connection: asyncpg.Connection) -> None:
        """Fold the state again from what was committed (after a transaction rolled back)."""
        self.state, self.selections = NotifyState(), {}
        await self.load(connection)

    async def load(self, connection: asyncpg.Connection) -> None:
        for event in await event_store.load(connection, EVENT_TABLE):
            self.state.apply(event)
        for row in await connection.fetch("SELECT body FROM notify.selections"):
            selection = QuarterSelection.model_validate_json(row["body"])
            self.selections[selection.quarter] = selection

    # --- intake ---------------------------------------------------------------------------

    async def handle(self, connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        requests, rules_read_it = [], False
        for record in records:
            topic = self._topics[record.topic]
            if topic is EVENTS:
                rules_read_it |= await self._take_event(connection, record)
            elif topic is SELECTIONS:
                rules_read_it |= await self._take_selection(connection, record)
            elif record.value is not None:  # unreadable: raised; the runner parks the record
                requests.append(ReminderRequest.model_validate_json(record.value))
        for request in requests:
            await self.enqueue(connection, rules.overdue_visit_reminder(request))
        if rules_read_it:  # evaluating touches every violation and task: only when it can matter
            await self.evaluate(connection)

    async def _take_event(self, connection: asyncpg.Connection, record: Record) -> bool:
        """Keep an event the notifier reads; True when a rule reads it too."""
        try:
            event = parse_event(record.value or b"")
        except InvalidEvent:
            return False  # scoring dead-letters invalid inbound events, with their reasons
        if not isinstance(event.data, READS):
            return False
        for new in await event_store.keep(connection, EVENT_TABLE, [event]):
            self.state.apply(new)
            return isinstance(new.data, RULE_INPUTS) or (
                isinstance(new.data, ev.VisitMade) and new.data.kind == "commendation"
            )
        return False  # already kept: a redelivery

    async def _take_selection(self, connection: asyncpg.Connection, record: Record) -> bool:
        """Keep a final quarter selection (commendation tasks come from it); True if it was one.
        An unreadable one is raised, and the runner parks the record with the reason."""
        if record.value is None:
            return False  # a tombstone
        selection = SELECTION.validate_json(record.value)
        if isinstance(selection, QuarterSelection) and selection.status == "final":
            await connection.execute(
                "INSERT INTO notify.selections VALUES ($1, $2) ON CONFLICT (quarter) DO UPDATE SET body = EXCLUDED.body",
                selection.quarter,
                selection.model_dump_json(),
            )
            self.selections[selection.quarter] = selection
            return True
        return False

    async def evaluate(self, connection: asyncpg.Connection) -> None:
        """Apply every rule to the current state. Safe to repeat: one message per key."""
        now = self.clock()
        for violation_id in sorted(self.state.violations):
            for message in rules.violation_reminders(self.state, violation_id):
                await self.enqueue(connection, message)
            task = rules.talk_task(self.state, violation_id, now)
            if task is not None:
                await outbox.save_task(connection, task)
        for quarter, selection in sorted(self.selections.items()):
            closed_at = self.state.closes.get(quarter, now)
            for task in rules.commendation_tasks(self.state, selection, closed_at):
                await outbox.save_task(connection, task)
                await self.enqueue(connection, rules.commendation_assigned(self.state, task))

    async def enqueue(self, connection: asyncpg.Connection, message: Message) -> bool:
        now = self.clock()
        recipient = self.state.recipient(message.recipient_id)
        template = self.templates[message.rule]
        phone = recipient.phone if recipient else None
        status, reason = "queued", None
        if recipient is None:
            status, reason = "suppressed", "the recipient is not registered"
        elif phone is None:
            status, reason = "suppressed", "the recipient has no phone number"
        elif message.stale_after is not None and now > message.stale_after:
            status, reason = (
                "suppressed",
                f"out of date: relevant until {message.stale_after.isoformat()}",
            )
        return await outbox.enqueue(
            connection,
            key=message.key,
            rule=message.rule,
            recipient_id=message.recipient_id,
            cause=message.cause,
            phone=phone,
            text=template.render(message.params),
            params=message.params,
            urgent=message.urgent,
            not_before=after_quiet_hours(now, message.urgent, self.quiet_hours),
            status=status,
            reason=reason,
        )

    # --- delivery -------------------------------------------------------------------------

    async def dispatch(self, pool: asyncpg.Pool) -> bool:
        """Send one due message; False when none is due."""
        now = self.clock()
        async with pool.acquire() as connection, connection.transaction():
            row = await outbox.claim_next(connection, now)
        if row is None:
            return False
        assert row.phone is not None
        async with pool.acquire() as connection:
            sent = await outbox.sent_to(
                connection, row.phone, now - max(limit.window for limit in self.limits)
            )
            allowed = after_rate_limits(now, sent, self.limits)
            if allowed > now:  # per-number limit: wait, and do not count this as an attempt
                await connection.execute(
                    "UPDATE notify.outbox SET attempts = attempts - 1 WHERE key = $1", row.key
                )
                await outbox.settle(
                    connection,
                    row.key,
                    now,
                    status="queued",
                    not_before=allowed,
                    reason="per-number limit",
                )
                return True
        outgoing = Outgoing(row.key, row.phone, self.templates[row.rule], row.params, row.text)
        try:
            provider, message_id = await self.providers.send(outgoing)
        except ProviderError as error:
            await self._after_failure(pool, row, error)
            return True
        async with pool.acquire() as connection:
            await outbox.settle(
                connection,
                row.key,
                self.clock(),
                status="sent",
                provider=provider,
                provider_message_id=message_id,
            )
        return True

    async def _after_failure(
        self, pool: asyncpg.Pool, row: outbox.Row, error: ProviderError
    ) -> None:
        now = self.clock()
        async with pool.acquire() as connection:
            if error.kind == "permanent" or (
                error.kind == "transient" and row.attempts >= self.max_attempts
            ):
                log.error("message %s failed: %s", row.key, error)
                await outbox.settle(connection, row.key, now, status="failed", reason=str(error))
            else:
                wait = (
                    error.retry_after
                    if error.kind == "flow_control" and error.retry_after
                    else backoff(row.attempts)
                )
                log.warning("message %s: %s; again in %s", row.key, error, wait)
                await outbox.settle(
                    connection,
                    row.key,
                    now,
                    status="queued",
                    reason=str(error),
                    not_before=now + wait,
                )

    async def reconcile(self, pool: asyncpg.Pool) -> int:
        """Settle messages left 'sending' by a crash: sent if a provider has them, else queued."""
        now = self.clock()
        async with pool.acquire() as connection:
            stuck = await outbox.unsettled(connection, now - self.settle_after)
        for row in stuck:
            assert row.phone is not None and row.claimed_at is not None
            outgoing = Outgoing(row.key, row.phone, self.templates[row.rule], row.params, row.text)
            try:
                found = await self.providers.find(outgoing, row.claimed_at - timedelta(minutes=5))
            except ProviderError as error:
                log.warning("cannot settle %s yet: %s", row.key, error)
                continue
            async with pool.acquire() as connection:
                if found is not None:
                    await outbox.settle(
                        connection,
                        row.key,
                        now,
                        status="sent",
                        provider=found[0],
                        provider_message_id=found[1],
                        reason="settled with the provider after a restart",
                    )
                else:
                    await outbox.settle(
                        connection,
                        row.key,
                        now,
                        status="queued",
                        reason="not sent before a restart; the provider has no record of it",
                    )
        return len(stuck)

    # --- schedules ------------------------------------------------------------------------

    async def run_schedules(self, pool: asyncpg.Pool) -> list[str]:
        """The daily maxim (08:00), the monthly bulletin (1st, 09:00), overdue commendations."""
        now = self.clock()
        local = now.astimezone(BUSINESS_TZ)
        ran = []
        has_maxim = rules.maxim_of_the_day(self.state, {}) is not None
        if (
            has_maxim
            and MAXIM_AT <= local.time() < MAXIM_UNTIL
            and await self._claimed(pool, "daily_maxim", local.date().isoformat(), self._maxims)
        ):
            ran.append(f"daily_maxim {local.date()}")
        if local.time() >= BULLETIN_AT or local.day > 1:
            previous = (local.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
            if await self._claimed(pool, "bulletin", previous, self._bulletin):
                ran.append(f"bulletin {previous}")
        async with pool.acquire() as connection, connection.transaction():
            for message in rules.overdue_commendations(
                self.state, await outbox.tasks(connection), now
            ):
                await self.enqueue(connection, message)
        return ran

    async def _claimed(
        self, pool: asyncpg.Pool, schedule: str, period: str, action: Callable[..., object]
    ) -> bool:
        async with pool.acquire() as connection, connection.transaction():
            claimed = await connection.fetchval(
                "INSERT INTO notify.schedule_runs (schedule, period) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
                schedule,
                period,
            )
            if claimed:
                await action(connection, period)  # type: ignore[misc]
            return bool(claimed)

    async def _maxims(self, connection: asyncpg.Connection, day: str) -> None:
        rows = await connection.fetch("SELECT maxim_id, last_sent_on FROM notify.maxim_rotation")
        maxim_id = rules.maxim_of_the_day(
            self.state, {r["maxim_id"]: r["last_sent_on"] for r in rows}
        )
        if maxim_id is None:
            log.warning("no approved maxim for %s", day)
            return
        for message in rules.daily_maxims(self.state, maxim_id, day):
            await self.enqueue(connection, message)
        await connection.execute(
            """INSERT INTO notify.maxim_rotation VALUES ($1, $2)
               ON CONFLICT (maxim_id) DO UPDATE SET last_sent_on = EXCLUDED.last_sent_on""",
            maxim_id,
            day,
        )

    async def _bulletin(self, connection: asyncpg.Connection, month: str) -> None:
        document = rules.bulletin(self.state, month, self.clock())
        await connection.execute(
            "INSERT INTO notify.bulletins (month, body) VALUES ($1, $2) ON CONFLICT (month) DO NOTHING",
            month,
            document.model_dump_json(),
        )
        for message in rules.bulletin_summaries(self.state, document):
            await self.enqueue(connection, message)
