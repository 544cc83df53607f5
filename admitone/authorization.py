"""Who may act: the one module that decides it (docs/authorization.md).

Two kinds of caller act on an organization's rows:

* **Members** of the organization, through the role they hold there. ``ROLE_PERMISSIONS``
  is the only table of what a role may do; a platform admin acts as an owner of every
  organization (``acting_role``). ``resolve_access`` (from an organization's slug) and
  ``checked_access`` (for resolvers that reach the organization through one of its rows,
  such as check-in from an event id) apply the same rules in the same order: not a
  member is the caller's not-found error (ids do not leak), then the second-factor
  rules, then the permission (403).
* **Buyers**, through their account or the order token: the secret that opens one order
  without an account (guest checkout). ``BuyerProof`` carries both; the token has one
  length limit, one way to be made and one hash, all here.

No web framework here: services, the API's and the pages' dependencies all read this.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from admitone.accounts.models import User
from admitone.errors import DomainError, PermissionDenied
from admitone.organizations.errors import OrganizationNotFound, PlatformAdminRequired
from admitone.organizations.models import Membership, Organization, Role
from admitone.twofactor.errors import TwoFactorRequired, TwoFactorSetupRequired

# --- members: roles and what they may do -------------------------------------------------


class Permission(StrEnum):
    view_events = "view_events"
    manage_events = "manage_events"
    view_orders = "view_orders"
    refund_orders = "refund_orders"
    manage_members = "manage_members"
    check_in = "check_in"
    # Undo a mistaken admission at the gate: supervisors (admins, owners), not gate staff.
    undo_check_in = "undo_check_in"
    sell_at_stand = "sell_at_stand"
    # A lost phone or wristband: revoke a wallet's pass and issue a new one (the money
    # stays). Organizers, and cashiers at their stands' desks.
    replace_wallet_passes = "replace_wallet_passes"
    # Where the money goes (the Stripe connected account): the owner alone.
    manage_payouts = "manage_payouts"
    # Security settings (requiring two-factor of the members): the owner alone.
    manage_security = "manage_security"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.owner: frozenset(Permission),
    Role.admin: frozenset(Permission) - {Permission.manage_payouts, Permission.manage_security},
    Role.staff: frozenset({Permission.view_events, Permission.check_in}),
    Role.cashier: frozenset(
        {Permission.view_events, Permission.sell_at_stand, Permission.replace_wallet_passes}
    ),
}


def lands_on_scanner(user: User, member_roles: Iterable[Role]) -> bool:
    """Whether a login should open on the gate scanner rather than the usual landing:
    a member whose every role is gate staff (a platform admin never is)."""
    roles = set(member_roles)
    return not user.is_platform_admin and roles == {Role.staff}


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def roles_allowed(permission: Permission) -> tuple[Role, ...]:
    """The roles that hold ``permission``: for a query that checks membership in SQL."""
    return tuple(role for role in Role if role_allows(role, permission))


def acting_role(user: User, member_role: Role | None) -> Role | None:
    """The role ``user`` acts with in an organization where they hold ``member_role``
    (None: not a member). Platform admins act as owners of every organization."""
    return Role.owner if user.is_platform_admin else member_role


def acts_everywhere_with(user: User | None, permission: Permission) -> bool:
    """Whether ``user`` holds ``permission`` in every organization, member or not (a
    platform admin, as an owner): a scoped query then needs no membership condition."""
    role = acting_role(user, None) if user is not None else None
    return role is not None and role_allows(role, permission)


@dataclass(frozen=True)
class OrgAccess:
    """The caller acting for an organization, with the role they act with there."""

    organization: Organization
    role: Role
    user: User

    def allows(self, permission: Permission) -> bool:
        return role_allows(self.role, permission)


def resolve_access(session: Session, *, slug: str, user: User, permission: Permission) -> OrgAccess:
    """The caller's access to the organization ``slug``, checked for ``permission``
    (``checked_access``); one query joins the organization with the caller's membership."""
    row = session.execute(
        select(Organization, Membership.role)
        .outerjoin(
            Membership,
            (Membership.organization_id == Organization.id) & (Membership.user_id == user.id),
        )
        .where(Organization.slug == slug)
    ).first()
    if row is None:
        raise OrganizationNotFound()
    organization, member_role = row
    return checked_access(
        organization,
        member_role,
        user=user,
        permission=permission,
        not_found=OrganizationNotFound,
    )


def checked_access(
    organization: Organization,
    member_role: Role | None,
    *,
    user: User,
    permission: Permission,
    not_found: type[DomainError],
) -> OrgAccess:
    """The rules of acting for ``organization``, once the caller's membership is read.

    In this order: not a member (and not a platform admin) raises ``not_found``, the
    404 of whatever the caller asked for, so that its existence does not leak; then the
    second-factor rules (``check_two_factor``); then a role without ``permission`` is a
    403 ``PERMISSION_DENIED``. Reads only the rows given: no query.
    """
    role = acting_role(user, member_role)
    if role is None:
        raise not_found()
    check_two_factor(organization=organization, user=user)
    if not role_allows(role, permission):
        raise PermissionDenied(f"Your role ({role}) does not allow this.", required=str(permission))
    return OrgAccess(organization=organization, role=role, user=user)


