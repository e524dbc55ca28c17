from __future__ import annotations

import re
from pathlib import Path

from mingdeng.contracts.events import PAYLOAD_TYPES

DOC = Path(__file__).parents[3] / "docs" / "events.md"


def test_the_upstream_guide_lists_every_type_with_its_subject_field() -> None:
    rows = dict(re.findall(r"^\| `([a-z0-9.]+)` \| `data\.(\w+)` \|", DOC.read_text(), re.M))
    assert rows == {t.event_type: t.subject_field for t in PAYLOAD_TYPES}
