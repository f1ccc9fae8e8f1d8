"""Settings, from ``COURSEGEN_`` environment variables (and a ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "offline": (0.0, 0.0),
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.0),
    "gpt-4o-mini": (0.15, 0.60),
    "o4-mini": (1.10, 4.40),
}
"""USD per million input and output tokens, as OpenAI lists them; an estimate, not a bill."""


def _default_data_dir() -> Path:
    return Path.cwd() / ".coursegen"


class Settings(BaseSettings):
    """Every setting of coursegen. Each field is ``COURSEGEN_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="COURSEGEN_", env_file=".env", extra="ignore")

    nats_url: str | None = None
    """NATS server URL(s), comma-separated. Unset: ``demo``/``up`` start an embedded nats-server."""
    database_url: str | None = None
    """PostgreSQL URL of the app role (rows only, never the schema). Unset: ``demo``/``up`` start an
    embedded PostgreSQL."""
    gateway_database_url: str | None = None
    """PostgreSQL URL of the gateway's role (``coursegen_gateway``): row-level security keeps each of its
    transactions to the signed-in caller's company, and a query without a company sees nothing. The
    gateway connects with it; unset, with ``database_url`` (and warns: the pipeline's role sees every
    company)."""
    migrate_database_url: str | None = None
    """PostgreSQL URL of the owner role, for ``coursegen migrate``; unset: ``database_url``."""
    nats_user: str | None = None
    """The NATS user this process connects as (one per service; ``client`` for the CLI)."""
    nats_password: SecretStr | None = None
    """That user's password."""
    nats_creds_file: Path | None = None
    """A mounted NATS credentials file instead of a password: a ``.creds`` file (JWT) or an nkey seed."""
    nats_passwords_file: Path | None = None
    """Every user's password as JSON (the embedded stack's 0600 file): each service connects as itself."""
    nats_tls_ca: Path | None = None
    """CA certificate that signed the NATS server's certificate: connect with TLS and verify it."""
    nats_tls_cert: Path | None = None
    """Client certificate for NATS servers that verify clients (with ``nats_tls_key``)."""
    nats_tls_key: Path | None = None
    max_event_bytes: int = Field(default=256 * 1024, ge=1024)
    """Largest event the bus publishes; a bigger one is refused with a clear error before NATS sees it."""
    data_dir: Path = Field(default_factory=_default_data_dir)
    """Where the embedded servers keep their data, and where logs go."""

    model: str = "offline"
    """The model every agent uses: ``offline``, ``openai:<model>``, ``litellm:<provider>/<model>``."""
    model_planner: str | None = None
    model_researcher: str | None = None
    model_content: str | None = None
    model_quality: str | None = None
    model_enhancer: str | None = None
    model_multimedia: str | None = None
    model_finalizer: str | None = None

    offline_latency_seconds: float = 0.0
    """Pause of the offline model per call, to stand in for a real model's latency (benchmarks, chaos tests)."""
    max_turns: int = 12
    """Most model turns one agent run may take."""
    model_timeout_seconds: float = 120.0
    """Timeout of one model call."""
    model_retries: int = 4
    """Retries of a model call on 429, 5xx and network errors."""
    openai_tracing: bool = False
    """Export the Agents SDK's traces to OpenAI (off: they stay on this side)."""
    trace_sensitive_data: bool = False
    """Put prompts, model outputs and employee data into traces and logs."""
    metrics_port: int = 0
    """Port of the Prometheus ``/metrics`` endpoint; 0 = off. ``coursegen up`` gives each replica its own,
    counting up from this one."""
    metrics_host: str = "0.0.0.0"
    """Address the metrics endpoint listens on."""
    health_port: int = Field(default=0, ge=0, le=65535)
    """Port of ``/healthz`` (alive) and ``/readyz`` (connected to NATS and PostgreSQL, consumers bound)
    of ``coursegen service``; 0 = off. Containers use 8080. Listens on ``metrics_host``."""
    jaeger_ui_url: str | None = None
    """Jaeger's web UI (e.g. http://localhost:16686): ``coursegen trace`` links each course's trace there."""
    token_budget: int | None = Field(default=None, gt=0, le=2**63 - 1)
    """Default per-job token budget (input + output); unset means no limit."""
    max_employees_per_job: int = Field(default=5000, ge=1)
    """Most employees one job may ask for; a larger request is rejected whole, with the reason."""
    max_active_jobs_per_company: int = Field(default=10, ge=1)
    """Most jobs one company may have pending or running at once."""
    max_jobs_per_minute_per_company: int = Field(default=30, ge=1)
    """Most job requests one company may have accepted in a minute."""
    max_resumes_per_minute_per_company: int = Field(default=10, ge=1)
    """Most resumes one company may ask for in a minute."""
    prices: dict[str, tuple[float, float]] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    """USD per million (input, output) tokens by model name, for ``coursegen report``. JSON, e.g.
    ``{"gpt-4o-mini": [0.15, 0.6]}``; merged over the defaults. A name matches with or without
    its provider (``openai:gpt-4o-mini`` or ``gpt-4o-mini``)."""
    research_web_search: bool = False
    """Let the researcher use OpenAI's hosted web search besides the knowledge base
    (only with an ``openai:<model>`` Responses model)."""

    concurrency: int = Field(default=4, ge=1)
    """Messages one replica works on at once: agent runs mostly wait on the model."""
    ack_wait_seconds: float = 60.0
    """How long JetStream waits for an ack before redelivering; stages send heartbeats."""
    max_deliveries: int = 5
    """Deliveries of one message before it is dead-lettered."""
    retry_base_delay_seconds: float = 1.0
    """First redelivery delay of a retryable failure; doubles each attempt."""
    retry_max_delay_seconds: float = 30.0
    stream_max_age_days: float = 7.0
    """How long the stream keeps messages (limits retention)."""
    stream_replicas: int = 1
    """Replicas of the stream (3 on a production cluster)."""
    outage_retry_seconds: float = Field(default=900.0, ge=0)
    """How long a message waits out a database or bus outage in the process (heartbeating, capped
    backoff) before that failure counts as one of its deliveries."""
    db_pool_max: int = 10
    """Connections per replica: each agent run at work holds one for its unit-of-work lock."""

    stall_after_seconds: float = 900.0
    """A course run without progress for this long is re-driven from its last stored output."""

    @field_validator("prices", mode="after")
    @classmethod
    def _over_default_prices(cls, prices: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        # Naming one model's price must not drop the others'.
        return {**DEFAULT_PRICES, **prices}

    def model_for(self, stage: str) -> str:
        """The model of one stage: its own override, else ``model``."""
        override = getattr(self, f"model_{stage}", None)
        return override or self.model


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