def checked_stand_access(
    organization: Organization,
    member_role: Role | None,
    *,
    user: User,
    assigned: bool,
    not_found: type[DomainError],
) -> OrgAccess:
    """The rules of selling at one of ``organization``'s stands (the point of sale).

    Those of ``checked_access`` for ``sell_at_stand`` (not a member: ``not_found``), then
    a member who does not manage the events (a cashier) sells only at the stands they
    are assigned to (``assigned``: a ``stand_cashiers`` row; 403 otherwise). Admins and
    owners, who assign the cashiers, may stand in at any stand. Reads no row.
    """
    access = checked_access(
        organization,
        member_role,
        user=user,
        permission=Permission.sell_at_stand,
        not_found=not_found,
    )
    if not may_sell_at_stand(access.role, assigned=assigned):
        raise PermissionDenied("You are not assigned to this stand.", required="stand_assignment")
    return access


# --- platform admins ---------------------------------------------------------------------


def require_platform_admin(user: User) -> None:
    """The platform's own acts (verifying an organizer) are for platform admins alone."""
    if not user.is_platform_admin:
        raise PlatformAdminRequired()


def check_platform_admin_second_factor(user: User) -> None:
    """A platform admin without a second factor may do nothing but set one up (403
    ``TWO_FACTOR_SETUP_REQUIRED``): the caller dependencies of the API and the pages,
    except on the routes that set one up, and every organization's access."""
    if user.is_platform_admin and not user.two_factor_enabled:
        raise TwoFactorSetupRequired()


def check_two_factor(*, organization: Organization, user: User) -> None:
    """The second-factor rules of acting for an organization, once membership is known.

    Both read columns of rows the resolvers load anyway (no query): a platform admin
    without a second factor acts for no one (``TWO_FACTOR_SETUP_REQUIRED``), and an
    organization may require one of its members (``TWO_FACTOR_REQUIRED``).
    """
    if user.two_factor_enabled:
        return
    check_platform_admin_second_factor(user)
    if organization.require_two_factor:
        raise TwoFactorRequired(organization=organization.slug)


# --- buyers: their account or the order token --------------------------------------------

# The longest order token accepted anywhere (API header and query, pages, cookie). Tokens
# made here are 43 characters; the bound refuses junk before it is hashed.
ORDER_TOKEN_MAX_LENGTH = 128


def order_access_token(secret_key: str, order_id: uuid.UUID) -> str:
    """The secret that opens an order without an account (the guest's private link).

    Derived from the order's id under the server's secret key, not drawn at random, so
    that the server can give it again although only its hash is stored: to a retried
    request with the same Idempotency-Key, and in the mails' link to the order page.
    Unforgeable without the secret key; rotating the key changes every order's token
    (the old links stop opening the orders, as the old logins stop working).
    """
    digest = hmac.new(
        secret_key.encode(), f"order-access-token:{order_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_order_token(order_token: str) -> str:
    """What an order stores of its token (``orders.access_token_hash``): never the token."""
    return hashlib.sha256(order_token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class BuyerProof:
    """Who claims to be an order's buyer: a logged-in account and/or an order token."""

    user_id: uuid.UUID | None
    order_token: str | None

    @property
    def order_token_hash(self) -> str | None:
        return hash_order_token(self.order_token) if self.order_token else None


def proves_buyer(
    proof: BuyerProof, *, buyer_user_id: uuid.UUID | None, order_token_hash: str
) -> bool:
    """Whether ``proof`` opens an order placed by ``buyer_user_id`` whose token hashes to
    ``order_token_hash``: the rule the buyers' scoped queries apply in SQL
    (``orders.queries.buyer_order``), for an order already loaded."""
    if proof.user_id is not None and proof.user_id == buyer_user_id:
        return True
    return proof.order_token is not None and hmac.compare_digest(
        order_token_hash, hash_order_token(proof.order_token)
    )


def device_may_act(
    user: User | None, member_role: Role | None, permission: Permission = Permission.check_in
) -> bool:
    """Whether a device (a gate's, a point of sale's) may still act for the member who
    paired it: that member is an active user who holds ``permission`` in the event's
    organization (a platform admin acts as an owner). Checked on every call with the
    device's token, so removing the member, lowering their role or deactivating them
    stops their devices at once."""
    if user is None or not user.is_active:
        return False
    role = acting_role(user, member_role)
    return role is not None and role_allows(role, permission)


def may_sell_at_stand(role: Role, *, assigned: bool) -> bool:
    """Whether a member acting with ``role`` may sell at a stand: a cashier at the stands
    they are assigned to, an admin or owner at every stand."""
    if not role_allows(role, Permission.sell_at_stand):
        return False
    return assigned or role_allows(role, Permission.manage_events)
