"""The scoring rules: every weight, cap and quota of SPEC §3–§4, loaded from one versioned file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Self


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
