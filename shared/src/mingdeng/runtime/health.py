"""A small HTTP endpoint for workers that have no web framework of their own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web
from aiokafka.errors import KafkaError

from mingdeng.runtime.clients import kafka_admin

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]
MetricsText = Callable[[], Awaitable[str]]


async def start_health_server(
    host: str, port: int, readiness: ReadinessCheck, metrics: MetricsText | None = None
) -> web.AppRunner:
    """Serve `/healthz` (the process runs), `/readyz` (its dependencies answer and its
    consumers keep up) and `/metrics` (Prometheus text)."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        checks = await readiness()
        ready = all(checks.values())
        return web.json_response(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status=200 if ready else 503,
        )

    async def prometheus(_: web.Request) -> web.Response:
        text = await metrics() if metrics is not None else ""
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", prometheus)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def dependencies(
    postgres_dsn: str,
    bootstrap_servers: str,
    consumers: Callable[[], dict[str, bool]] | None = None,
) -> ReadinessCheck:
    """A readiness check: the database and the broker answer, and the consumers keep up."""

    async def check() -> dict[str, bool]:
        postgres, kafka = await asyncio.gather(
            postgres_answers(postgres_dsn), kafka_answers(bootstrap_servers)
        )
        return {"postgres": postgres, "kafka": kafka, **(consumers() if consumers else {})}

    return check


async def postgres_answers(dsn: str, timeout_s: float = 2.0) -> bool:
    try:
        connection = await asyncpg.connect(dsn, timeout=timeout_s)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    try:
        return bool(await connection.fetchval("SELECT 1"))
    finally:
        await connection.close()


async def kafka_answers(bootstrap_servers: str, timeout_s: float = 2.0) -> bool:
    """True when any bootstrap broker answers a metadata request."""
    admin = kafka_admin(bootstrap_servers, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.describe_cluster(), timeout_s)
        return True
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()
