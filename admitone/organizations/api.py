"""Organizations and their members."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from admitone.authorization import OrgAccess, Permission
from admitone.db import utcnow
from admitone.deps import CurrentUser, SessionDep, org_access
from admitone.errors import error_responses
from admitone.organizations import service
from admitone.organizations.schemas import (
    MemberIn,
    MemberOut,
    MemberPatch,
    MyOrganizationOut,
    OrganizationIn,
    OrganizationOut,
    OrganizationPatch,
    VerificationIn,
)
from admitone.schemas import DataResponse, ListResponse

router = APIRouter(prefix="/organizations", tags=["organizations"])

ViewAccess = Annotated[OrgAccess, Depends(org_access(Permission.view_events))]
MembersAccess = Annotated[OrgAccess, Depends(org_access(Permission.manage_members))]
ORG_ERRORS = error_responses(401, 403, 404, 422)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an organization (you become its owner)",
    responses=error_responses(401, 403, 409, 422),
)
def create_organization(
    body: OrganizationIn, user: CurrentUser, session: SessionDep
) -> DataResponse[MyOrganizationOut]:
    organization = service.create_organization(session, user=user, name=body.name, slug=body.slug)
    return DataResponse(
        data=MyOrganizationOut(
            **OrganizationOut.model_validate(organization).model_dump(), role="owner"
        )
    )


@router.get("", summary="The organizations I belong to", responses=error_responses(401))
def list_my_organizations(
    user: CurrentUser, session: SessionDep
) -> ListResponse[MyOrganizationOut]:
    rows = service.list_user_organizations(session, user=user)
    data = [
        MyOrganizationOut(**OrganizationOut.model_validate(org).model_dump(), role=role)
        for org, role in rows
    ]
    return ListResponse(data=data, meta={"total": len(data)})


@router.get("/{org}", summary="One organization", responses=ORG_ERRORS)
def get_organization(access: ViewAccess) -> DataResponse[MyOrganizationOut]:
    return DataResponse(
        data=MyOrganizationOut(
            **OrganizationOut.model_validate(access.organization).model_dump(), role=access.role
        )
    )


@router.patch("/{org}", summary="Rename an organization", responses=ORG_ERRORS)
def update_organization(
    body: OrganizationPatch,
    session: SessionDep,
    access: Annotated[OrgAccess, Depends(org_access(Permission.manage_events))],
) -> DataResponse[MyOrganizationOut]:
    organization = service.update_organization(session, access=access, name=body.name)
    return DataResponse(
        data=MyOrganizationOut(
            **OrganizationOut.model_validate(organization).model_dump(), role=access.role
        )
    )


@router.get("/{org}/members", summary="Members and their roles", responses=ORG_ERRORS)
def list_members(access: MembersAccess, session: SessionDep) -> ListResponse[MemberOut]:
    members = service.list_members(session, access=access)
    return ListResponse(
        data=[MemberOut.model_validate(m) for m in members], meta={"total": len(members)}
    )


@router.post(
    "/{org}/members",
    status_code=status.HTTP_201_CREATED,
    summary="Add an existing account as a member",
    responses=error_responses(401, 403, 404, 409, 422),
)
def add_member(
    body: MemberIn, access: MembersAccess, session: SessionDep
) -> DataResponse[MemberOut]:
    membership = service.add_member(session, access=access, email=body.email, role=body.role)
    return DataResponse(data=MemberOut.model_validate(membership))


@router.patch(
    "/{org}/members/{member_id}",
    summary="Change a member's role",
    responses=error_responses(401, 403, 404, 409, 422),
)
def change_member_role(
    member_id: uuid.UUID, body: MemberPatch, access: MembersAccess, session: SessionDep
) -> DataResponse[MemberOut]:
    membership = service.change_member_role(
        session, access=access, membership_id=member_id, role=body.role
    )
    return DataResponse(data=MemberOut.model_validate(membership))


@router.delete(
    "/{org}/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member",
    responses=error_responses(401, 403, 404, 409),
)
def remove_member(member_id: uuid.UUID, access: MembersAccess, session: SessionDep) -> Response:
    service.remove_member(session, access=access, membership_id=member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- the platform's own acts -----------------------------------------------------------

platform_router = APIRouter(prefix="/platform", tags=["platform (admins)"])


@platform_router.put(
    "/organizations/{org}/verification",
    summary="Verify an organization (or take it back): platform admins only",
    description="A verified organization's events name themselves in mail subjects and "
    "may mail any number of buyers of free orders (docs/mail.md).",
    responses=error_responses(401, 403, 404, 422),
)
def set_organization_verification(
    body: VerificationIn,
    user: CurrentUser,
    session: SessionDep,
    org: Annotated[str, Path(max_length=80, description="Organization slug")],
) -> DataResponse[OrganizationOut]:
    organization = service.set_verified(
        session, actor=user, slug=org, verified=body.verified, now=utcnow()
    )
    return DataResponse(data=OrganizationOut.model_validate(organization))
