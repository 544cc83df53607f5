"""API shapes of two-factor sign-in and passkeys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StringConstraints, model_validator

from admitone.accounts.schemas import Password
from admitone.schemas import InputModel, OutputModel

# A TOTP code (6 digits, spaces allowed) or a recovery code (xxxx-xxxx-xxxx-xxxx).
Code = Annotated[str, StringConstraints(min_length=6, max_length=12)]
RecoveryCodeText = Annotated[str, StringConstraints(min_length=16, max_length=24)]
Base64Url = Annotated[str, StringConstraints(max_length=16_384, pattern=r"^[A-Za-z0-9_-]*={0,2}$")]
ShortBase64Url = Annotated[
    str, StringConstraints(min_length=1, max_length=1_400, pattern=r"^[A-Za-z0-9_-]+={0,2}$")
]
Transport = Annotated[str, StringConstraints(max_length=20)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=2_000)]


class TotpSetupOut(OutputModel):
    secret: str = Field(description="The shared secret (base32), for typing in by hand")
    otpauth_uri: str
    qr_data_uri: str = Field(description="The otpauth URI as a QR code (SVG data URI)")


class CodeIn(InputModel):
    code: Code = Field(examples=["123456"])


class VerificationIn(InputModel):
    """One proof beyond the login: an app code, a recovery code or the password."""

    code: Code | None = None
    recovery_code: RecoveryCodeText | None = None
    password: Password | None = None


class RecoveryCodesOut(OutputModel):
    recovery_codes: list[str] = Field(description="Each works once; shown this time only")


class PasskeyOut(OutputModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None


class TwoFactorStatusOut(OutputModel):
    enabled: bool
    totp_enabled: bool
    recovery_codes_left: int
    passkeys: list[PasskeyOut]


class PasskeyOptionsOut(OutputModel):
    challenge_id: uuid.UUID
    public_key: dict[str, Any] = Field(
        description="PublicKeyCredential{Creation,Request}Options as WebAuthn JSON"
    )


class RegistrationResponseIn(InputModel):
    clientDataJSON: Base64Url
    attestationObject: Base64Url
    transports: list[Transport] | None = Field(default=None, max_length=10)
    # Sent by some browsers (PublicKeyCredential.toJSON); not needed to verify.
    authenticatorData: Base64Url | None = None
    publicKey: Base64Url | None = None
    publicKeyAlgorithm: int | None = None


class AssertionResponseIn(InputModel):
    clientDataJSON: Base64Url
    authenticatorData: Base64Url
    signature: Base64Url
    userHandle: Base64Url | None = None


class _CredentialIn(InputModel):
    id: ShortBase64Url
    rawId: ShortBase64Url
    type: Literal["public-key"]
    authenticatorAttachment: Literal["platform", "cross-platform"] | None = None
    clientExtensionResults: dict[str, Any] = Field(default_factory=dict)


class RegistrationCredentialIn(_CredentialIn):
    response: RegistrationResponseIn


class AuthenticationCredentialIn(_CredentialIn):
    response: AssertionResponseIn


class PasskeyRegisterIn(InputModel):
    challenge_id: uuid.UUID
    name: Annotated[str, StringConstraints(max_length=100)] = ""
    credential: RegistrationCredentialIn


class PasskeyLoginIn(InputModel):
    challenge_id: uuid.UUID
    credential: AuthenticationCredentialIn


class SecondFactorIn(InputModel):
    """The second step of a login: the token from /auth/login and exactly one factor."""

    second_factor_token: Token
    code: Code | None = None
    recovery_code: RecoveryCodeText | None = None
    challenge_id: uuid.UUID | None = None
    credential: AuthenticationCredentialIn | None = None

    @model_validator(mode="after")
    def _one_factor(self) -> SecondFactorIn:
        given = [self.code is not None, self.recovery_code is not None]
        given.append(self.credential is not None or self.challenge_id is not None)
        if sum(given) != 1:
            raise ValueError("give exactly one of code, recovery_code or a passkey")
        if (self.credential is None) != (self.challenge_id is None):
            raise ValueError("a passkey needs both challenge_id and credential")
        return self


class SecondFactorNeededOut(OutputModel):
    second_factor_required: Literal[True] = True
    second_factor_token: str = Field(description="Send it to /auth/login/second-factor")
    expires_in: int = Field(description="Seconds the token stays valid")
    methods: list[Literal["totp", "recovery_code", "passkey"]]


class TwoFactorRequirementIn(InputModel):
    require_two_factor: StrictBool


class TwoFactorRequirementOut(OutputModel):
    slug: str
    require_two_factor: bool
