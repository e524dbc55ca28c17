from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

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
