from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mingdeng.runtime.settings import KafkaSettings, PostgresSettings


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINGDENG_NOTIFY_", extra="ignore")

    health_host: str = "127.0.0.1"
    health_port: int = Field(default=8102, ge=1, le=65535)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
