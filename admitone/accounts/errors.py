from admitone.errors import Conflict, DomainError, InvalidInput, InvalidToken


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
