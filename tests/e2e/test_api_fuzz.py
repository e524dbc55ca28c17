"""schemathesis against the gateway's OpenAPI: with an admin token every default check passes
(the answers are what the document says); with a member's, no input causes a server error."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Platform, token
from tests.support.processes import ROOT, wait_for
from tests.unit.outreach.scenario import bureau_events

pytestmark = pytest.mark.e2e


def schemathesis(
    platform: Platform,
    role: str,
    workdir: Path,
    *options: str,
    ready: Callable[[], bool] = lambda: True,
) -> subprocess.CompletedProcess[str]:
    seeded = httpx.post(
        f"{platform.api}/v1/events",
        json=[e.to_cloudevent() for e in bureau_events()],
        headers=token("admin", "root"),
    )
    assert seeded.status_code == 202
    wait_for(ready, 60, "the read models of the seeded bureau")
    return subprocess.run(
        [
            str(ROOT / ".venv/bin/schemathesis"),
            f"--config-file={Path(__file__).with_name('schemathesis.toml')}",
            "run",
            f"{platform.api}/openapi.json",
            "--seed",
            "2026",
            "--header",
            f"Authorization: {token(role, 'M1')['Authorization']}",
            "--exclude-path",
            "/v1/stream",  # endless by design; covered by the scoring e2e test
            "--report",
            "junit",
            "--report-dir",
            str(workdir),
            *options,
        ],
        cwd=workdir,  # schemathesis keeps a cache in its working directory
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.timeout(300)
def test_every_default_check_passes_for_an_admin(
    platform_of: Callable[..., Platform], tmp_path: Path
) -> None:
    """With every service running, the documented examples (2026Q3) reach read models that
    hold data, so their answers are checked against their schemas, not only 404s."""
    platform = platform_of("scoring", "outreach", "notify", "gateway")
    admin = token("admin", "root")

    def answered(path: str) -> bool:
        return httpx.get(f"{platform.api}{path}", headers=admin).status_code == 200

    run = schemathesis(
        platform,
        "admin",
        tmp_path,
        "--max-examples",
        "20",
        ready=lambda: (
            answered("/v1/members/M1/vanguard/2026Q3") and answered("/v1/outreach/coverage/2026Q3")
        ),
    )
    assert run.returncode == 0, run.stdout[-8000:]
    assert "No issues found" in run.stdout or " passed" in run.stdout, run.stdout[-2000:]


@pytest.mark.timeout(300)
def test_no_generated_request_causes_a_server_error_for_a_member(
    platform_of: Callable[..., Platform], tmp_path: Path
) -> None:
    run = schemathesis(
        platform_of("gateway"),
        "member",
        tmp_path,
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "25",
    )
    assert run.returncode == 0, run.stdout[-4000:]
    assert "Server error" not in run.stdout
