"""From a verified provider identity to an account: link, find or create.

The order of the checks is the security of the feature:

1. a link (provider, subject) decides alone, whatever the e-mail says today;
2. otherwise the e-mail is used only when the provider says it is verified
   (``email_verified`` true): an account is never taken over, nor squatted, through an
   address its owner has not proven to the provider;
3. an existing account with that address gets the link; with none, a new account is
   created with an unusable password (its owner can set one through "forgot password").

Everything is checked before anything is written, so a refusal changes nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from admitone.accounts.logins import end_other_logins
from admitone.accounts.models import User
from admitone.accounts.oidc.errors import (
    IdentityAccountDisabled,
    IdentityEmailMissing,
    IdentityEmailNotVerified,
)
from admitone.accounts.oidc.models import IdentityLink
from admitone.accounts.service import get_user_by_email, normalize_email
from admitone.db import utcnow

# A stored hash no password verifies against (argon2 refuses it as malformed); the
# random tail keeps two such accounts from sharing a value. Django's "!" convention.
UNUSABLE_PASSWORD_PREFIX = "!"  # noqa: S105 (a marker, not a secret)


def unusable_password_hash() -> str:
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(24)


@dataclass(frozen=True)
class ProviderIdentity:
    """What a provider asserted about the person, after its ID token was verified."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    full_name: str = ""


@dataclass(frozen=True)
class IdentitySignIn:
    user: User
    # How the account was found: "link" (seen before), "email" (linked now through a
    # verified address) or "created" (a new account).
    found_by: str


def _verified_email(identity: ProviderIdentity) -> str:
    if not identity.email:
        raise IdentityEmailMissing()
    try:
        email = validate_email(normalize_email(identity.email), check_deliverability=False)
    except EmailNotValidError as exc:
        raise IdentityEmailMissing(reason=str(exc)) from exc
    if not identity.email_verified:
        raise IdentityEmailNotVerified(provider=identity.provider)
    return email.normalized.lower()


def sign_in_with_identity(session: Session, *, identity: ProviderIdentity) -> IdentitySignIn:
    """The account ``identity`` signs in to, linked or created as needed.

    Invariant: an account is reached only through its link or through an address the
    provider verified. Takes no lock: two first logins of one subject at once meet the
    unique (provider, subject) constraint, and the second gets a 409 CONFLICT.
    """
    link = session.scalar(
        select(IdentityLink).where(
            IdentityLink.provider == identity.provider,
            IdentityLink.subject == identity.subject,
        )
    )
    if link is not None:
        user = session.get(User, link.user_id)
        if user is None or not user.is_active:
            raise IdentityAccountDisabled()
        link.last_login_at = utcnow()
        session.flush()
        return IdentitySignIn(user=user, found_by="link")

    email = _verified_email(identity)
    user = get_user_by_email(session, email)
    found_by = "email"
    if user is None:
        user = User(
            email=email,
            password_hash=unusable_password_hash(),
            full_name=identity.full_name[:200],
            # The provider verified the address (_verified_email): so has the platform.
            email_verified_at=utcnow(),
        )
        session.add(user)
        session.flush()
        found_by = "created"
    elif not user.is_active:
        raise IdentityAccountDisabled()
    elif user.email_verified_at is None:
        # Whoever registered this account never proved the address; the provider's user
        # just did. The registrant's password and logins must not survive into the
        # owner's account (a pre-registered account taken over): both end here.
        user.email_verified_at = utcnow()
        user.password_hash = unusable_password_hash()
        end_other_logins(session, user_id=user.id, keep=None, reason="address_claimed")
    session.add(
        IdentityLink(
            provider=identity.provider,
            subject=identity.subject,
            user_id=user.id,
            email_at_link=email,
        )
    )
    session.flush()
    return IdentitySignIn(user=user, found_by=found_by)
