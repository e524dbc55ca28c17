"""The notifier per agency (issue 25, item 3): each agency's records are folded into its own
knowledge and its rules write into its own rows, so the same member id in two agencies is two
people; each agency sends with its own signature; the work of a record does not grow with the
number of agencies."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.derived import ReminderRequest
from mingdeng.contracts.topics import EVENTS, REMINDER_REQUESTS, SELECTIONS
from mingdeng.notify.adapters.templates import AgencyProfile, Profiles, load_templates
from mingdeng.runtime.agencies import agency_headers
from mingdeng.runtime.projection import Record
from tests.support.builders import Events
from tests.unit.notify.test_incremental import CountingStore
from tests.unit.notify.test_service import PHONES, Clock, Notifier, bureau, selection


def records(e: Events, phones: dict[str, str] | None = None) -> list[Record]:
    events = [
        *bureau(e),
        e.violation("v1", "M1", "2026-11-24 10:05"),
        e.close("2026Q3", "2026-10-11 00:00"),
    ]
    if phones:  # the same ids, other people
        events += [
            e.member(member_id, "d1", "2026-06-01 09:01", phone=phone)
            for member_id, phone in phones.items()
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


def profiles() -> Profiles:
    return Profiles(load_templates(), {"czj": AgencyProfile("某市财政局", load_templates())})


async def test_two_agencies_with_the_same_member_ids_are_two_sets_of_people() -> None:
    notifier = Notifier(Clock("2026-11-24 10:10"), profiles=profiles())
    other_phones = {"M1": "13700000101", "M2": "13700000102"}
    await notifier.take([*records(Events()), *derived_of("default")])
    await notifier.take([*records(Events(agency="czj"), other_phones), *derived_of("czj")])
    alone = Notifier(Clock("2026-11-24 10:10"))
    await alone.take([*records(Events()), *derived_of("default")])
    assert notifier.outbox() == alone.outbox()  # the default agency as if alone
    assert set(notifier.outbox("czj")) == set(alone.outbox())  # the same rules, its own rows
    assert notifier.tasks("czj").keys() == alone.tasks().keys()

    await notifier.send_all()
    sent = {(m.key, m.phone, m.sign_name) for m in notifier.provider.sent}
    assert ("violation_reminder/M1/v1", PHONES["M1"], None) in sent
    assert ("czj/violation_reminder/M1/v1", other_phones["M1"], "某市财政局") in sent
    assert ("login_code/M2/login-1", PHONES["M2"], None) in sent
    assert ("czj/login_code/M2/login-1", other_phones["M2"], "某市财政局") in sent


async def test_an_agencys_bulletin_and_schedules_count_its_own_history() -> None:
    clock = Clock("2026-11-24 10:10")
    notifier = Notifier(clock)
    e, czj = Events(), Events(agency="czj")
    await notifier.take([*records(e), *records(czj)])
    more = [czj.violation(f"x{n}", "M2", "2026-11-20 10:00") for n in range(3)]
    await notifier.take(
        [Record(EVENTS.name, 0, 0, b"czj", serialize_event(event), 0) for event in more]
    )
    clock.now += timedelta(days=7)  # 2026-12-01 10:10: November's bulletins
    ran = await notifier.service.schedules.run()
    assert "bulletin 2026-11" in ran and "czj: bulletin 2026-11" in ran
    tables = notifier.stores.tables
    assert tables.of("default").bulletins["2026-11"].violations == 1
    assert tables.of("czj").bulletins["2026-11"].violations == 4
    assert await notifier.service.schedules.run() == []  # once per agency and period


async def test_the_work_of_a_record_does_not_grow_with_the_number_of_agencies() -> None:
    async def work(agencies: int) -> Counter[str]:
        notifier = Notifier(Clock("2026-11-24 10:10"))
        builders = [Events(agency=f"a{n}") for n in range(agencies)]
        for e in builders:
            await notifier.take(records(e))
        CountingStore.calls.clear()
        store = CountingStore(notifier.stores.tables, notifier.clock())
        violation = builders[0].violation("v-new", "M2", "2026-11-24 10:09")
        await notifier.service.intake.handle(
            store, [Record(EVENTS.name, 0, 0, b"a0", serialize_event(violation), 0)]
        )
        return Counter(CountingStore.calls)

    few = await work(2)
    assert few["enqueue"] == 2  # the member and their secretary
    assert await work(60) == few
