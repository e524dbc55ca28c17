"""The gateway's app object and its OpenAPI document (no server, broker or database)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from mingdeng.gateway.entrypoints.app import create_app
from mingdeng.gateway.settings import GatewaySettings
from mingdeng.runtime.settings import KafkaSettings, PostgresSettings


def openapi_app() -> FastAPI:
    """The app, its lifespan not started: enough for its document and its routing."""
    return create_app(
        GatewaySettings(
            kafka=KafkaSettings(bootstrap_servers="localhost:9"),
            postgres=PostgresSettings(database_url="postgresql://nobody@localhost:9/none"),
        )
    )


def openapi_document() -> dict[str, Any]:
    return openapi_app().openapi()
