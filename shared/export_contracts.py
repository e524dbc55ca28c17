"""Write the JSON Schemas and the AsyncAPI document (`make schemas`); a test keeps them current."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from mingdeng.contracts.documents import asyncapi_document, event_schema
from mingdeng.contracts.events import PAYLOAD_TYPES

HERE = Path(__file__).parent


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        return True  # a schema written out twice, not `&id001` that some tools do not follow


def rendered() -> dict[Path, str]:
    files = {
        HERE / "schemas" / "events" / f"{t.event_type}.json": json.dumps(
            event_schema(t), ensure_ascii=False, indent=2
        )
        + "\n"
        for t in PAYLOAD_TYPES
    }
    files[HERE / "asyncapi.yaml"] = yaml.dump(
        asyncapi_document(), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100
    )
    return files


if __name__ == "__main__":
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(rendered())} files", file=sys.stderr)
