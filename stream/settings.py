"""All configuration, read from the environment (TIERWATCH_*) in this one place."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PSEUDONYM_KEY = "tierwatch-dev-only-key"


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
    dispatch_file: Path | None = Field(
        default=None, description="dispatch YAML (channels, routes, recipients); unset: no dispatch"
    )
    store: str = Field(default="memory://", description="Faust table store (rocksdb:// in prod)")
    data_dir: Path = Field(
        default=Path(".tierwatch"), description="worker state directory (one worker a directory)"
    )
    data_dir_wait_s: float = Field(
        default=10.0,
        ge=0,
        description="how long a starting worker waits for another one (still stopping) to "
        "release its data directory before it exits 2",
    )
    clock: Literal["wall", "external"] = Field(
        default="wall",
        description="wall: the leader ticks every tick_interval_s; external: a driver ticks",
    )
    tansu: bool = Field(
        default=False, description="the broker is Tansu (the embedded one): apply its workarounds"
    )
    tick_interval_s: float = Field(default=60.0, gt=0, description="wall-clock tick period")
    batch_max: int = Field(
        default=10_000,
        ge=1,
        description="records processed between two writes of their learners' states (a "
        "learner's state is written once per batch, not once per record)",
    )
    batch_within_s: float = Field(
        default=3.0,
        gt=0,
        description="longest wait of a processed record for its state to be written and its "
        "offset committed (transitions are sent at once; a waiting tick flushes earlier)",
    )
    uvloop: bool = Field(
        default=True, description="run the worker on uvloop's event loop (faster than asyncio's)"
    )
    producer_buffer: int = Field(
        default=10_000,
        ge=100,
        description="messages Faust's producer buffers before the "
        "stream waits for them to be sent (Faust's own default is 100)",
    )
    tick_barrier_timeout_s: float = Field(
        default=30.0, gt=0, description="how long a tick waits for the inputs produced before it"
    )
    fault_kill_after_store: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="chaos testing only: the chance that a worker kills itself (SIGKILL) after "
        "storing a batch's states and before acknowledging its records; 0 in production",
    )
    session_timeout_s: float = Field(default=6.0, gt=0, description="consumer session timeout")
    rebalance_timeout_s: float = Field(default=6.0, gt=0, description="consumer rebalance timeout")
    web_port: int = Field(default=6066, ge=0, le=65535, description="worker HTTP port")
    web_host: str = Field(
        default="127.0.0.1", description="worker's advertised host (other workers call it)"
    )
    web_bind: str = Field(default="127.0.0.1", description="worker HTTP listen address")
    changelog_retention_days: float = Field(
        default=35.0,
        gt=1.0,
        description="changelog records older than this are deleted (compact,delete); a "
        "learner's state is rewritten at least once a week, so only erased or gone "
        "learners age out",
    )
    deadletter_retention_days: float = Field(
        default=30.0,
        gt=0.0,
        description="dead letters older than this are deleted (set when the topic is created): "
        "their payloads are scrubbed of personal data, but they stay keyed by learner id",
    )
    standby_replicas: int = Field(
        default=0, ge=0, description="standby copies of each table partition on other workers"
    )
    web_enabled: bool = Field(
        default=True, description="serve the worker's /metrics, /healthz and /readyz"
    )
    ingest_host: str = Field(default="127.0.0.1", description="ingest HTTP listen address")
    ingest_port: int = Field(default=8080, ge=0, le=65535, description="ingest HTTP port")
    api_token: SecretStr | None = Field(
        default=None, description="bearer token for /events, /roster, /assignments, /interventions"
    )
    xapi_credentials: SecretStr | None = Field(
        default=None, description="xAPI Basic auth, 'key:secret' pairs separated by commas"
    )
    caliper_tokens: SecretStr | None = Field(
        default=None, description="Caliper bearer tokens, separated by commas"
    )
    canvas_secret: SecretStr | None = Field(
        default=None, description="shared secret Canvas sends in the canvas_secret_header"
    )
    canvas_secret_header: str = Field(
        default="X-Tierwatch-Secret", description="header carrying the Canvas shared secret"
    )
    canvas_jwks: Path | None = Field(
        default=None, description="JWKS file: accept Canvas events sent as JWTs signed by its keys"
    )
    canvas_jwt_audience: str | None = Field(
        default=None, description="the `aud` a Canvas JWT must carry (unchecked when unset)"
    )
    moodle_token: SecretStr | None = Field(
        default=None, description="shared token Moodle webhooks send in the body"
    )
    max_body_bytes: int = Field(default=1 << 20, ge=1024, description="largest request body")
    max_batch: int = Field(default=500, ge=1, description="largest batch of records a request")
    rate_per_s: float = Field(default=200.0, gt=0, description="requests a second a credential")
    rate_burst: int = Field(default=400, ge=1, description="burst of requests a credential")
    ack_timeout_s: float = Field(
        default=10.0, gt=0, description="how long ingest waits for the broker before a 503"
    )
    xapi_statements_remembered: int = Field(
        default=150_000,
        ge=1,
        description="xAPI statement ids an ingest remembers (about 620 bytes each: 150,000 "
        "is about 90 MiB); beyond, the least recently stored are forgotten",
    )
    action_keys: SecretStr | None = Field(
        default=None,
        description="keys of manager action links, separated by commas, newest first (the "
        "first signs, all verify; `tierwatch actions new-key` makes one); unset: no links",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="the address people open action links on (a worker's web address, or "
        "the proxy in front of the workers); default: the worker's own",
    )
    action_link_days: int = Field(
        default=14, ge=1, le=90, description="how long an action link in a message works"
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        description="the Slack app's signing secret: POST /slack/actions records what a "
        "message's buttons say (unset: no endpoint)",
    )
    slack_response_hosts: str = Field(
        default="hooks.slack.com",
        description="hosts a Slack action's response_url may name, separated by commas",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    pseudonym_key: SecretStr = Field(
        default=SecretStr(DEFAULT_PSEUDONYM_KEY),
        description="HMAC key for learner pseudonyms in logs (set it in production)",
    )

    @property
    def uses_default_pseudonym_key(self) -> bool:
        return self.pseudonym_key.get_secret_value() == DEFAULT_PSEUDONYM_KEY

    @property
    def embedded(self) -> bool:
        return self.broker is None
