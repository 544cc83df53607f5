from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import EmailStr, Field, StringConstraints

from admitone.schemas import InputModel, OneLine, OutputModel

Password = Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=False)]
FullName = Annotated[str, StringConstraints(max_length=200), OneLine]
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
    # A new address needs current_password and is verified again (a link is mailed).
    email: EmailStr | None = Field(default=None, max_length=320)
    current_password: Password | None = None
    new_password: Password | None = None


# Mailed tokens are 43 characters; the bound only keeps odd input cheap.
MailedToken = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class PasswordResetIn(InputModel):
    email: EmailStr = Field(max_length=320)


class PasswordResetConfirmIn(InputModel):
    token: MailedToken
    new_password: Password


class VerifyEmailIn(InputModel):
    token: MailedToken


class LoginOut(OutputModel):
    """One open login of the account ("Your logins")."""

    id: uuid.UUID
    device: str = Field(description="Browser and system, from the User-Agent")
    created_at: datetime
    last_used_at: datetime = Field(description="Recorded at most every few minutes")
    current: bool = Field(description="The login making this request")


class UserOut(OutputModel):
    id: uuid.UUID
    email: str
    full_name: str
    locale: str
    is_platform_admin: bool
    email_verified: bool
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
