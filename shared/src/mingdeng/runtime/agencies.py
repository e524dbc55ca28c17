"""The interim rule of the read side (issue 25, docs/architecture.md): until a service's state
is scoped by agency, it serves one configured agency, skips the records of every other agency,
counts them and logs the first record of each. Never silently.

An inbound record's agency is its `agency` attribute (`record_agency`); a derived record's is
its `mingdeng-agency` header, absent for the default agency. What such a service publishes for
an agency other than the default one carries the header and is keyed `{agency}/…`, as
scoring's outputs are (services/scoring/service.py, `AgencyBook.publication`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.codec import record_agency
from mingdeng.contracts.text import shown
from mingdeng.contracts.topics import AGENCY_HEADER
from mingdeng.runtime.metrics import Family
from mingdeng.runtime.projection import Record

log = logging.getLogger(__name__)

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


class OtherAgencies:
    """Which records a service serving the one agency `served` skips, and how many it skipped,
    by topic. `inbound`: the inbound topic's name (its records' agency is their attribute);
    `setting`: the setting that names the served agency, for the log line; `platform_wide`:
    records read whatever their agency (the agency tree)."""

    def __init__(
        self,
        served: str,
        inbound: str,
        setting: str,
        platform_wide: Callable[[Record], bool] = lambda record: False,
    ) -> None:
        self.served = served
        self._inbound = inbound
        self._setting = setting
        self._platform_wide = platform_wide
        self.skipped: Counter[str] = Counter()  # by topic
        self._seen: set[str] = set()

    def agency_of(self, record: Record) -> str:
        if record.topic == self._inbound:
            return record_agency(record.value, record.headers)
        return header_agency(record.headers)

    def skips(self, record: Record) -> bool:
        """True (and counted) when `record` is another agency's than the served one; the
        first record of each other agency is logged."""
        agency = self.agency_of(record)
        if agency == self.served or self._platform_wide(record):
            return False
        self.skipped[record.topic] += 1
        if agency not in self._seen:
            self._seen.add(agency)
            log.warning(
                "records of the agency %r are skipped (counted, not read): this service serves "
                "the agency %r only (%s)",
                shown(agency, 80),
                self.served,
                self._setting,
            )
        return True

    def family(self, name: str, help_text: str) -> Family:
        """The counts as a metric family, labelled by topic and served agency."""
        family = Family(name, "counter", help_text)
        for topic, count in sorted(self.skipped.items()):
            family.add(count, topic=topic, agency=self.served)
        return family
