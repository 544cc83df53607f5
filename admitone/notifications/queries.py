"""Orders a caller may read documents of: its buyer, the token holder, the organizer."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, exists, false, or_, select

from admitone.accounts.models import User
from admitone.orders.models import Order
from admitone.organizations.models import Membership
from admitone.tickets.queries import ORDER_VIEWER_ROLES


def readable_orders(*, user: User | None, order_token_hash: str | None) -> Select[tuple[Order]]:
    """Same rule as ``tickets.queries.readable_tickets``, for whole orders."""
    if user is not None and user.is_platform_admin:
        return select(Order)
    allowed: list[ColumnElement[bool]] = []
    if user is not None:
        allowed.append(Order.user_id == user.id)
        allowed.append(
            exists().where(
                Membership.organization_id == Order.organization_id,
                Membership.user_id == user.id,
                Membership.role.in_(ORDER_VIEWER_ROLES),
            )
        )
    if order_token_hash is not None:
        allowed.append(Order.access_token_hash == order_token_hash)
    return select(Order).where(or_(*allowed) if allowed else false())
