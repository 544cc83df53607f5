from admitone.errors import (
    BadRequest,
    Conflict,
    DomainError,
    InvalidInput,
    InvalidToken,
    NotFound,
    PermissionDenied,
)


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"
    message = "An account with this e-mail already exists."


class WeakPassword(InvalidInput):
    code = "WEAK_PASSWORD"
    message = "The password does not meet the password policy."


class InvalidCredentials(DomainError):
    # One answer whether the e-mail exists or not.
    code = "INVALID_CREDENTIALS"
    status = 401
    message = "E-mail or password is incorrect."


class RefreshTokenReused(InvalidToken):
    """A used refresh token came back: it was stolen or replayed; the family is revoked."""

    code = "REFRESH_TOKEN_REUSED"
    message = "This refresh token was already used; the session has been revoked."
    keep_changes = True


class AccountTokenInvalid(BadRequest):
    """A mailed link that is unknown, already used, expired or for an older address."""

    code = "ACCOUNT_TOKEN_INVALID"
    message = "This link is invalid, already used or expired; ask for a new one."


class ResetTokenInvalid(AccountTokenInvalid):
    code = "RESET_TOKEN_INVALID"
    message = "This password-reset link is invalid, already used or expired; ask for a new one."


class VerificationTokenInvalid(AccountTokenInvalid):
    code = "VERIFICATION_TOKEN_INVALID"
    message = "This verification link is invalid, already used or expired; ask for a new one."


class EmailNotVerified(PermissionDenied):
    code = "EMAIL_NOT_VERIFIED"
    message = "Confirm your e-mail address first: open the link we sent you, or ask for a new one."


class EmailAlreadyVerified(Conflict):
    code = "EMAIL_ALREADY_VERIFIED"
    message = "This e-mail address is already verified."


class LoginNotFound(NotFound):
    code = "LOGIN_NOT_FOUND"
    message = "No such login (or not yours, or already ended)."
