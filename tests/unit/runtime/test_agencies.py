"""Derived records of an agency keyed and marked (issue 25)."""

from __future__ import annotations

from mingdeng.contracts.topics import AGENCY_HEADER
from mingdeng.runtime.agencies import agency_headers, agency_key, header_agency


def test_derived_records_of_an_agency_are_keyed_and_marked_as_scorings_are() -> None:
    assert (agency_key("default", "task/1"), agency_headers("default")) == (b"task/1", ())
    assert agency_key("czj", "task/1") == b"czj/task/1"
    assert agency_headers("czj") == ((AGENCY_HEADER, b"czj"),)
    assert header_agency(agency_headers("czj")) == "czj"
    assert header_agency(()) == "default"
