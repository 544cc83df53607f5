"""Organizations, members and roles (who may act for whom: admitone.authorization)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from admitone import slugs
from admitone.accounts.models import User
from admitone.accounts.service import get_user_by_email
from admitone.accounts.verification import require_verified_email
from admitone.authorization import OrgAccess, require_platform_admin
from admitone.errors import NotFound
from admitone.organizations import queries
from admitone.organizations.errors import (
    AlreadyMember,
    LastOwner,
    OrganizationNotFound,
    OwnerRequired,
    SlugTaken,
    UserNotFound,
)
from admitone.organizations.models import Membership, Organization, Role
from admitone.twofactor.errors import TwoFactorRequired


def set_verified(
    session: Session, *, actor: User | None, slug: str, verified: bool, now: datetime
) -> Organization:
    """Mark an organization as verified by the platform (or take it back).

    ``actor`` None is the operator at the command line; otherwise a platform admin. A
    verified organization's mail may name its events in subjects and mail strangers
    without the daily bound (notifications.service.mail_permission).
    """
    if actor is not None:
        require_platform_admin(actor)
    organization = session.scalar(select(Organization).where(Organization.slug == slug))
    if organization is None:
        raise OrganizationNotFound()
    if verified and organization.verified_at is None:
        organization.verified_at = now
    elif not verified:
        organization.verified_at = None
    session.flush()
    return organization


def set_two_factor_requirement(
    session: Session, *, access: OrgAccess, required: bool
) -> Organization:
    """Require (or stop requiring) a second factor of every member; owners only (the
    route asks for ``manage_security``). An owner cannot require what they lack: they
    would lock themselves out."""
    if required and not access.user.two_factor_enabled:
        raise TwoFactorRequired(
            "Set up two-factor authentication for your own account first.",
            organization=access.organization.slug,
        )
    access.organization.require_two_factor = required
    session.flush()
    return access.organization


def proposed_slug(session: Session, name: str) -> str:
    """A free short address made from ``name``, as an event's is made from its title."""
    base = slugs.slugify(name, fallback="organizer")
    taken = set(
        session.scalars(
            select(Organization.slug).where(
                (Organization.slug == base) | Organization.slug.like(f"{base}-%")
            )
        )
    )
    return slugs.first_free(base, taken)


def create_organization(session: Session, *, user: User, name: str, slug: str) -> Organization:
    """Create an organization; its creator becomes its owner.

    The creator's address must be verified (EmailNotVerified otherwise): an organizer
    mails buyers and gets paid, so the platform must be able to reach them.
    """
    require_verified_email(user)
    if session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        raise SlugTaken(slug=slug)
    organization = Organization(name=name, slug=slug)
    session.add(organization)
    session.flush()
    session.add(Membership(organization_id=organization.id, user_id=user.id, role=Role.owner))
    session.flush()
    return organization


def list_user_organizations(session: Session, *, user: User) -> list[tuple[Organization, Role]]:
    return [
        (org, membership.role)
        for org, membership in session.execute(queries.organizations_of_user(user.id))
    ]


def update_organization(session: Session, *, access: OrgAccess, name: str | None) -> Organization:
    if name is not None:
        access.organization.name = name
    session.flush()
    return access.organization


def list_members(session: Session, *, access: OrgAccess) -> list[Membership]:
    statement = (
        queries.members_of(access.organization.id)
        .options(joinedload(Membership.user))
        .order_by(Membership.created_at)
    )
    return list(session.scalars(statement))


def _get_member(session: Session, access: OrgAccess, membership_id: uuid.UUID) -> Membership:
    membership = session.scalar(
        queries.members_of(access.organization.id)
        .where(Membership.id == membership_id)
        .options(joinedload(Membership.user))
    )
    if membership is None:
        raise NotFound("No such member.")
    return membership


def _require_owner_for(access: OrgAccess, *roles: Role) -> None:
    if Role.owner in roles and access.role != Role.owner:
        raise OwnerRequired()


def _owner_count(session: Session, organization_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.organization_id == organization_id, Membership.role == Role.owner)
        )
        or 0
    )


def add_member(session: Session, *, access: OrgAccess, email: str, role: Role) -> Membership:
    """Add an existing account to the organization with ``role``."""
    _require_owner_for(access, role)
    user = get_user_by_email(session, email)
    if user is None:
        raise UserNotFound()
    existing = session.scalar(
        queries.members_of(access.organization.id).where(Membership.user_id == user.id)
    )
    if existing is not None:
        raise AlreadyMember()
    membership = Membership(organization_id=access.organization.id, user_id=user.id, role=role)
    session.add(membership)
    session.flush()
    return _get_member(session, access, membership.id)


def change_member_role(
    session: Session, *, access: OrgAccess, membership_id: uuid.UUID, role: Role
) -> Membership:
    """Change a member's role; owners alone touch the owner role; one owner always remains."""
    membership = _get_member(session, access, membership_id)
    _require_owner_for(access, role, membership.role)
    if (
        membership.role == Role.owner
        and role != Role.owner
        and _owner_count(session, access.organization.id) <= 1
    ):
        raise LastOwner()
    membership.role = role
    session.flush()
    return membership


def remove_member(session: Session, *, access: OrgAccess, membership_id: uuid.UUID) -> None:
    membership = _get_member(session, access, membership_id)
    _require_owner_for(access, membership.role)
    if membership.role == Role.owner and _owner_count(session, access.organization.id) <= 1:
        raise LastOwner()
    session.delete(membership)
    session.flush()
