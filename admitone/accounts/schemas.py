from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import EmailStr, Field, StringConstraints

from admitone.schemas import InputModel, OutputModel

Password = Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=False)]
FullName = Annotated[str, StringConstraints(max_length=200)]
Locale = Literal["en", "fr"]


class RegisterIn(InputModel):
    email: EmailStr = Field(max_length=320, examples=["ada@example.com"])
    password: Password = Field(examples=["correct horse battery staple"])
    full_name: FullName = Field(default="", examples=["Ada Lovelace"])


class LoginIn(InputModel):
    email: EmailStr = Field(max_length=320)
    password: Password


class RefreshIn(InputModel):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ProfilePatch(InputModel):
    full_name: FullName | None = None
    locale: Locale | None = None
    current_password: Password | None = None
    new_password: Password | None = None


class UserOut(OutputModel):
    id: uuid.UUID
    email: str
    full_name: str
    locale: str
    is_platform_admin: bool
    two_factor_enabled: bool
    created_at: datetime


class TokensOut(OutputModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires")


class SessionOut(OutputModel):
    user: UserOut
    tokens: TokensOut
