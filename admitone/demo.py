"""Demo data (filled in with events by the events work)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admitone.accounts.models import User


def load_demo(session: Session) -> dict[str, tuple[str, str]] | None:
    if session.scalar(select(func.count()).select_from(User)):
        return None
    return {}
