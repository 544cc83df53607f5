"""The relay's settings: one typed object, read from the command line and
``ADMITONE_RELAY_*`` variables (the token is best given as ``ADMITONE_RELAY_TOKEN``, so it
stays out of the process list), validated before the relay starts.

``tls_cert`` and ``tls_key`` (PEM files, both or neither) make the relay serve https: a
phone's browser gives the scanner page its camera, its service worker and WebCrypto only
in a secure context, which plain http to a LAN address is not (docs/gates.md)."""

from __future__ import annotations

import uuid
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from admitone.checkin.devices import TOKEN_PREFIX


class RelaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADMITONE_RELAY_", extra="ignore", frozen=True)

    upstream: str = Field(description="Upstream's base URL, e.g. https://tickets.example.org")
    event: uuid.UUID = Field(description="The event the relay serves")
    token: SecretStr = Field(description="The relay's device token upstream (aod_...)")
    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=1, le=65535)
    database: Path = Path("admitone-relay.db")
    push_every: float = Field(default=1.0, gt=0, description="Seconds between pushes")
    pull_every: float = Field(default=10.0, gt=0, description="Seconds between pulls")
    tls_cert: Path | None = Field(default=None, description="PEM certificate (chain): https")
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert")

    @field_validator("upstream")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// address")
        return value.rstrip("/")

    @field_validator("token")
    @classmethod
    def _device_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(TOKEN_PREFIX):
            raise ValueError(f"a device token ({TOKEN_PREFIX}...), from pairing the relay upstream")
        return value

    @field_validator("tls_cert", "tls_key")
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> RelaySettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together (https), or neither (http)")
        return self

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert is not None else "http"
