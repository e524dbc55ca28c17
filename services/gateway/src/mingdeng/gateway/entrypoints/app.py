from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from mingdeng.gateway.settings import GatewaySettings
from mingdeng.runtime.health import kafka_answers, postgres_answers


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    app = FastAPI(
        title="Mingdeng (明灯) API",
        version="1",
        description="Event ingestion and projections of the party-building platform.",
        lifespan=lifespan,
    )

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        """The broker and the database answer."""
        checks = {
            "postgres": await postgres_answers(settings.postgres.dsn),
            "kafka": await kafka_answers(settings.kafka.bootstrap_servers),
        }
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    return app
