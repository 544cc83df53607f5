"""Settings: the one place that reads the environment (prefix ``ADMITONE_``, ``.env`` too)."""

from __future__ import annotations

import functools
from decimal import Decimal
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Secrets that ship in the code: fine on a laptop, refused in production.
DEVELOPMENT_SECRET = "admitone-development-secret-change-me"  # noqa: S105


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ADMITONE_", env_file=".env", extra="ignore", validate_default=True
    )

    env: Environment = Environment.development
    database_url: str = Field(
        default="sqlite:///./var/admitone.db",
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db",
    )
    # Per process; the pool may grow to twice this (one connection per worker thread).
    database_pool_size: int = Field(default=20, ge=1, le=200)
    # Threads that run request handlers in each process (see app.py).
    worker_threads: int = Field(default=20, ge=1, le=200)
    # Each serving process of `admitone serve` (the one, or each of --workers N) stays on
    # one CPU (cpu_affinity.py); off lets the kernel move them.
    pin_workers: bool = True
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    # Encrypts the events' ticket-signing private keys (docs/ticket-signing.md). Unset, a
    # key is derived from secret_key under its own HKDF label.
    ticket_key_secret: SecretStr | None = None
    access_token_minutes: int = Field(default=15, ge=1, le=60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    # The embedded SQLite mode migrates itself on start; PostgreSQL runs `admitone migrate`.
    migrate_on_start: bool = True
    hold_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # The in-app sweep that moves expired holds to `expired` (embedded mode). Correctness
    # never depends on it: an expired hold stops counting at once (docs/locking.md).
    hold_sweep_enabled: bool = True
    hold_sweep_interval_seconds: float = Field(default=60, gt=0, le=3600)
    # "test" is the built-in provider that works offline; "stripe" needs the two keys
    # below (docs/payments.md).
    payment_provider: Literal["test", "stripe"] = "test"
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    # Another API address for Stripe (a local fake in the tests); None is api.stripe.com.
    stripe_api_base: str | None = None
    # The platform's commission on each payment, in percent of its total (0..100).
    platform_fee_percent: Decimal = Field(default=Decimal(5), ge=0, le=100, decimal_places=2)

    rate_limits_enabled: bool = True
    rate_limit_storage_url: str = "memory://"
    rate_limit_login: str = "10/minute"
    rate_limit_register: str = "5/minute"
    rate_limit_refresh: str = "30/minute"
    rate_limit_payment: str = "30/minute"
    # Creating orders holds stock: a bot must not hold a whole sale.
    rate_limit_order: str = "30/minute"

    # Mail (docs/mail.md): SMTP when set (smtp:// STARTTLS, smtps:// TLS, plain smtp://host:port
    # without credentials for a local relay); otherwise each message is an .eml in outbox_dir.
    smtp_url: SecretStr | None = None
    mail_from: str = "Admit One <tickets@localhost>"
    outbox_dir: Path = Path("./var/outbox")
    # Jobs (docs/jobs.md): Celery on this Redis when set; in-process threads otherwise.
    redis_url: str | None = None
    jobs_in_process_threads: int = Field(default=2, ge=1, le=32)
    # Run in-process jobs inline in the committing thread, right after the commit (like
    # Celery's task_always_eager). Unset: on under ADMITONE_ENV=test, so that a test sees
    # a job's effects as soon as the request that enqueued it has answered.
    jobs_eager: bool | None = None
    # Redis redelivers a job whose worker died this long after it was taken (acks_late).
    jobs_visibility_timeout_seconds: int = Field(default=3600, ge=1, le=86400)
    reminder_interval_seconds: float = Field(default=3600, gt=0, le=86400)
    # How often paid orders whose confirmation job was lost (the process died after the
    # commit, Redis refused the message) are looked for and sent.
    confirmation_catch_up_interval_seconds: float = Field(default=300, gt=0, le=86400)
    # How often cancelled events whose paid orders are not all refunded (the refund job
    # was lost, or the provider refused a refund) get their refund job again.
    refund_catch_up_interval_seconds: float = Field(default=600, gt=0, le=86400)
    # Test-only hook: while this file exists, jobs that honour it wait (env=test only).
    jobs_test_pause_file: Path | None = None

    media_dir: Path = Path("./var/media")
    max_image_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    public_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    log_json: bool = True

    # GET /metrics (docs/metrics.md). A bearer token the scraper sends, and/or the networks
    # it may come from (comma-separated CIDRs, "10.0.0.0/8,127.0.0.1"); with both set,
    # both are required. With neither: off (404) in production, loopback only elsewhere.
    metrics_token: SecretStr | None = None
    metrics_allowed_networks: Annotated[list[IPv4Network | IPv6Network], NoDecode] = []
    # Where prometheus_client's multiprocess mode keeps each process's counters: set by
    # `admitone serve --workers N` (a fresh temporary folder) for its worker processes,
    # or by whoever runs several app processes another way. Its usual name, unprefixed.
    prometheus_multiproc_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"),
    )

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "ADMITONE_DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL"
            )
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # psycopg 3 is the driver we ship; the bare scheme would ask for psycopg2.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator(
        "rate_limit_login",
        "rate_limit_register",
        "rate_limit_refresh",
        "rate_limit_payment",
        "rate_limit_order",
    )
    @classmethod
    def _valid_rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit like '10/minute': {value!r}") from exc
        return value

    @field_validator("smtp_url")
    @classmethod
    def _valid_smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value.get_secret_value())
            port = parts.port
        except ValueError as exc:
            raise ValueError("not a URL like smtp://user:password@host:587") from exc
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must be smtp://[user:password@]host[:port] or smtps://...")
        if port is not None and not 0 < port < 65536:
            raise ValueError("port out of range")
        if parts.username and parts.password is None:
            raise ValueError("a user needs a password (smtp://user:password@host:port)")
        return value

    @field_validator("mail_from")
    @classmethod
    def _valid_mail_from(cls, value: str) -> str:
        from email.utils import parseaddr

        _name, address = parseaddr(value)
        if "@" not in address or any(char in value for char in "\r\n\x00"):
            raise ValueError("must be an address like 'Admit One <tickets@example.com>'")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_or_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None  # an empty variable means "no token", not "the empty token"
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("metrics_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            try:
                # strict=False: "10.0.0.1/8" means its network, as an operator would mean it
                return [ip_network(str(part), strict=False) for part in value]
            except ValueError as exc:
                raise ValueError(f"not a network like 10.0.0.0/8: {exc}") from exc
        return value

    @field_validator("redis_url")
    @classmethod
    def _valid_redis_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://host:port/db or rediss:// URL")
        return value

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        if self.env == Environment.production:
            if self.secret_key.get_secret_value() == DEVELOPMENT_SECRET:
                raise ValueError("ADMITONE_SECRET_KEY must be set in production")
            if len(self.secret_key.get_secret_value()) < 32:
                raise ValueError("ADMITONE_SECRET_KEY must be at least 32 characters")
        if self.jobs_test_pause_file is not None and self.env != Environment.test:
            raise ValueError("ADMITONE_JOBS_TEST_PAUSE_FILE is for tests only (ADMITONE_ENV=test)")
        return self

    @model_validator(mode="after")
    def _stripe_needs_its_keys(self) -> Settings:
        if self.payment_provider == "stripe":
            for name in ("stripe_secret_key", "stripe_webhook_secret"):
                value = getattr(self, name)
                if value is None or not value.get_secret_value().strip():
                    raise ValueError(
                        f"ADMITONE_{name.upper()} must be set when "
                        "ADMITONE_PAYMENT_PROVIDER is stripe"
                    )
        if self.stripe_api_base is not None and not self.stripe_api_base.startswith(
            ("http://", "https://")
        ):
            raise ValueError("ADMITONE_STRIPE_API_BASE must be an http(s):// URL")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@functools.lru_cache
def get_settings() -> Settings:
    return Settings()
