"""The account mails: a password-reset link and an address-verification link.

Built like the order mails (text and HTML from templates/<locale>/, the account's
language) and sent once per token: the ``deliveries`` marker is keyed by the token's id,
and the Message-ID names it too, so a re-run job rewrites the same outbox file.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any
from urllib.parse import urlencode

import structlog
from sqlalchemy.orm import Session

from admitone.accounts.account_tokens import token_text
from admitone.accounts.models import AccountToken, AccountTokenPurpose, User
from admitone.config import Settings
from admitone.db import Database, utcnow
from admitone.languages import supported_language
from admitone.notifications.mailer import get_mailer, header_text, new_message
from admitone.notifications.service import (
    _message_id,
    _templates,
    already_delivered,
    record_delivery,
)

log = structlog.get_logger(__name__)

# The page each link opens (admitone/web/pages/account_recovery.py).
LINK_PATHS = {
    AccountTokenPurpose.password_reset: "/password-reset/confirm",
    AccountTokenPurpose.email_verification: "/verify-email",
}


def link_for(settings: Settings, token: AccountToken) -> str:
    query = urlencode({"token": token_text(settings, token.id)})
    return f"{settings.public_url.rstrip('/')}{LINK_PATHS[token.purpose]}?{query}"


def account_message(
    *, settings: Settings, token: AccountToken, user: User, minutes_valid: int
) -> EmailMessage:
    """The mail carrying ``token``'s link, in the account's language, to the address the
    token was issued for."""
    kind = token.purpose.value
    locale = supported_language(user.locale)
    values = {
        "locale": locale,
        "name": user.full_name,
        "link": link_for(settings, token),
        "hours": max(1, minutes_valid // 60),
        "minutes": minutes_valid,
        "email": token.email,
        "public_url": settings.public_url.rstrip("/"),
    }
    environment = _templates()
    text_template = environment.get_template(f"{locale}/{kind}.txt")
    html_template = environment.get_template(f"{locale}/{kind}.html")
    message = new_message()
    # The template's {% set subject %}, exported by Jinja as an attribute of its module.
    module: Any = text_template.make_module(values)
    message["Subject"] = header_text(str(module.subject))
    message["From"] = settings.mail_from
    message["To"] = formataddr((header_text(user.full_name), token.email))
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = _message_id(settings, kind, token.id)
    # The module is the rendered template: its text is the body (rendered once, not twice).
    message.set_content(str(module))
    message.add_alternative(html_template.render(values), subtype="html")
    message["Content-Language"] = locale
    return message


def send_token_mail_once(
    database: Database,
    settings: Settings,
    *,
    token_id: uuid.UUID,
    minutes_valid: Callable[[Settings], int],
) -> bool:
    """Send the link of token ``token_id`` unless it went out already, or the token is
    no longer usable (spent, expired, or the account's address changed since)."""
    with database.session(write=False) as session:
        loaded = _load(session, token_id)
        if loaded is None:
            return False
        token, user = loaded
        kind = token.purpose.value
        if already_delivered(session, kind=kind, object_id=token.id):
            return False
        message = account_message(
            settings=settings, token=token, user=user, minutes_valid=minutes_valid(settings)
        )
    get_mailer(settings).send(message)
    recorded = record_delivery(
        database,
        kind=kind,
        object_id=token.id,
        recipient=token.email,
        message_id=str(message["Message-ID"]),
    )
    if not recorded:
        log.warning("mail sent twice (a concurrent run)", kind=kind, object_id=str(token.id))
    return True


def _load(session: Session, token_id: uuid.UUID) -> tuple[AccountToken, User] | None:
    token = session.get(AccountToken, token_id)
    if token is None or token.used_at is not None or token.expires_at <= utcnow():
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.is_active or user.email != token.email:
        return None
    return token, user
