"""Why a sign-in with an identity provider failed; the page shows each code's text."""

from __future__ import annotations

from admitone.errors import DomainError


class IdentityLoginFailed(DomainError):
    """The family: the login page's callback renders any of them as a page."""

    code = "IDENTITY_LOGIN_FAILED"
    status = 400
    message = "Signing in with the identity provider failed."


class IdentityProviderUnknown(IdentityLoginFailed):
    code = "IDENTITY_PROVIDER_UNKNOWN"
    status = 404
    message = "No identity provider of this name is configured."


class IdentityProviderUnavailable(IdentityLoginFailed):
    """The provider could not be reached or answered with a server error."""

    code = "IDENTITY_PROVIDER_UNAVAILABLE"
    status = 503
    message = "The identity provider cannot be reached; try again later."


class IdentityProviderInvalidResponse(IdentityLoginFailed):
    """The provider answered, but not something we can trust (bad signature, issuer,
    audience, nonce, expired token, refused code exchange, malformed document)."""

    code = "IDENTITY_PROVIDER_INVALID_RESPONSE"
    status = 502
    message = "The identity provider's answer could not be verified."


class IdentityLoginStateInvalid(IdentityLoginFailed):
    """The callback does not belong to a login started in this browser (forged,
    replayed or expired state): the login-CSRF defence."""

    code = "IDENTITY_LOGIN_STATE_INVALID"
    status = 400
    message = "This sign-in link is invalid or has expired; start again."


class IdentityLoginCancelled(IdentityLoginFailed):
    code = "IDENTITY_LOGIN_CANCELLED"
    status = 400
    message = "The sign-in was cancelled or refused at the identity provider."


class IdentityEmailMissing(IdentityLoginFailed):
    code = "IDENTITY_EMAIL_MISSING"
    status = 422
    message = "The identity provider did not give a usable e-mail address."


class IdentityEmailNotVerified(IdentityLoginFailed):
    """Never link or create an account on an address the provider has not verified:
    anyone can type someone else's address into an account at some provider."""

    code = "IDENTITY_EMAIL_NOT_VERIFIED"
    status = 403
    message = "The identity provider has not verified this e-mail address."


class IdentityAccountDisabled(IdentityLoginFailed):
    code = "IDENTITY_ACCOUNT_DISABLED"
    status = 403
    message = "This account is disabled."
