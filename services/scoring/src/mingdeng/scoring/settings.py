from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mingdeng.runtime.settings import KafkaSettings

DEFAULT_RULES = Path(__file__).parent / "rules" / "rules-2026.1.toml"


class ScoringSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINGDENG_SCORING_", extra="ignore")

    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8101, ge=1, le=65535)
    data_dir: Path = Field(
        default=Path(".run/scoring"),
        description="where a checkpoint is spooled before it goes to the changelog topic",
    )
    partitioned: bool = Field(
        default=False,
        description="a task per partition, shared by every worker of the group; needs the"
        " default agency keyed `default` (docs/decisions/0004-scoring-tasks-per-partition.md)",
    )
    rules_file: Path = DEFAULT_RULES
    max_batch: int = Field(
        default=5000, ge=1, description="most inbound records taken into one transaction"
    )
    checkpoint_every_s: float = Field(default=30, gt=0)
    checkpoint_every_records: int = Field(default=100_000, ge=1)
    close_check_interval_s: float = Field(default=60, gt=0)
    selection_interval_s: float = Field(
        default=1.0,
        ge=0,
        description="a quarter's selection and ranking order, and a year's provisional top ten,"
        " are published at most this often; scores as they change",
    )
    barrier_timeout_s: float = Field(
        default=60, gt=0, description="a close still missing copies after this gets them written"
    )
    ready_max_lag: int = Field(
        default=10_000, ge=0, description="/readyz says not ready when further behind"
    )
    retry_backoff_max_s: float = Field(default=30, gt=0)
    session_timeout_ms: int = Field(
        default=6000,
        ge=1000,
        description="the consumer group's session: a worker silent this long (killed, or its"
        " machine gone) loses its partitions to the others; at least the broker's"
        " group.min.session.timeout.ms, and well above the longest batch"
        " (mingdeng_scoring_longest_busy_seconds)",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
