"""Settings: the one place that reads the environment (prefix ``ADMITONE_``, ``.env`` too)."""

from __future__ import annotations

import functools
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Secrets that ship in the code: fine on a laptop, refused in production.
DEVELOPMENT_SECRET = "admitone-development-secret-change-me"  # noqa: S105


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class OidcProvider(BaseModel):
    """One OpenID Connect identity provider people may sign in with (docs/oidc.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The provider's key in URLs (/auth/oidc/<name>/start) and in the identity links:
    # renaming it later orphans the links made under the old name.
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    # Shown on the login page: "Sign in with <display_name>".
    display_name: str = Field(min_length=1, max_length=80)
    # The issuer URL; its /.well-known/openid-configuration is discovered (and cached).
    issuer: str = Field(min_length=8, max_length=500)
    client_id: str = Field(min_length=1, max_length=500)
    # None: a public client (PKCE alone, no client authentication at the token endpoint).
    client_secret: SecretStr | None = None
    scopes: str = Field(default="openid email profile", max_length=500)

    @field_validator("issuer")
    @classmethod
    def _http_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the issuer must be an http(s):// URL")
        if parts.query or parts.fragment:
            raise ValueError("the issuer must have no query or fragment")
        return value

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError("the scopes must include 'openid'")
        return value


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
    # Account mails (accounts/recovery.py, accounts/verification.py): how long a mailed
    # link works, and how many of one kind an address receives per hour at most (so the
    # "forgot password" form cannot be used to mail-bomb someone).
    password_reset_minutes: int = Field(default=60, ge=5, le=24 * 60)
    email_verification_hours: int = Field(default=48, ge=1, le=30 * 24)
    account_mails_per_hour: int = Field(default=3, ge=1, le=100)
    # "Your logins": a login's last use is written at most this often (at token refresh
    # and page loads), never on every request.
    login_seen_interval_seconds: int = Field(default=300, ge=1, le=86400)
    # The embedded SQLite mode migrates itself on start; PostgreSQL runs `admitone migrate`.
    migrate_on_start: bool = True
    # How long an order holds its seats once the buyer starts paying (POST .../pay
    # extends the hold to created_at + hold_minutes, never further: docs/locking.md).
    hold_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # How long a new order holds its seats before the buyer starts paying: short, so that
    # abandoned or scripted orders give their seats back soon (issue 13).
    # Capped by hold_minutes (``unpaid_hold``).
    unpaid_hold_minutes: int = Field(default=5, ge=1, le=24 * 60)
    # Seats one client may hold at once (unpaid orders of one event) by account or
    # e-mail, and by network address (larger: buyers behind one NAT share an address).
    # 0 turns the bound off (docs/locking.md, "Hold limits").
    max_held_seats_per_client: int = Field(default=10, ge=0, le=100_000)
    max_held_seats_per_address: int = Field(default=50, ge=0, le=100_000)
    # How long after a sale its stand's cashier may still reverse it (a wrong button, a
    # change of mind at the counter): the point of sale's undo (docs/cashless.md).
    pos_reversal_minutes: int = Field(default=10, ge=1, le=24 * 60)
    # Reverse proxies in front of the app that append the client's address to
    # X-Forwarded-For. 0: the header is ignored (anyone can write it) and the TCP peer is
    # the client; N: the N-th address from the right is the client (deps.client_ip).
    trusted_proxy_count: int = Field(default=0, ge=0, le=10)
    # The in-app sweep that moves expired holds to `expired` (embedded mode). Correctness
    # never depends on it: an expired hold stops counting at once (docs/locking.md).
    hold_sweep_enabled: bool = True
    hold_sweep_interval_seconds: float = Field(default=60, gt=0, le=3600)
    # "test" is the built-in provider that works offline; "stripe" needs the two keys
    # below (docs/payments.md).
    payment_provider: Literal["test", "stripe"] = "test"
    # The test provider lets any buyer approve their own payment: no money moves. In
    # production it is refused unless this is set (a staging site, say): the name says why.
    unsafe_allow_test_payments_in_production: bool = False
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    # Another API address for Stripe (a local fake in the tests); None is api.stripe.com.
    stripe_api_base: str | None = None
    # The platform's commission on each payment, in percent of its total (0..100).
    platform_fee_percent: Decimal = Field(default=Decimal(5), ge=0, le=100, decimal_places=2)

    rate_limits_enabled: bool = True
    # Where the rate-limit counters live. Unset: the Redis of ADMITONE_REDIS_URL when
    # there is one (every process of the deployment counts together), else memory (one
    # process; `admitone serve --workers N` warns, and refuses in production). See
    # `rate_limit_storage` and docs/operations.md.
    rate_limit_storage_url: str | None = None
    # Production refuses several workers counting rate limits in memory each (every
    # worker would let the whole limit through); this accepts it knowingly.
    allow_unshared_rate_limits: bool = False
    rate_limit_login: str = "10/minute"
    rate_limit_register: str = "5/minute"
    rate_limit_refresh: str = "30/minute"
    # Per IP: asking for a reset link or a new verification link, and using such a link.
    rate_limit_account_mail: str = "5/minute"
    rate_limit_account_token: str = "20/minute"  # noqa: S105 (a rate, not a secret)
    rate_limit_payment: str = "30/minute"
    # Creating orders holds stock: a bot must not hold a whole sale.
    rate_limit_order: str = "30/minute"
    # Second-factor attempts, counted per account and per client IP: 6-digit codes must
    # not be guessable by trying (3 codes valid at a time: 30 tries an hour is 1 in 11 000).
    rate_limit_second_factor: str = "5/minute;30/hour"

    # Mail (docs/mail.md): SMTP when set (smtp:// STARTTLS, smtps:// TLS, plain smtp://host:port
    # without credentials for a local relay); otherwise each message is an .eml in outbox_dir.
    smtp_url: SecretStr | None = None
    mail_from: str = "Admit One <tickets@localhost>"
    # An organization the platform has not verified (`admitone verify-organization`)
    # mails at most this many confirmations of free orders a day: anyone can place a
    # free order with any address (docs/mail.md).
    unverified_organizer_free_mails_per_day: int = Field(default=20, ge=0, le=100_000)
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
    # Request bodies (docs/operations.md): refused with 413 past this size, counted while
    # they stream in, before they are held in memory. The image upload routes allow
    # max_image_bytes plus the multipart overhead instead.
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The whole body must arrive within this many seconds of the app starting to read
    # it; a slower sender gets a 408 and its connection is closed.
    request_body_timeout_seconds: float = Field(default=60, gt=0, le=3600)
    # uvicorn (`admitone serve`): an idle keep-alive connection is closed after this many
    # seconds, and a stopping server waits this long for the requests in flight.
    http_keep_alive_seconds: int = Field(default=5, ge=1, le=300)
    graceful_shutdown_seconds: int = Field(default=30, ge=1, le=600)
    # /docs, /redoc and /openapi.json. Unset: on in development and test, off (404) in
    # production, where the API reference is published with the documentation instead.
    api_docs_enabled: bool | None = None
    public_url: str = "http://127.0.0.1:8000"
    # Sign in with OpenID Connect providers (docs/oidc.md): a JSON list of objects with
    # name, display_name, issuer, client_id, client_secret (optional) and scopes
    # (optional). Empty: the login page shows no provider button.
    oidc_providers: list[OidcProvider] = Field(default_factory=list)
    # How long a provider's discovery document and signing keys (JWKS) are reused; an
    # ID token signed by an unknown key id fetches the keys again at once.
    oidc_discovery_cache_seconds: int = Field(default=3600, ge=0, le=86400)
    # Each call to a provider (discovery, keys, token, userinfo) gives up after this.
    oidc_http_timeout_seconds: float = Field(default=10, gt=0, le=60)
    # Passkeys (docs/two-factor.md): the relying party's name shown by the browser; its id
    # and origin are public_url's host and origin (a passkey works on that site only).
    webauthn_rp_name: str = Field(default="Admit One", min_length=1, max_length=100)
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
        "rate_limit_account_mail",
        "rate_limit_account_token",
        "rate_limit_payment",
        "rate_limit_order",
        "rate_limit_second_factor",
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
            if (
                self.payment_provider == "test"
                and not self.unsafe_allow_test_payments_in_production
            ):
                raise ValueError(
                    "ADMITONE_PAYMENT_PROVIDER is 'test' (the default) in production: "
                    "buyers would get tickets without paying. Set ADMITONE_PAYMENT_PROVIDER"
                    "=stripe with its keys, or, on a site that must never sell for real, "
                    "ADMITONE_UNSAFE_ALLOW_TEST_PAYMENTS_IN_PRODUCTION=true"
                )
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

    @model_validator(mode="after")
    def _oidc_providers_are_sound(self) -> Settings:
        names = [provider.name for provider in self.oidc_providers]
        if len(names) != len(set(names)):
            raise ValueError("ADMITONE_OIDC_PROVIDERS: each provider needs a name of its own")
        if self.env == Environment.production:
            for provider in self.oidc_providers:
                if not provider.issuer.startswith("https://"):
                    # Tokens and keys fetched over plain HTTP could be swapped on the way.
                    raise ValueError(
                        f"ADMITONE_OIDC_PROVIDERS: the issuer of {provider.name!r} must be "
                        "https:// in production"
                    )
        return self

    def oidc_provider(self, name: str) -> OidcProvider | None:
        return next((p for p in self.oidc_providers if p.name == name), None)

    @property
    def unpaid_hold(self) -> timedelta:
        """The hold of an order not yet at the payment step (never longer than the full one)."""
        return timedelta(minutes=min(self.unpaid_hold_minutes, self.hold_minutes))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def rate_limit_storage(self) -> str:
        """The `limits` storage URL in effect: the explicit setting, else the Redis of
        the jobs (shared by every process), else this process's memory."""
        if self.rate_limit_storage_url:
            return self.rate_limit_storage_url
        if self.redis_url:
            if self.redis_url.startswith("unix://"):
                return "redis+unix://" + self.redis_url.removeprefix("unix://")
            return self.redis_url
        return "memory://"

    @property
    def rate_limits_shared(self) -> bool:
        """Whether every process of the deployment counts against the same limits."""
        return not self.rate_limits_enabled or not self.rate_limit_storage.startswith("memory")

    @property
    def api_docs_on(self) -> bool:
        if self.api_docs_enabled is not None:
            return self.api_docs_enabled
        return self.env != Environment.production


@functools.lru_cache
def get_settings() -> Settings:
    return Settings()
