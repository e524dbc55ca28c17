from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mingdeng.runtime.settings import KafkaSettings, PostgresSettings


class OutreachSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINGDENG_OUTREACH_", extra="ignore")

    health_host: str = "127.0.0.1"
    health_port: int = Field(default=8103, ge=1, le=65535)
    refresh_interval_s: float = Field(
        default=0.25, gt=0, description="publish changes this often (coverage fresh in ≤ 2 s)"
    )
    full_refresh_s: float = Field(
        default=300, gt=0, description="stamp the running periods' coverage with the time"
    )
    reminder_interval_s: float = Field(default=3600, gt=0, description="look for overdue visits")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
