"""Which agency an event belongs to (issue 25), and who may publish for it.

Every event belongs to exactly one agency, named by the CloudEvents extension attribute
`agency`; an event without it belongs to `DEFAULT_AGENCY` (a one-agency installation and all
history written before agencies existed). The agency is the event's partition key: the Kafka
key of its record and its CloudEvents `partitionkey` attribute, so that one agency's events
are in one partition, in order (docs/architecture.md, "One agency's events in order").

Who may publish for an agency is read from the event's `source`, so every reader (the gateway
over HTTP, scoring and the other consumers on Kafka) decides alike without a list to share:
- `/agencies/{agency}/…`: that agency's own systems, for that agency only;
- `/mingdeng/…`: the platform itself (scoring's automatic closes, the pages, the ops CLI),
  for any agency;
- any other source (every source before agencies): the default agency only.
"""

from __future__ import annotations

import re

DEFAULT_AGENCY = "default"
AGENCY_ATTRIBUTE = "agency"
PARTITION_KEY_ATTRIBUTE = "partitionkey"
AGENCY_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
AGENCY_SOURCES = "/agencies/"
PLATFORM_SOURCES = "/mingdeng/"


def agency_id_problem(value: object) -> str | None:
    """Why `value` cannot name an agency; None when it can."""
    if not isinstance(value, str) or not re.fullmatch(AGENCY_ID, value):
        return "an agency id is 1-63 of a-z, 0-9 and '-', starting with a letter or digit"
    return None


def agency_of_source(source: str) -> str | None:
    """The one agency `source` publishes for; None for the platform's own sources (any)."""
    if source.startswith(PLATFORM_SOURCES):
        return None
    if source.startswith(AGENCY_SOURCES):
        return source[len(AGENCY_SOURCES) :].split("/", 1)[0]
    return DEFAULT_AGENCY


def publishing_refusal(source: str, agency: str) -> str | None:
    """Why `source` may not publish an event for `agency`; None when it may."""
    own = agency_of_source(source)
    if own is None or own == agency:
        return None
    if own == DEFAULT_AGENCY:
        return (
            f"the source {source!r} publishes for the default agency only, not {agency!r}: an "
            f"agency's systems publish as {AGENCY_SOURCES}{agency}/…"
        )
    return f"the source {source!r} publishes for the agency {own!r} only, not {agency!r}"
