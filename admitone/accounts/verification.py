"""E-mail verification: a new or changed address gets a link; opening it verifies it.

Until verified, an account can buy tickets but not create an organization
(``require_verified_email``, called by organizations.service). Accounts made by
``admitone create-user`` and the demo data are verified from the start
(``mark_email_verified``); so were the accounts that predate this rule (migration 0004).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from admitone.accounts import account_tokens, passwords
from admitone.accounts.errors import (
    EmailAlreadyVerified,
    EmailNotVerified,
    EmailTaken,
    InvalidCredentials,
    VerificationTokenInvalid,
)
from admitone.accounts.models import AccountTokenPurpose, User
from admitone.accounts.service import get_user_by_email, normalize_email
from admitone.config import Settings
from admitone.db import utcnow
from admitone.errors import InvalidInput, RateLimited
from admitone.jobs import enqueue_after_commit

PURPOSE = AccountTokenPurpose.email_verification


def require_verified_email(user: User) -> None:
    """EmailNotVerified (403) unless the user's current address is verified."""
    if user.email_verified_at is None:
        raise EmailNotVerified()


def mark_email_verified(user: User) -> None:
    """For accounts whose address an operator vouches for (CLI, demo data)."""
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()


def send_verification(session: Session, *, user: User, settings: Settings) -> bool:
    """Mail a verification link to the user's address (after commit).

    False when the address had ``account_mails_per_hour`` links in the last hour, or is
    verified already: nothing is sent.
    """
    if user.email_verified_at is not None:
        return False
    token = account_tokens.issue(
        session,
        user=user,
        purpose=PURPOSE,
        lifetime=timedelta(hours=settings.email_verification_hours),
        settings=settings,
    )
    if token is None:
        return False
    enqueue_after_commit(session, "accounts.send_email_verification", token_id=str(token.id))
    return True


def resend_verification(session: Session, *, user: User, settings: Settings) -> None:
    """The "send the link again" button: like ``send_verification``, but says why not."""
    if user.email_verified_at is not None:
        raise EmailAlreadyVerified()
    if not send_verification(session, user=user, settings=settings):
        raise RateLimited(
            "A link was sent several times in the last hour; check your mailbox or try later.",
            retry_after=3600,
        )


def verify_email(session: Session, *, token: str) -> User:
    """Verify the address a link was sent to; once, before it expires, and only while
    it is still the account's address."""
    row = account_tokens.find_usable(
        session, token=token, purpose=PURPOSE, error=VerificationTokenInvalid
    )
    user = session.get(User, row.user_id)
    if user is None or user.email != row.email:
        raise VerificationTokenInvalid()
    account_tokens.spend(session, row, error=VerificationTokenInvalid)
    user.email_verified_at = utcnow()
    session.flush()
    return user


def change_email(
    session: Session,
    *,
    user: User,
    new_email: str,
    current_password: str | None,
    settings: Settings,
) -> User:
    """Change the address (the current password required); the new one is verified again.

    Links mailed to the old address (resets, verifications) stop working.
    """
    from email_validator import EmailNotValidError, validate_email

    if current_password is None or not passwords.verify_password(
        user.password_hash, current_password
    ):
        raise InvalidCredentials("The current password is incorrect.")
    new_email = normalize_email(new_email)
    if new_email == user.email:
        return user
    try:
        validate_email(new_email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput("The e-mail address is not valid.", email=str(exc)) from exc
    if get_user_by_email(session, new_email) is not None:
        raise EmailTaken()
    for purpose in AccountTokenPurpose:
        account_tokens.cancel_open(session, user_id=user.id, purpose=purpose)
    user.email = new_email
    user.email_verified_at = None
    session.flush()
    send_verification(session, user=user, settings=settings)
    return user
