"""Single-use tokens mailed to an account: password resets and address verifications.

A token is 256 bits derived from its row's random id (uuid4) with the secret key (HMAC-
SHA256), so the mail job, which takes ids only (docs/jobs.md), can rebuild it without
the token travelling through the job queue or sitting in the database: the row keeps
only the token's SHA-256. Without the secret key neither the id nor the hash gives the
token. A token is spent by a conditional UPDATE (``used_at IS NULL``), so two uses of
one link cannot both succeed; it expires; an address receives at most
``account_mails_per_hour`` tokens of one purpose per hour.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from admitone.accounts import tokens
from admitone.accounts.errors import AccountTokenInvalid
from admitone.accounts.models import AccountToken, AccountTokenPurpose, User
from admitone.config import Settings
from admitone.db import utcnow

MAIL_LIMIT_WINDOW = timedelta(hours=1)


def token_text(settings: Settings, token_id: uuid.UUID) -> str:
    """The token mailed for row ``token_id`` (43 URL-safe characters)."""
    mac = hmac.new(
        settings.secret_key.get_secret_value().encode(),
        b"admitone.account-token:" + token_id.bytes,
        hashlib.sha256,
    ).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def issue(
    session: Session,
    *,
    user: User,
    purpose: AccountTokenPurpose,
    lifetime: timedelta,
    settings: Settings,
) -> AccountToken | None:
    """A new token for ``user``'s current address; None when that address had its
    ``account_mails_per_hour`` tokens of this purpose in the last hour.

    Takes the user's row lock (PostgreSQL; SQLite's write transaction serialises anyway)
    so that concurrent requests cannot both pass the count.
    """
    now = utcnow()
    session.execute(select(User.id).where(User.id == user.id).with_for_update())
    recent = session.scalar(
        select(func.count())
        .select_from(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == purpose,
            AccountToken.created_at > now - MAIL_LIMIT_WINDOW,
        )
    )
    if (recent or 0) >= settings.account_mails_per_hour:
        return None
    token_id = uuid.uuid4()
    token = AccountToken(
        id=token_id,
        user_id=user.id,
        purpose=purpose,
        email=user.email,
        token_hash=tokens.hash_token(token_text(settings, token_id)),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(token)
    session.flush()
    return token


def find_usable(
    session: Session, *, token: str, purpose: AccountTokenPurpose, error: type[AccountTokenInvalid]
) -> AccountToken:
    """The unused, unexpired token of ``purpose`` behind ``token``; ``error`` otherwise."""
    row = session.scalar(
        select(AccountToken).where(
            AccountToken.token_hash == tokens.hash_token(token), AccountToken.purpose == purpose
        )
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise error()
    return row


def spend(session: Session, row: AccountToken, *, error: type[AccountTokenInvalid]) -> None:
    """Mark the token used, once: a concurrent use of the same link gets ``error``."""
    spent = cast(
        CursorResult[Any],
        session.execute(
            update(AccountToken)
            .where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    if spent.rowcount != 1:
        raise error()


def cancel_open(session: Session, *, user_id: uuid.UUID, purpose: AccountTokenPurpose) -> None:
    """Spend every open token of ``purpose``: older links stop working."""
    session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
