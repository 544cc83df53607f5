"""Jobs of the accounts domain: the mails carrying a reset or a verification link."""

from __future__ import annotations

import uuid

from admitone.config import Settings
from admitone.jobs.registry import JobContext, job
from admitone.notifications.account_mail import send_token_mail_once


def _reset_minutes(settings: Settings) -> int:
    return settings.password_reset_minutes


def _verification_minutes(settings: Settings) -> int:
    return settings.email_verification_hours * 60


@job("accounts.send_password_reset")
def send_password_reset(context: JobContext, *, token_id: str) -> bool:
    """The password-reset link, once per token, while the token is usable."""
    return send_token_mail_once(
        context.database,
        context.settings,
        token_id=uuid.UUID(token_id),
        minutes_valid=_reset_minutes,
    )


@job("accounts.send_email_verification")
def send_email_verification(context: JobContext, *, token_id: str) -> bool:
    """The address-verification link, once per token, while the token is usable."""
    return send_token_mail_once(
        context.database,
        context.settings,
        token_id=uuid.UUID(token_id),
        minutes_valid=_verification_minutes,
    )
