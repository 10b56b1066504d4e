"""All configuration, read from the environment (TIERWATCH_*) in this one place."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """tierwatch's settings. Every field can be set as TIERWATCH_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="TIERWATCH_", frozen=True, extra="ignore")

    broker: str | None = Field(
        default=None,
        description="Kafka bootstrap servers (host:port,...); unset starts the embedded broker",
    )
    app_id: str = Field(default="tierwatch", description="Faust app id and consumer group")
    topic_prefix: str = Field(default="", description="prefix for every topic name")
    partitions: int = Field(default=4, ge=1, description="partitions of every per-learner topic")
    replication: int = Field(default=1, ge=1, description="replication factor of created topics")
    policy_file: Path | None = Field(default=None, description="policy YAML; unset: the default")
    store: str = Field(default="memory://", description="Faust table store (rocksdb:// in prod)")
    data_dir: Path = Field(default=Path(".tierwatch"), description="worker state directory")
    clock: Literal["wall", "external"] = Field(
        default="wall",
        description="wall: the leader ticks every tick_interval_s; external: a driver ticks",
    )
    tansu: bool = Field(
        default=False, description="the broker is Tansu (the embedded one): apply its workarounds"
    )
    tick_interval_s: float = Field(default=60.0, gt=0, description="wall-clock tick period")
    tick_barrier_timeout_s: float = Field(
        default=30.0, gt=0, description="how long a tick waits for the inputs produced before it"
    )
    session_timeout_s: float = Field(default=6.0, gt=0, description="consumer session timeout")
    rebalance_timeout_s: float = Field(default=6.0, gt=0, description="consumer rebalance timeout")
    web_port: int = Field(default=6066, ge=0, le=65535, description="worker HTTP port")
    web_enabled: bool = Field(default=False, description="serve the worker's HTTP endpoints")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    pseudonym_key: SecretStr = Field(
        default=SecretStr("tierwatch-dev-only-key"),
        description="HMAC key for learner pseudonyms in logs (set it in production)",
    )

    @property
    def embedded(self) -> bool:
        return self.broker is None
