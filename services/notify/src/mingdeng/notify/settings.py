from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mingdeng.notify.adapters.templates import DEFAULT_AGENCIES, DEFAULT_TEMPLATES
from mingdeng.notify.domain.orglife import DEFAULT_RHYTHM_FILE
from mingdeng.runtime.settings import KafkaSettings, PostgresSettings

ProviderName = Literal["sink", "aliyun", "tencent"]


class AliyunSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINGDENG_ALIYUN_", extra="ignore")

    access_key_id: str = ""
    access_key_secret: SecretStr = SecretStr("")
    sign_name: str = "明灯"
    endpoint: str = "dysmsapi.aliyuncs.com"
    protocol: Literal["https", "http"] = "https"


class TencentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINGDENG_TENCENT_", extra="ignore")

    secret_id: str = ""
    secret_key: SecretStr = SecretStr("")
    sdk_app_id: str = ""
    sign_name: str = "明灯"
    region: str = "ap-guangzhou"
    endpoint: str = "sms.tencentcloudapi.com"
    protocol: Literal["https", "http"] = "https"


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINGDENG_NOTIFY_", extra="ignore")

    health_host: str = "127.0.0.1"
    health_port: int = Field(default=8102, ge=1, le=65535)
    providers: list[ProviderName] = Field(
        default=["sink"], description="in order of preference; the next is the fallback"
    )
    sink_file: Path = Path(".run/sms.jsonl")
    templates_file: Path = DEFAULT_TEMPLATES
    agencies_file: Path = Field(
        default=DEFAULT_AGENCIES,
        description='each agency\'s SMS signature and templates (docs/notify.md, "Agencies")',
    )
    organisation_life_file: Path = DEFAULT_RHYTHM_FILE  # the rhythm of 三会一课 and 主题党日
    # per-number limits, below the providers' own
    quiet_hours: str = Field(
        default="22:00-07:00",
        pattern=r"^(\d\d:\d\d-\d\d:\d\d)?$",
        description="no SMS but violation reminders in this window (business time); empty: none",
    )
    per_minute: int = Field(default=1, ge=1)
    per_hour: int = Field(default=5, ge=1)
    per_day: int = Field(default=10, ge=1)
    max_attempts: int = Field(default=8, ge=1)
    dispatch_idle_s: float = Field(default=0.5, gt=0)
    schedule_every_s: float = Field(default=30, gt=0)
    settle_after_s: float = Field(
        default=60, gt=0, description="a claim older than this is unsettled"
    )
    reconcile_every_s: float = Field(
        default=5, gt=0, description="how often claims left 'sending' are looked for"
    )
    alive_every_s: float = Field(default=5, gt=0, description="how often an instance says so")
    claim_lease_s: float = Field(
        default=20,
        gt=0,
        description="an instance not seen for this long is gone: its claims are settled",
    )
    publish_every_s: float = Field(default=0.5, gt=0)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    aliyun: AliyunSettings = Field(default_factory=AliyunSettings)
    tencent: TencentSettings = Field(default_factory=TencentSettings)
