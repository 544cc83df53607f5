"""Two-factor errors: stable codes the API returns and the pages translate."""

from admitone.errors import BadRequest, Conflict, DomainError, InvalidToken, PermissionDenied


class SecondFactorInvalid(DomainError):
    """A wrong, reused or spent code, or a passkey that did not verify."""

    code = "SECOND_FACTOR_INVALID"
    status = 401
    message = "The code is incorrect or was already used."


class SecondFactorTokenInvalid(InvalidToken):
    code = "SECOND_FACTOR_TOKEN_INVALID"
    message = "The sign-in step has expired; log in again with your password."


class TotpAlreadyEnabled(Conflict):
    code = "TOTP_ALREADY_ENABLED"
    message = "An authenticator app is already set up; turn it off first."


class TotpNotStarted(Conflict):
    code = "TOTP_NOT_STARTED"
    message = "Start the authenticator app setup first."


class TotpNotEnabled(Conflict):
    code = "TOTP_NOT_ENABLED"
    message = "No authenticator app is set up."


class VerificationRequired(BadRequest):
    """Turning a factor off needs proof beyond the login: a current code or the password."""

    code = "VERIFICATION_REQUIRED"
    message = "Give a code from your authenticator app, a recovery code or your password."


class PasskeyInvalid(BadRequest):
    code = "PASSKEY_INVALID"
    message = "The passkey could not be verified."
    # The challenge's deletion stays: a challenge answers one response, right or wrong.
    keep_changes = True


class PasskeyChallengeInvalid(BadRequest):
    code = "PASSKEY_CHALLENGE_INVALID"
    message = "This passkey request has expired or was already used; try again."


class PasskeyAlreadyRegistered(Conflict):
    code = "PASSKEY_ALREADY_REGISTERED"
    message = "This passkey is already registered."


class TwoFactorSetupRequired(PermissionDenied):
    """A platform admin without a second factor: nothing else until it is set up."""

    code = "TWO_FACTOR_SETUP_REQUIRED"
    message = "Platform administrators must set up two-factor authentication first."


class TwoFactorRequired(PermissionDenied):
    """The organization requires a second factor of its members; this member has none."""

    code = "TWO_FACTOR_REQUIRED"
    message = "This organization requires two-factor authentication; set it up first."
