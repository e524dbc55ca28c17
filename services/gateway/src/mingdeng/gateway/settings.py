from __future__ import annotations

import socket
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mingdeng.runtime.settings import KafkaSettings, PostgresSettings

DEVELOPMENT_SECRET = "development-only-secret-do-not-deploy"


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINGDENG_GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    environment: Literal["development", "test", "production"] = "development"
    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    projector: bool = Field(default=True, description="run the projector in this process")
    ingest_per_minute: int = Field(
        default=120_000, ge=1, description="events per token per minute, on average (429 beyond)"
    )
    ingest_burst: int = Field(
        default=20_000, ge=1, description="events a token may post at once above the average"
    )
    max_batch_events: int = Field(
        default=1000, ge=1, description="most events in one POST /v1/events (413 beyond)"
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="largest POST /v1/events body (413 beyond)"
    )
    publish_timeout_s: float = Field(
        default=10, gt=0, description="wait this long for the broker's acknowledgement (503 after)"
    )
    header_timeout_s: float = Field(
        default=10,
        gt=0,
        description="a connection sends a request's line and headers within this (408 after)",
    )
    body_timeout_s: float = Field(
        default=30, gt=0, description="a request's whole body arrives within this (408 after)"
    )
    keep_alive_s: int = Field(
        default=5, ge=1, description="a connection idle this long between requests is closed"
    )
    max_connections: int | None = Field(
        default=None,
        ge=1,
        description="connections at once; a request beyond gets 503 (by default the open-file"
        " limit less 256 kept for the database, the broker and files)",
    )
    instance: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        description="names this gateway's transactional producers and its projector's static"
        " group member; unique per running gateway, the same after a restart (the new producers"
        " then abort what the old left open, the projector takes its partitions back at once)",
    )
    publish_producers: int = Field(
        default=4, ge=1, le=64, description="batches published at once (a transaction each)"
    )
    read_cache_entries: int = Field(
        default=1024,
        ge=0,
        description="answers of the rankings kept in memory until they change (0: none, every"
        " request reads PostgreSQL)",
    )
    assets_dir: str | None = Field(
        default=None,
        description="node_modules holding the dashboard's npm assets (echarts, swagger-ui-dist);"
        " by default the repository's",
    )
    bureau_name: str = Field(
        default="浏阳市财政局",
        min_length=1,
        description="the agency's name as its documents carry it (督查通报, 喜报, 季讲评)",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)

    @model_validator(mode="after")
    def _a_batch_fits_a_burst(self) -> Self:
        if self.max_batch_events > self.ingest_burst:
            raise ValueError(
                "MINGDENG_GATEWAY_MAX_BATCH_EVENTS is above INGEST_BURST: such a batch could never pass"
            )
        return self

    @model_validator(mode="after")
    def _real_secret_outside_development(self) -> Self:
        secret = self.jwt_secret.get_secret_value()
        if self.environment != "development" and (secret == DEVELOPMENT_SECRET or len(secret) < 32):
            raise ValueError(
                "MINGDENG_GATEWAY_JWT_SECRET must be set to 32+ random characters outside development"
            )
        return self
