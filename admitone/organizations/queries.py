"""Scoped statements for organization-owned rows.

Every organizer route reaches an organization through ``OrgAccess`` (one query that
joins the caller's membership); every organization-owned row is then read through a
builder here or in its domain's ``queries.py`` that filters by that organization's id.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select

from admitone.organizations.models import Membership, Organization


def organizations_of_user(user_id: uuid.UUID) -> Select[Organization, Membership]:
    return (
        select(Organization, Membership)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user_id)
        .order_by(Organization.name)
    )


def members_of(organization_id: uuid.UUID) -> Select[Membership]:
    return select(Membership).where(Membership.organization_id == organization_id)
