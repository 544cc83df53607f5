"""Password reset by e-mail: ask for a link, then set a new password with it.

The request answers the same whether the address has an account or not; the mail goes
out through the job ``accounts.send_password_reset`` after commit. A reset ends every
login of the account (API tokens and web sessions alike) and every other reset link.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.orm import Session

from admitone.accounts import account_tokens, logins, passwords
from admitone.accounts.errors import ResetTokenInvalid
from admitone.accounts.models import AccountTokenPurpose, User
from admitone.accounts.service import check_password_policy, get_user_by_email
from admitone.config import Settings
from admitone.db import utcnow
from admitone.jobs import enqueue_after_commit

log = structlog.get_logger(__name__)

PURPOSE = AccountTokenPurpose.password_reset


def request_password_reset(session: Session, *, email: str, settings: Settings) -> None:
    """Mail a reset link to ``email`` if it is an active account's address.

    Says nothing either way (no account enumeration); an address that had
    ``account_mails_per_hour`` links in the last hour gets no more (no mail-bombing).
    """
    user = get_user_by_email(session, email)
    if user is None or not user.is_active:
        return
    token = account_tokens.issue(
        session,
        user=user,
        purpose=PURPOSE,
        lifetime=timedelta(minutes=settings.password_reset_minutes),
        settings=settings,
    )
    if token is None:
        log.info("accounts.reset_mail_limited", user_id=str(user.id))
        return
    enqueue_after_commit(session, "accounts.send_password_reset", token_id=str(token.id))


def reset_password(session: Session, *, token: str, new_password: str) -> User:
    """Set a new password with a mailed link; the link works once, until it expires.

    Ends every login of the account and the other reset links. A link sent to an
    address the account no longer has does not work. The link proves the address, so
    an unverified one becomes verified.
    """
    row = account_tokens.find_usable(session, token=token, purpose=PURPOSE, error=ResetTokenInvalid)
    user = session.get(User, row.user_id)
    if user is None or not user.is_active or user.email != row.email:
        raise ResetTokenInvalid()
    check_password_policy(new_password, email=user.email, full_name=user.full_name)
    account_tokens.spend(session, row, error=ResetTokenInvalid)
    user.password_hash = passwords.hash_password(new_password)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    account_tokens.cancel_open(session, user_id=user.id, purpose=PURPOSE)
    logins.end_other_logins(session, user_id=user.id, keep=None, reason="password_reset")
    session.flush()
    return user
