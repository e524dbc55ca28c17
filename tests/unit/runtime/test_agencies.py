"""The interim rule of the read side (issue 25): one agency served, the others skipped,
counted by topic and logged once each; derived records of an agency keyed and marked."""

from __future__ import annotations

import logging

import pytest

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.topics import AGENCY_HEADER
from mingdeng.runtime.agencies import OtherAgencies, agency_headers, agency_key, header_agency
from mingdeng.runtime.metrics import render
from mingdeng.runtime.projection import Record
from tests.support.builders import Events

INBOUND = "p.mingdeng.events.v1"


def inbound(agency: str) -> Record:
    event = Events(agency=agency).branch("b1", "2026-06-01 09:00")
    return Record(INBOUND, 0, 0, agency.encode(), serialize_event(event), 0)


def derived(agency: str | None, topic: str = "p.mingdeng.tasks.v1") -> Record:
    headers = () if agency is None else ((AGENCY_HEADER, agency.encode()),)
    return Record(topic, 0, 0, b"k", b"{}", 0, headers)


def test_the_served_agency_is_read_and_the_others_are_skipped_and_counted_by_topic(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rule = OtherAgencies("czj", INBOUND, "MINGDENG_NOTIFY_AGENCY")
    with caplog.at_level(logging.WARNING):
        taken = [
            not rule.skips(record)
            for record in (
                inbound("czj"),
                inbound("default"),
                inbound("default"),
                inbound("city-finance"),
                derived("czj"),
                derived(None),  # no header: the default agency's
                derived("city-finance"),
            )
        ]
    assert taken == [True, False, False, False, True, False, False]
    assert rule.skipped == {INBOUND: 3, "p.mingdeng.tasks.v1": 2}
    skipped_agencies = [r.args[0] for r in caplog.records if "are skipped" in r.message]
    assert skipped_agencies == ["default", "city-finance"]  # the first record of each, once
    assert "MINGDENG_NOTIFY_AGENCY" in caplog.records[0].message
    text = render([rule.family("mingdeng_notify_other_agency_records", "skipped")])
    assert (
        'mingdeng_notify_other_agency_records_total{agency="czj",topic="p.mingdeng.events.v1"} 3'
        in text
    )


def test_the_default_agency_serves_records_without_an_agency() -> None:
    rule = OtherAgencies("default", INBOUND, "MINGDENG_OUTREACH_AGENCY")
    assert not rule.skips(inbound("default")) and not rule.skips(derived(None))
    assert rule.skips(derived("czj")) and rule.skipped == {"p.mingdeng.tasks.v1": 1}


def test_derived_records_of_an_agency_are_keyed_and_marked_as_scorings_are() -> None:
    assert (agency_key("default", "task/1"), agency_headers("default")) == (b"task/1", ())
    assert agency_key("czj", "task/1") == b"czj/task/1"
    assert agency_headers("czj") == ((AGENCY_HEADER, b"czj"),)
    assert header_agency(agency_headers("czj")) == "czj"
    assert header_agency(()) == "default"
