"""What each organization role may do. The one table that route guards read."""

from __future__ import annotations

from enum import StrEnum

from admitone.organizations.models import Role


class Permission(StrEnum):
    view_events = "view_events"
    manage_events = "manage_events"
    view_orders = "view_orders"
    refund_orders = "refund_orders"
    manage_members = "manage_members"
    check_in = "check_in"
    sell_at_stand = "sell_at_stand"
    # Where the money goes (the Stripe connected account): the owner alone.
    manage_payouts = "manage_payouts"
    # Security settings (requiring two-factor of the members): the owner alone.
    manage_security = "manage_security"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.owner: frozenset(Permission),
    Role.admin: frozenset(Permission) - {Permission.manage_payouts, Permission.manage_security},
    Role.staff: frozenset({Permission.view_events, Permission.check_in}),
    Role.cashier: frozenset({Permission.view_events, Permission.sell_at_stand}),
}


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
