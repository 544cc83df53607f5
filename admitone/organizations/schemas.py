from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import EmailStr, Field

from admitone.accounts.schemas import UserOut
from admitone.organizations.models import Role
from admitone.schemas import InputModel, OutputModel, ShortText, Slug


class OrganizationIn(InputModel):
    name: ShortText = Field(examples=["Nightfall Productions"])
    slug: Slug = Field(examples=["nightfall"])


class OrganizationPatch(InputModel):
    name: ShortText | None = None


class OrganizationOut(OutputModel):
    id: uuid.UUID
    name: str
    slug: str
    verified: bool = Field(
        description="Verified by the platform: its events may mail anyone (docs/mail.md)"
    )
    created_at: datetime


class VerificationIn(InputModel):
    verified: bool = Field(strict=True)


class MyOrganizationOut(OrganizationOut):
    role: Role


class MemberIn(InputModel):
    email: EmailStr = Field(max_length=320)
    role: Role


class MemberPatch(InputModel):
    role: Role


class MemberOut(OutputModel):
    id: uuid.UUID
    role: Role
    user: UserOut
    created_at: datetime
