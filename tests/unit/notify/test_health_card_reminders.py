"""党性体检: the reminder to party members who have not filled in their political health card,
from 3 days before the round closes, once per member and round (also after a restart), never
for a round already closed when its history is read. Hand-worked on the bureau of
test_service: M1 fills in, every other active and a party member is reminded."""

from __future__ import annotations

from datetime import date

import pytest

from mingdeng.contracts import events as ev
from mingdeng.notify.domain.rules import health_card_reminder_due
from tests.support.builders import Events
from tests.unit.notify.test_service import Clock, Notifier, bureau


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (date(2026, 12, 16), False),  # 4 days before the close
        (date(2026, 12, 17), True),  # 3 days before
        (date(2026, 12, 20), True),  # the last day
        (date(2026, 12, 21), False),  # closed
    ],
)
def test_the_reminder_is_due_from_three_days_before_the_close_to_the_close(
    today: date, due: bool
) -> None:
    assert health_card_reminder_due(date(2026, 12, 20), today) is due


async def reminders(notifier: Notifier) -> list[str]:
    """The 党性体检 reminders a run of the schedules claimed (the bulletins aside)."""
    return [r for r in await notifier.service.schedules.run() if r.startswith("health_card")]


def _round(round_id: str, closes_on: str) -> ev.HealthCardRoundOpened:
    return ev.HealthCardRoundOpened(round_id=round_id, title="2026年度党性体检",
                                    questions=("入党为什么", "为党做什么"),
                                    closes_on=date.fromisoformat(closes_on))  # fmt: skip


async def test_members_who_have_not_filled_in_are_reminded_once_per_round() -> None:
    e, clock = Events(), Clock("2026-11-16 09:00")
    one = Notifier(clock)
    await one.take_events([
        *bureau(e),
        e.member("X1", "d1", "2026-06-01 09:00", party=False),  # not a party member: owes none
        e(_round("hc2026", "2026-11-20"), "2026-11-01 10:00"),
        e(ev.HealthCardFilled(round_id="hc2026", member_id="M1", answers=("为人民", "干实事")),
          "2026-11-10 10:00"),
    ])  # fmt: skip
    assert await reminders(one) == []  # 4 days before the close
    clock.set("2026-11-16 23:59")
    assert await reminders(one) == []
    clock.set("2026-11-17 06:00")  # claimed at once, sent after quiet hours (till 07:00)
    assert await reminders(one) == ["health_card_reminder hc2026"]
    reminded = {k: s for k, s in one.outbox().items() if k.startswith("health_card")}
    assert reminded == {
        "health_card_reminder/L1/hc2026": "queued",
        "health_card_reminder/L2/hc2026": "queued",
        "health_card_reminder/M2/hc2026": "queued",
        "health_card_reminder/N1/hc2026": "suppressed",  # no phone
        "health_card_reminder/S1/hc2026": "queued",
    }
    message = one.stores.tables.outbox["health_card_reminder/M2/hc2026"].message
    assert message.params == {"name": "赵强", "title": "2026年度党性体检", "closes_on": "11月20日"}
    clock.set("2026-11-18 09:00")
    assert await reminders(one) == []
    restarted = Notifier(clock, one.stores)  # a restart on the same store
    await restarted.service.load()
    assert await reminders(restarted) == []
    assert {k for k in restarted.outbox() if k.startswith("health_card")} == set(reminded)


async def test_a_round_closed_before_its_history_is_read_reminds_nobody() -> None:
    e, clock = Events(), Clock("2026-11-17 09:00")
    one = Notifier(clock)
    await one.take_events([*bureau(e), e(_round("hc2025", "2025-12-20"), "2025-12-01 10:00"),
                           e(_round("hc2026", "2026-11-30"), "2026-11-01 10:00")])  # fmt: skip
    assert await reminders(one) == []  # one closed a year ago, one not due yet
    assert not [k for k in one.outbox() if k.startswith("health_card")]
