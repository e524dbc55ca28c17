"""The notifier serves one agency until it is scoped by agency (issue 25, interim rule): the
records of other agencies (events, selections, reminder requests) send nothing, are counted."""

from __future__ import annotations

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.derived import ReminderRequest
from mingdeng.contracts.topics import EVENTS, REMINDER_REQUESTS, SELECTIONS
from mingdeng.runtime.agencies import agency_headers
from mingdeng.runtime.projection import Record
from tests.support.builders import Events
from tests.unit.notify.test_service import Clock, Notifier, bureau, selection


def records(e: Events) -> list[Record]:
    events = [
        *bureau(e),
        e.violation("v1", "M1", "2026-11-24 10:05"),
        e.close("2026Q3", "2026-10-11 00:00"),
    ]
    return [
        Record(EVENTS.name, 0, 0, e.agency.encode(), serialize_event(event), 0) for event in events
    ]


def derived_of(agency: str) -> list[Record]:
    headers = agency_headers(agency)
    request = ReminderRequest(
        rule="login_code",
        recipient_id="M2",
        cause="login-1",
        details={"code": "123456"},
        requested_at=Clock("2026-11-24 10:06").now,
    )
    return [
        Record(SELECTIONS.name, 0, 0, b"k", selection().to_json(), 0, headers),
        Record(REMINDER_REQUESTS.name, 0, 0, b"k", request.to_json(), 0, headers),
    ]


async def test_a_notifier_of_the_default_agency_sends_nothing_for_another_agency() -> None:
    notifier = Notifier(Clock("2026-11-24 10:10"))
    await notifier.take([*records(Events(agency="czj")), *derived_of("czj")])
    assert notifier.outbox() == {} and notifier.tasks() == {}
    assert notifier.service.intake.other_agencies.skipped == {
        EVENTS.name: 11,
        SELECTIONS.name: 1,
        REMINDER_REQUESTS.name: 1,
    }


async def test_a_notifier_of_an_agency_serves_it_and_skips_the_default_agency() -> None:
    notifier = Notifier(Clock("2026-11-24 10:10"), agency="czj")
    await notifier.take([*records(Events()), *derived_of("default")])
    assert notifier.outbox() == {}
    await notifier.take([*records(Events(agency="czj")), *derived_of("czj")])
    assert set(notifier.outbox()) == {
        "violation_reminder/M1/v1",
        "violation_secretary/S1/v1",
        "commendation_assigned/L1/commendation/2026Q3/M1",
        "commendation_assigned/L2/commendation/2026Q3/S1",
        "login_code/M2/login-1",
    }
    assert notifier.service.intake.other_agencies.skipped[EVENTS.name] == 11
