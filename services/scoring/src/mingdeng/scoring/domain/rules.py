"""The scoring rules: every weight, cap and quota of SPEC §3–§4, loaded from one versioned file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any, Self

from mingdeng.contracts.rules_versions import RULES_VERSIONS

RULES_DIR = Path(__file__).parents[1] / "rules"


@dataclass(frozen=True)
class VanguardRules:
    performance_weight: float
    study_cap: float
    study_rate_points: float
    lecture_given_points: float
    household_visit_points: float
    household_visit_cap: float
    volunteer_points: float
    volunteer_cap: float
    community_visit_points: float
    discipline_base: float
    discipline_per_violation: float


@dataclass(frozen=True)
class FortressRules:
    business_weight: float
    team_weight: float
    activity_points: float
    discipline_base: float
    discipline_per_violation: float


@dataclass(frozen=True)
class SelectionRules:
    exemplars: int
    excellent_departments: int
    top_ten: int
    close_after_days: int


@dataclass(frozen=True)
class Rules:
    version: str
    vanguard: VanguardRules
    fortress: FortressRules
    selections: SelectionRules

    @classmethod
    def from_toml(cls, text: str) -> Self:
        document = tomllib.loads(text)
        try:
            return cls(
                version=str(document["version"]),
                vanguard=_section(VanguardRules, document["vanguard"]),
                fortress=_section(FortressRules, document["fortress"]),
                selections=_section(SelectionRules, document["selections"]),
            )
        except KeyError as missing:
            raise ValueError(f"rules file lacks {missing}") from None

    @classmethod
    def load(cls, path: Path) -> Self:
        return cls.from_toml(path.read_text(encoding="utf-8"))


@cache
def shipped_rules(directory: Path = RULES_DIR) -> dict[str, Rules]:
    """Every rules version an agency may adopt, by version: one file `rules-{version}.toml`
    per version of the contracts' `RULES_VERSIONS`, no more and no fewer."""
    names = {f"rules-{version}.toml": version for version in RULES_VERSIONS}
    unlisted = sorted({path.name for path in directory.glob("rules-*.toml")} - set(names))
    if unlisted:
        raise ValueError(f"rules files whose version the contracts do not list: {unlisted}")
    found = {}
    for name, version in names.items():
        rules = Rules.load(directory / name)
        if rules.version != version:
            raise ValueError(f"{name} says version {rules.version!r}")
        found[version] = rules
    return found


def _section(kind: type[Any], values: dict[str, Any]) -> Any:
    names = {f.name: f.type for f in fields(kind)}
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"unknown {kind.__name__} settings: {sorted(unknown)}")
    missing = set(names) - set(values)
    if missing:
        raise ValueError(f"missing {kind.__name__} settings: {sorted(missing)}")
    cast = {name: (int if names[name] == "int" else float)(values[name]) for name in names}
    return kind(**cast)
