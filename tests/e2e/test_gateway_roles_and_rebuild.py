from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable

import asyncpg
import httpx
import pytest

from mingdeng.contracts import events as ev
from tests.e2e.conftest import Platform, token
from tests.support.builders import Events
from tests.support.processes import ROOT, wait_for
from tests.unit.outreach.scenario import bureau_events

pytestmark = pytest.mark.e2e

VIEWERS = {"admin", "secretary", "leader", "member", "other-member"}
ROLES = {
    "none": {},
    "admin": token("admin", "root"),
    "secretary": token("secretary", "M2"),
    "leader": token("leader", "L1"),
    "member": token("member", "M1"),
    "other-member": token("member", "M3"),
    "publisher": token("publisher", "hr", "/systems/test"),
}
# (method, path, roles allowed; everyone else gets 403, or 401 without a token)
ENDPOINTS: list[tuple[str, str, set[str]]] = [
    ("POST", "/v1/events", {"admin", "publisher"}),
    ("GET", "/v1/events/e1?source=/systems/test", {"admin", "publisher"}),
    ("GET", "/v1/quarters/2026Q3/vanguard", VIEWERS),
    ("GET", "/v1/quarters/2026Q3/fortress?level=branch", VIEWERS),
    ("GET", "/v1/members/M1/vanguard/2026Q3", {"admin", "secretary", "leader", "member"}),
    ("GET", "/v1/quarters/2026Q3/selections", VIEWERS),
    ("GET", "/v1/years/2026/top-ten", VIEWERS),
    ("GET", "/v1/board/2026Q3", {"none", *VIEWERS, "publisher"}),
    ("GET", "/v1/lectures/stats?year=2026", VIEWERS),
    ("GET", "/v1/kpis", VIEWERS),
    ("GET", "/v1/outreach/coverage/2026Q3", VIEWERS),
    ("GET", "/v1/outreach/overdue", VIEWERS),
    ("GET", "/v1/outreach/reassignment", {"admin"}),
    ("GET", "/v1/outreach/members/M1/households", {"admin", "member"}),
    ("GET", "/v1/outreach/liaison/2026Q3", {"admin", "leader"}),
    ("GET", "/v1/outreach/talk-obligations", VIEWERS),
    ("GET", "/v1/outreach/suggestions", VIEWERS),
    ("GET", "/v1/tasks", VIEWERS),
    ("GET", "/v1/notifications", VIEWERS),
    ("GET", "/v1/notifications?recipient_id=M1", {"admin", "member"}),
    ("GET", "/v1/bulletins/2026-10", VIEWERS),
    ("GET", "/v1/stream", VIEWERS),
    ("GET", "/metrics", {"none", *VIEWERS, "publisher"}),
]


def test_every_role_against_every_endpoint(platform_of: Callable[..., Platform]) -> None:
    platform = platform_of("gateway")
    api = httpx.Client(base_url=platform.api, timeout=10)
    seeded = api.post(
        "/v1/events", json=[e.to_cloudevent() for e in bureau_events()], headers=ROLES["admin"]
    )
    assert seeded.status_code == 202
    wait_for(
        lambda: (
            api.get("/v1/members/M1/vanguard/2026Q3", headers=ROLES["secretary"]).status_code == 404
        ),
        20,
        "registry",
    )

    event = (
        Events(source="/systems/test", prefix="roles")
        .volunteer("M1", "2026-08-01 10:00")
        .to_cloudevent()
    )
    unexpected = []
    for method, path, allowed in ENDPOINTS:
        for role, headers in ROLES.items():
            if path == "/v1/stream":  # endless: the status line only, on a connection of its own
                with httpx.stream(
                    method, platform.api + path, headers=headers, timeout=5
                ) as response:
                    pass
            else:
                response = api.request(
                    method, path, headers=headers, json=event if method == "POST" else None
                )
            expected = "allowed" if role in allowed else ("401" if role == "none" else "403")
            actual = (
                "allowed" if response.status_code in (200, 202, 404) else str(response.status_code)
            )
            if actual != expected:
                unexpected.append(
                    f"{role} {method} {path}: {response.status_code} (expected {expected})"
                )
            assert response.status_code < 500, response.text
    assert unexpected == []


def test_read_models_are_rebuilt_from_the_log(platform_of: Callable[..., Platform]) -> None:
    platform = platform_of("gateway")
    api = httpx.Client(base_url=platform.api, timeout=10)
    admin = ROLES["admin"]
    e = Events(source="/systems/finance")
    revenue = e(
        ev.KpiReported(
            subject_type="bureau",
            subject_id="bureau",
            metric="general_budget_revenue",
            period="2025",
            value=113.32,
            unit="亿元",
        ),
        "2026-01-20 10:00",
    )
    assert api.post("/v1/events", json=revenue.to_cloudevent(), headers=admin).status_code == 202

    def kpis() -> list[dict]:
        return api.get(
            "/v1/kpis", params={"metric": "general_budget_revenue"}, headers=admin
        ).json()["items"]

    wait_for(lambda: len(kpis()) == 1, 20, "the KPI")
    gateway = platform.services["gateway"]
    gateway.stop()
    rebuilt = subprocess.run(
        [str(ROOT / ".venv/bin/mingdeng-gateway"), "rebuild"],
        env={**platform.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr

    async def rows() -> tuple[int, int]:
        connection = await asyncpg.connect(platform.env["MINGDENG_DATABASE_URL"])
        try:
            kpi_rows = await connection.fetchval("SELECT count(*) FROM gateway.kpis")
            accepted = await connection.fetchval("SELECT count(*) FROM gateway.accepted_events")
            return kpi_rows, accepted
        finally:
            await connection.close()

    assert asyncio.run(rows()) == (0, 1)  # read models emptied; the ingestion ledger kept
    gateway.start(f"{platform.api}/healthz")
    wait_for(lambda: len(kpis()) == 1, 20, "the KPI rebuilt from the log")
    assert kpis()[0]["value"] == 113.32
    again = api.post("/v1/events", json=revenue.to_cloudevent(), headers=admin).json()
    assert again == {"accepted": [], "duplicates": [revenue.id]}
