from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mingdeng.contracts.agency import agency_id_problem

DEFAULT_TEMPLATES = Path(__file__).parents[1] / "config" / "templates.toml"


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    aliyun: str
    tencent: str
    params: tuple[str, ...]
    secret: tuple[str, ...] = ()  # sent, but masked in what is stored and published as text

    def render(self, values: dict[str, str]) -> str:
        return self.text.format(**{name: values.get(name, "") for name in self.params})

    def shown(self, values: dict[str, str]) -> str:
        """The text as records show it: secret parameters (a login code) masked."""
        return self.render({**values, **dict.fromkeys(self.secret, "******")})

    def ordered(self, values: dict[str, str]) -> list[str]:
        return [values.get(name, "") for name in self.params]


def load_templates(path: Path = DEFAULT_TEMPLATES) -> dict[str, Template]:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    templates = {}
    for name, entry in document.items():
        try:
            templates[name] = Template(
                name,
                entry["text"],
                entry["aliyun"],
                entry["tencent"],
                tuple(entry["params"]),
                tuple(entry.get("secret", ())),
            )
        except KeyError as missing:
            raise ValueError(f"template {name} lacks {missing}") from None
    return templates


DEFAULT_AGENCIES = Path(__file__).parents[1] / "config" / "agencies.toml"


@dataclass(frozen=True)
class AgencyProfile:
    """How an agency's messages go out: the SMS signature (None: the provider's own, set by
    MINGDENG_ALIYUN_SIGN_NAME / MINGDENG_TENCENT_SIGN_NAME, the 机关工委's) and the templates."""

    sign_name: str | None
    templates: Mapping[str, Template]


class Profiles:
    """Each agency's profile; an agency without a section of its own sends as the 机关工委
    does (the provider's signature, the default templates)."""

    def __init__(
        self, default: Mapping[str, Template], own: Mapping[str, AgencyProfile] | None = None
    ) -> None:
        self.default = AgencyProfile(None, default)
        self.own = dict(own or {})

    def of(self, agency: str) -> AgencyProfile:
        return self.own.get(agency, self.default)


def load_profiles(default: Mapping[str, Template], path: Path = DEFAULT_AGENCIES) -> Profiles:
    """`[agencies.<id>]` sections with `sign_name` and optionally `templates`, a templates file
    (relative to `path`) whose entries replace the default ones of the same name."""
    document = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    own = {}
    for agency, entry in document.get("agencies", {}).items():
        problem = agency_id_problem(agency)
        if problem or not isinstance(entry.get("sign_name"), str) or not entry["sign_name"]:
            raise ValueError(f"{path}: [agencies.{agency}]: {problem or 'sign_name is missing'}")
        templates = dict(default)
        if "templates" in entry:
            templates |= load_templates(path.parent / entry["templates"])
        own[agency] = AgencyProfile(entry["sign_name"], templates)
    return Profiles(default, own)
