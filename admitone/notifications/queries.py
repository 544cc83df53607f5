"""Orders a caller may read documents of: its buyer, the token holder, the organizer."""

from __future__ import annotations

from sqlalchemy import Select, select

from admitone.accounts.models import User
from admitone.orders.models import Order
from admitone.tickets.queries import order_readable_by


def readable_orders(*, user: User | None, order_token_hash: str | None) -> Select[Order]:
    """The same rule as the tickets' (``tickets.queries.order_readable_by``)."""
    condition = order_readable_by(user=user, order_token_hash=order_token_hash)
    return select(Order) if condition is None else select(Order).where(condition)
