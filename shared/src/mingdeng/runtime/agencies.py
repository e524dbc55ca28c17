"""The agency of a derived record, and how a service marks and keys what it publishes for one.

An inbound record's agency is its `agency` attribute (`contracts.codec.record_agency`); a
derived record's is its `mingdeng-agency` header, absent for the default agency. What a service
publishes for an agency other than the default one carries the header and is keyed
`{agency}/…`, as scoring's outputs are (services/scoring/service.py, `AgencyBook.publication`).
"""

from __future__ import annotations

from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.topics import AGENCY_HEADER

KafkaHeaders = tuple[tuple[str, bytes], ...]


def header_agency(headers: KafkaHeaders) -> str:
    """The agency of a derived record: its `mingdeng-agency` header, else the default one."""
    for name, raw in headers:
        if name == AGENCY_HEADER:
            return raw.decode(errors="replace")
    return DEFAULT_AGENCY


def agency_headers(agency: str) -> KafkaHeaders:
    """The headers a derived record of `agency` carries: none for the default agency."""
    return () if agency == DEFAULT_AGENCY else ((AGENCY_HEADER, agency.encode()),)


def agency_key(agency: str, key: str) -> bytes:
    """The key of a derived record of `agency`: as before agencies for the default agency,
    `{agency}/{key}` for any other (two agencies' records never replace each other)."""
    return key.encode() if agency == DEFAULT_AGENCY else f"{agency}/{key}".encode()
