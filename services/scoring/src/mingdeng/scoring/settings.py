from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mingdeng.runtime.settings import KafkaSettings

DEFAULT_RULES = Path(__file__).parent / "rules" / "rules-2026.1.toml"


class ScoringSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINGDENG_SCORING_", extra="ignore")

    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8101, ge=1, le=65535)
    store: Literal["memory://", "rocksdb://"] = "memory://"
    data_dir: Path = Path(".run/scoring")
    rules_file: Path = DEFAULT_RULES
    flush_interval_s: float = Field(
        default=0.2, gt=0, description="how often changes are published"
    )
    close_check_interval_s: float = Field(default=60, gt=0)
    stall_after_s: float = Field(
        default=20, gt=0, description="lag without progress for this long restarts the worker"
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
