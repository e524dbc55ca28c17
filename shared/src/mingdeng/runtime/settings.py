"""Typed settings read from the environment. Addresses have no defaults: deployments set them."""

from __future__ import annotations

import socket

from pydantic import Field, PostgresDsn
from pydantic_settings import BaseSettings, SettingsConfigDict

from mingdeng.contracts.topics import Topic


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINGDENG_KAFKA_", extra="ignore")

    bootstrap_servers: str = Field(description="host:port[,host:port…] of the brokers")
    replication_factor: int = Field(default=1, ge=1)
    topic_prefix: str = Field(
        default="",
        pattern=r"^[a-zA-Z0-9._-]*$",
        description="put before every topic and group name, e.g. to keep environments apart",
    )
    instance: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        max_length=200,
        description="this replica's name in its consumer groups (static membership): unique"
        " per running replica of a service, the same after a restart, which then takes its"
        " partitions back at once instead of after the group's session timeout",
    )

    def topic(self, topic: Topic) -> str:
        return self.topic_prefix + topic.name

    def group(self, name: str) -> str:
        return self.topic_prefix + name


class PostgresSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINGDENG_", extra="ignore")

    database_url: PostgresDsn = Field(description="postgresql://user@host:port/database")

    @property
    def dsn(self) -> str:
        return str(self.database_url)


def kafka_settings() -> KafkaSettings:
    return KafkaSettings()  # read from the environment
