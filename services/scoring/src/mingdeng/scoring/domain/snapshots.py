"""Final standings as plain data, which outlives the code and the rules that computed them.

A closed quarter's final standings, and a year's final top ten, stay as they were computed
under the rules in force when they closed (docs/scoring.md, "Rules change"). The checkpoint
keeps them here, each with its rules version, beside the engine's pickled state. A worker with
other rules or another state format cannot use that state: it replays the log and takes these
finals as they are instead of recomputing them.

A snapshot written under earlier rules may name other components than the code has now: a
component that those rules did not have reads 0 (it counted nothing then, and the index is the
one computed then); one that the code no longer has is left out (the index still includes it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, asdict, fields
from typing import Any, TypeVar

from mingdeng.contracts.periods import Quarter
from mingdeng.scoring.domain.indices import FortressScore, VanguardScore
from mingdeng.scoring.domain.standings import QuarterStandings, TopTen, TopTenEntry

SNAPSHOT_FORMAT = 1

T = TypeVar("T")
Finals = tuple[dict[Quarter, QuarterStandings], dict[int, TopTen]]


class UnreadableSnapshot(ValueError):
    """A snapshot of another format, or missing what no rules change explains."""


def snapshot_of(
    finals: Mapping[Quarter, QuarterStandings], top_tens: Mapping[int, TopTen]
) -> dict[str, Any]:
    """JSON-ready: numbers, strings, lists and objects only."""
    return {
        "format": SNAPSHOT_FORMAT,
        "quarters": {str(quarter): asdict(standings) for quarter, standings in finals.items()},
        "top_tens": {str(year): asdict(top_ten) for year, top_ten in top_tens.items()},
    }


def finals_from(document: Mapping[str, Any]) -> Finals:
    if document.get("format") != SNAPSHOT_FORMAT:
        raise UnreadableSnapshot(f"snapshot format {document.get('format')!r}")
    quarters = {Quarter.parse(name): _standings(row) for name, row in document["quarters"].items()}
    top_tens = {int(year): _top_ten(row) for year, row in document["top_tens"].items()}
    return quarters, top_tens


def _standings(row: Mapping[str, Any]) -> QuarterStandings:
    version = row["rules_version"]
    return QuarterStandings(
        quarter=Quarter(**row["quarter"]),
        status=row["status"],
        rules_version=version,
        members=tuple(_built(VanguardScore, m, version) for m in row["members"]),
        departments=tuple(_built(FortressScore, d, version) for d in row["departments"]),
        branches=tuple(_built(FortressScore, b, version) for b in row["branches"]),
        exemplars=tuple(row["exemplars"]),
        excellent_departments=tuple(row["excellent_departments"]),
    )


def _top_ten(row: Mapping[str, Any]) -> TopTen:
    return TopTen(
        year=row["year"],
        status=row["status"],
        rules_version=row["rules_version"],
        members=tuple(TopTenEntry(**entry) for entry in row["members"]),
    )


def _built(kind: type[T], row: Mapping[str, Any], version: str) -> T:
    values: dict[str, Any] = {}
    for field in fields(kind):  # type: ignore[arg-type]
        if field.name in row:
            value = row[field.name]
            values[field.name] = tuple(value) if isinstance(value, list) else value
        elif field.name in getattr(kind, "COMPONENTS", ()):  # added later: it counted nothing then
            values[field.name] = 0.0
        elif field.default is MISSING:
            raise UnreadableSnapshot(f"a {kind.__name__} of rules {version} has no {field.name!r}")
    return kind(**values)
