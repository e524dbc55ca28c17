"""The fault and outage trials: the four services under their supervisors, and the scripts
that stop and start the test broker and database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.support.platform import Platform, supervised_platform


@pytest.fixture
def platform(
    kafka_bootstrap: str, database_url: str, unique: str, tmp_path: Path
) -> Iterator[Platform]:
    with supervised_platform(kafka_bootstrap, database_url, unique, tmp_path) as started:
        yield started


@pytest.fixture
def infrastructure_scripts(kafka_bootstrap: str) -> None:
    needed = ("MINGDENG_RUN_DIR", "KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "PG_PORT", "PG_DATABASE")
    missing = [name for name in needed if not os.environ.get(name)]
    if missing:
        message = f"the fault trials stop and start the test infrastructure: run them with `make test` ({missing} unset)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
