from __future__ import annotations

import pytest

from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.settings import DEFAULT_RULES


@pytest.fixture(scope="session")
def rules() -> Rules:
    return Rules.load(DEFAULT_RULES)
