"""Organizer pages: organizations, events and ticket types, publish and cancel, the team.

Every handler resolves the caller's access through ``authorization.resolve_access`` (404
for another organization, 403 for a role without the permission) and changes data only
through ``events.service`` and ``organizations.service``, like the JSON API.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from admitone.accounts.errors import EmailNotVerified
from admitone.authorization import OrgAccess, Permission
from admitone.checkin import lists as checkin_lists
from admitone.deps import KeyRingDep, SessionDep, SettingsDep
from admitone.errors import DomainError, InvalidInput
from admitone.events import service as events
from admitone.events.errors import EventSlugTaken
from admitone.events.models import OFFLINE_TICKET_LIMIT, Event, EventStatus, TicketType
from admitone.events.schemas import EventIn, EventPatch, TicketTypeIn, TicketTypePatch
from admitone.organizations import service as organizations
from admitone.organizations.errors import SlugTaken
from admitone.organizations.models import Role
from admitone.organizations.schemas import MemberIn, OrganizationIn
from admitone.web import choices
from admitone.web.deps import Form, PageUser, form_str, page_org_access, page_router
from admitone.web.errors import render_refusal
from admitone.web.forms import (
    FieldProblem,
    bp_to_input,
    local_datetime,
    minor_to_input,
    money_minor,
    percent_bp,
    whole_number,
    zone_or_none,
)
from admitone.web.i18n import _
from admitone.web.messages import (
    category_label,
    category_options,
    domain_error_text,
    domain_field_errors,
    field_errors,
)
from admitone.web.pages.accounts import redirect
from admitone.web.pages.catalogue import event_image_url
from admitone.web.templating import render

router = page_router()

ViewAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.view_events))]
ManageAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.manage_events))]
MembersAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.manage_members))]
EventId = Annotated[uuid.UUID, Path()]

COMMON_ZONES = [
    "Europe/Paris",
    "Europe/London",
    "Europe/Brussels",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Zurich",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Montreal",
    "Africa/Casablanca",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
]


def role_options() -> list[tuple[str, str]]:
    return [
        (Role.owner.value, _("Owner")),
        (Role.admin.value, _("Admin")),
        (Role.staff.value, _("Gate staff")),
        (Role.cashier.value, _("Cashier")),
    ]


def role_label(role: object) -> str:
    return dict(role_options()).get(str(role), str(role))


def status_label(status: object) -> str:
    return {
        EventStatus.draft.value: _("Draft"),
        EventStatus.published.value: _("Published"),
        EventStatus.cancelled.value: _("Cancelled"),
    }.get(str(status), str(status))


def _org_context(access: OrgAccess, **extra: Any) -> dict[str, Any]:
    return {
        "org": access.organization,
        "access": access,
        "can_manage": access.allows(Permission.manage_events),
        "can_view_orders": access.allows(Permission.view_orders),
        "can_manage_members": access.allows(Permission.manage_members),
        "can_manage_security": access.allows(Permission.manage_security),
        "can_check_in": access.allows(Permission.check_in),
        "status_label": status_label,
        "role_label": role_label,
        "category_label": category_label,
        **extra,
    }


# --- organizations ------------------------------------------------------------------


@router.get("/organizer")
def organizations_page(request: Request, session: SessionDep, user: PageUser) -> Response:
    rows = organizations.list_user_organizations(session, user=user)
    return render(
        request,
        "organizer/organizations.html",
        {"rows": rows, "errors": {}, "values": {}, "role_label": role_label},
    )


@router.post("/organizer")
def create_organization(
    request: Request, form: Form, session: SessionDep, user: PageUser
) -> Response:
    values = {"name": form_str(form, "name"), "slug": form_str(form, "slug").lower()}
    errors: dict[str, str] = {}
    status_code = 422
    try:
        # Left empty, the short address is made from the name (as an event's from its
        # title); one typed in is taken as it is, or refused if taken.
        slug = values["slug"] or organizations.proposed_slug(session, values["name"])
        body = OrganizationIn(name=values["name"], slug=slug)
        organization = organizations.create_organization(
            session, user=user, name=body.name, slug=body.slug
        )
    except ValidationError as exc:
        errors = field_errors(exc)
    except SlugTaken:
        session.rollback()
        errors = {"slug": _("This address is already taken.")}
    except EmailNotVerified as exc:
        # The page shows why, with "send the link again" (account/_verify_notice.html).
        errors = {"__all__": domain_error_text(exc)}
        status_code = exc.status
    if errors:
        rows = organizations.list_user_organizations(session, user=user)
        return render(
            request,
            "organizer/organizations.html",
            {"rows": rows, "errors": errors, "values": values, "role_label": role_label},
            status_code=status_code,
        )
    return redirect(f"/organizer/{organization.slug}", flash="org_created")


@router.get("/organizer/{org}")
def dashboard(request: Request, session: SessionDep, access: ViewAccess) -> Response:
    page_events, total = events.list_events(session, access=access, per_page=100)
    rows = [
        {
            "event": event,
            "sold": sum(t.quantity_sold for t in event.ticket_types),
            "capacity": sum(t.capacity for t in event.ticket_types if t.is_active),
        }
        for event in page_events
    ]
    return render(
        request,
        "organizer/dashboard.html",
        _org_context(access, rows=rows, total=total),
    )


# --- events: create and edit ---------------------------------------------------------


def _event_location(location: tuple[Any, ...], message: str) -> str:
    if not location:
        return "ends_at" if "ends_at" in message else "__all__"
    if location[0] == "venue" and len(location) > 1:
        return {"name": "venue_name", "address": "venue_address"}.get(
            str(location[1]), str(location[1])
        )
    return str(location[0])


def _event_values(form: FormData) -> dict[str, Any]:
    names = (
        "title",
        "slug",
        "description",
        "category",
        "venue_name",
        "venue_address",
        "city",
        "country",
        "starts_at",
        "ends_at",
        "timezone",
        "currency",
    )
    values: dict[str, Any] = {name: form_str(form, name) for name in names}
    values["description"] = str(form.get("description") or "").strip()
    values["ask_attendee_names"] = form.get("ask_attendee_names") == "on"
    values["offline_ticket_limit"] = form_str(form, "offline_ticket_limit")
    return values


def _event_payload(form: FormData, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The API's event body from the form, and the errors of fields that do not parse."""
    # An unknown time zone is the time zone field's error only: the dates are read in UTC
    # meanwhile, so that dates typed right are not marked wrong as well.
    zone = zone_or_none(values["timezone"]) or ZoneInfo("UTC")
    problems: dict[str, str] = {}
    payload: dict[str, Any] = {
        "title": values["title"],
        "slug": values["slug"].lower() or None,
        "description": values["description"],
        "category": values["category"],
        "venue": {
            "name": values["venue_name"],
            "address": values["venue_address"],
            "city": values["city"],
            "country": values["country"].upper(),
        },
        "timezone": values["timezone"],
        "currency": values["currency"].upper(),
        "ask_attendee_names": values["ask_attendee_names"],
    }
    try:
        payload["offline_ticket_limit"] = whole_number(
            form, "offline_ticket_limit", OFFLINE_TICKET_LIMIT
        )
    except FieldProblem as problem:
        problems[problem.field] = problem.message
    for name in ("starts_at", "ends_at"):
        try:
            payload[name] = local_datetime(form, name, zone, required=True)
        except FieldProblem as problem:
            problems[problem.field] = problem.message
    return payload, problems


def _event_service_errors(exc: DomainError) -> dict[str, str]:
    if isinstance(exc, EventSlugTaken):
        return {"slug": _("Another event already uses this address.")}
    if isinstance(exc, InvalidInput):
        found = domain_field_errors(exc)
        if "ends_at" in found:
            found["ends_at"] = _("The end must be after the start.")
        return found
    return {"__all__": domain_error_text(exc)}


def _event_form_values(event: Event) -> dict[str, Any]:
    from admitone.web.formatting import input_datetime

    return {
        "title": event.title,
        "slug": event.slug,
        "description": event.description,
        "category": str(event.category),
        "venue_name": event.venue_name,
        "venue_address": event.venue_address,
        "city": event.city,
        "country": event.country,
        "starts_at": input_datetime(event.starts_at, event.timezone),
        "ends_at": input_datetime(event.ends_at, event.timezone),
        "timezone": event.timezone,
        "currency": event.currency,
        "ask_attendee_names": event.ask_attendee_names,
        "offline_ticket_limit": str(event.offline_ticket_limit),
    }


def _max_image_mb(request: Request) -> str:
    max_bytes: int = request.app.state.settings.max_image_bytes
    return f"{max_bytes / (1024 * 1024):g}"


def _render_event_form(
    request: Request,
    access: OrgAccess,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    event: Event | None = None,
    image_error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "organizer/event_form.html",
        _org_context(
            access,
            values=values,
            errors=errors,
            event=event,
            image_error=image_error,
            image_url=event_image_url,
            max_image_mb=_max_image_mb(request),
            category_options=category_options(),
            zones=choices.zone_suggestions(COMMON_ZONES, values.get("timezone")),
            country_options=choices.country_options(values.get("country")),
            currency_options=choices.currency_options(values.get("currency")),
        ),
        status_code=status_code,
    )


@router.get("/organizer/{org}/events/new")
def new_event_page(request: Request, session: SessionDep, access: ManageAccess) -> Response:
    # The organization's last choices, else the platform's home defaults.
    timezone, country, currency = events.latest_event_choices(session, access=access) or (
        "Europe/Paris",
        "FR",
        "EUR",
    )
    values = {
        "title": "",
        "slug": "",
        "description": "",
        "category": "concert",
        "venue_name": "",
        "venue_address": "",
        "city": "",
        "country": country,
        "starts_at": "",
        "ends_at": "",
        "timezone": timezone,
        "currency": currency,
        "ask_attendee_names": False,
        "offline_ticket_limit": str(OFFLINE_TICKET_LIMIT),
    }
    return _render_event_form(request, access, values=values, errors={})


@router.post("/organizer/{org}/events/new")
def create_event(
    request: Request, form: Form, session: SessionDep, access: ManageAccess
) -> Response:
    values = _event_values(form)
    payload, errors = _event_payload(form, values)
    body = None
    try:
        body = EventIn.model_validate(payload)
    except ValidationError as exc:
        errors = {**field_errors(exc, _event_location), **errors}
    if body is not None and not errors:
        try:
            event = events.create_event(session, access=access, **body.service_values())
            return redirect(
                f"/organizer/{access.organization.slug}/events/{event.id}", flash="event_created"
            )
        except DomainError as exc:
            session.rollback()
            errors = _event_service_errors(exc)
    return _render_event_form(request, access, values=values, errors=errors, status_code=422)


@router.get("/organizer/{org}/events/{event_id}/edit")
def edit_event_page(
    request: Request, session: SessionDep, access: ManageAccess, event_id: EventId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    return _render_event_form(
        request, access, values=_event_form_values(event), errors={}, event=event
    )


@router.post("/organizer/{org}/events/{event_id}/edit")
def update_event(
    request: Request, form: Form, session: SessionDep, access: ManageAccess, event_id: EventId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    values = _event_values(form)
    payload, errors = _event_payload(form, values)
    if payload["slug"] is None:
        payload.pop("slug")
    body = None
    try:
        body = EventPatch.model_validate(payload)
    except ValidationError as exc:
        errors = {**field_errors(exc, _event_location), **errors}
    if body is not None and not errors:
        try:
            events.update_event(session, access=access, event_id=event.id, changes=body.changes())
            return redirect(
                f"/organizer/{access.organization.slug}/events/{event.id}", flash="event_saved"
            )
        except DomainError as exc:
            session.rollback()
            errors = _event_service_errors(exc)
    return _render_event_form(
        request, access, values=values, errors=errors, event=event, status_code=422
    )


# --- events: image -------------------------------------------------------------------


@router.post("/organizer/{org}/events/{event_id}/image")
def upload_event_image(
    request: Request,
    form: Form,
    session: SessionDep,
    settings: SettingsDep,
    access: ManageAccess,
    event_id: EventId,
) -> Response:
    """The API's image upload as a form: the same checks and storage
    (``events.service.set_event_image``); the body is bounded like the API's (app.py)."""
    upload = form.get("file")
    data = b""
    if isinstance(upload, UploadFile):
        # The part is spooled already; one byte past the limit lets the service refuse it.
        data = upload.file.read(settings.max_image_bytes + 1)
    event = events.get_event(session, access=access, event_id=event_id)
    try:
        if not data:
            raise InvalidInput(errors=[{"field": "file", "message": "an image file is required"}])
        events.set_event_image(
            session,
            access=access,
            event_id=event.id,
            data=data,
            media_dir=settings.media_dir,
            max_bytes=settings.max_image_bytes,
        )
    except DomainError as exc:
        session.rollback()
        event = events.get_event(session, access=access, event_id=event_id)
        message = (
            _("Choose an image file (JPEG, PNG or WebP).")
            if isinstance(exc, InvalidInput)
            else domain_error_text(exc)
        )
        return _render_event_form(
            request,
            access,
            values=_event_form_values(event),
            errors={},
            event=event,
            image_error=message,
            status_code=exc.status,
        )
    return redirect(
        f"/organizer/{access.organization.slug}/events/{event.id}/edit", flash="image_saved"
    )


@router.post("/organizer/{org}/events/{event_id}/image/remove")
def remove_event_image(
    session: SessionDep, settings: SettingsDep, access: ManageAccess, event_id: EventId
) -> Response:
    events.remove_event_image(
        session, access=access, event_id=event_id, media_dir=settings.media_dir
    )
    return redirect(
        f"/organizer/{access.organization.slug}/events/{event_id}/edit", flash="image_removed"
    )


# --- events: publish and cancel ------------------------------------------------------


@router.post("/organizer/{org}/events/{event_id}/publish")
def publish_event(
    request: Request,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    keys: KeyRingDep,
) -> Response:
    try:
        events.publish_event(session, access=access, event_id=event_id)
        # As the API does: the ticket-signing key and the default check-in list are
        # made with the publication.
        keys.add_key(session, event_id)
        checkin_lists.ensure_default_list(session, event_id=event_id)
    except DomainError as exc:
        session.rollback()
        reasons = exc.details.get("reasons", []) if exc.details else []
        event_page = f"/organizer/{access.organization.slug}/events/{event_id}"
        # Back on the event's page, which holds the way forward (add a ticket type, edit
        # the date), with what is missing said at the top.
        if "no_active_ticket_type" in reasons:
            return redirect(event_page, flash="publish_needs_ticket_type")
        if "starts_in_the_past" in reasons:
            return redirect(event_page, flash="publish_starts_in_the_past")
        return render_refusal(
            request,
            exc,
            title=_("The event cannot be published yet"),
            message=domain_error_text(exc),
            back_url=event_page,
        )
    return redirect(
        f"/organizer/{access.organization.slug}/events/{event_id}", flash="event_published"
    )


@router.post("/organizer/{org}/events/{event_id}/duplicate")
def duplicate_event(
    session: SessionDep, settings: SettingsDep, access: ManageAccess, event_id: EventId
) -> Response:
    """``events.service.duplicate_event``: a new draft, opened on its edit page."""
    copy = events.duplicate_event(
        session, access=access, event_id=event_id, media_dir=settings.media_dir
    )
    return redirect(
        f"/organizer/{access.organization.slug}/events/{copy.id}/edit", flash="event_duplicated"
    )


@router.get("/organizer/{org}/events/{event_id}/cancel")
def cancel_event_page(
    request: Request, session: SessionDep, access: ManageAccess, event_id: EventId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    return render(request, "organizer/event_cancel.html", _org_context(access, event=event))


@router.post("/organizer/{org}/events/{event_id}/cancel")
def cancel_event(
    request: Request, session: SessionDep, access: ManageAccess, event_id: EventId
) -> Response:
    events.cancel_event(session, access=access, event_id=event_id)
    return redirect(
        f"/organizer/{access.organization.slug}/events/{event_id}", flash="event_cancelled"
    )


# --- ticket types ----------------------------------------------------------------------


def _ticket_type_values(form: FormData) -> dict[str, Any]:
    names = (
        "name",
        "description",
        "price",
        "vat_rate",
        "capacity",
        "min_per_order",
        "max_per_order",
        "max_per_buyer",
        "sales_start",
        "sales_end",
        "position",
    )
    values: dict[str, Any] = {name: form_str(form, name) for name in names}
    values["is_active"] = form.get("is_active") == "on"
    return values


def _ticket_type_payload(
    form: FormData, event: Event, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    zone = zone_or_none(event.timezone)
    payload: dict[str, Any] = {
        "name": values["name"],
        "description": values["description"],
        "is_active": values["is_active"],
    }
    problems: dict[str, str] = {}
    parsers = {
        "price_minor": lambda: money_minor(form, "price", event.currency),
        "vat_rate_bp": lambda: percent_bp(form, "vat_rate"),
        "capacity": lambda: whole_number(form, "capacity"),
        "min_per_order": lambda: whole_number(form, "min_per_order", 1),
        "max_per_order": lambda: whole_number(form, "max_per_order", 10),
        # Empty: no limit per buyer across orders.
        "max_per_buyer": lambda: (
            whole_number(form, "max_per_buyer") if form_str(form, "max_per_buyer") else None
        ),
        "position": lambda: whole_number(form, "position", 0),
        "sales_start": lambda: local_datetime(form, "sales_start", zone, required=False),
        "sales_end": lambda: local_datetime(form, "sales_end", zone, required=False),
    }
    for name, parse in parsers.items():
        try:
            payload[name] = parse()
        except FieldProblem as problem:
            problems[problem.field] = problem.message
    return payload, problems


def _ticket_type_location(location: tuple[Any, ...], message: str) -> str:
    if not location:
        if "sales_end" in message:
            return "sales_end"
        return "max_per_order" if "max_per_order" in message else "__all__"
    name = str(location[0])
    return {"price_minor": "price", "vat_rate_bp": "vat_rate"}.get(name, name)


def _ticket_type_service_errors(exc: DomainError) -> dict[str, str]:
    if exc.code == "CAPACITY_BELOW_SOLD":
        return {"capacity": _("The capacity cannot be lower than the tickets already sold.")}
    if isinstance(exc, InvalidInput):
        found = domain_field_errors(exc)
        if "price_minor" in found:
            found["price"] = found.pop("price_minor")
        if "vat_rate_bp" in found:
            found["vat_rate"] = found.pop("vat_rate_bp")
        if "sales_end" in found:
            found["sales_end"] = _("The end must be after the start.")
        if "max_per_order" in found:
            found["max_per_order"] = _("The maximum must be at least the minimum.")
        return found
    return {"__all__": domain_error_text(exc)}


def _ticket_type_form_values(ticket_type: TicketType, event: Event) -> dict[str, Any]:
    from admitone.web.formatting import input_datetime

    return {
        "name": ticket_type.name,
        "description": ticket_type.description,
        "price": minor_to_input(ticket_type.price_minor, event.currency),
        "vat_rate": bp_to_input(ticket_type.vat_rate_bp),
        "capacity": str(ticket_type.capacity),
        "min_per_order": str(ticket_type.min_per_order),
        "max_per_order": str(ticket_type.max_per_order),
        "max_per_buyer": ""
        if ticket_type.max_per_buyer is None
        else str(ticket_type.max_per_buyer),
        "sales_start": input_datetime(ticket_type.sales_start, event.timezone),
        "sales_end": input_datetime(ticket_type.sales_end, event.timezone),
        "position": str(ticket_type.position),
        "is_active": ticket_type.is_active,
    }


def _render_ticket_type_form(
    request: Request,
    access: OrgAccess,
    *,
    event: Event,
    values: dict[str, Any],
    errors: dict[str, str],
    ticket_type: TicketType | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "organizer/ticket_type_form.html",
        _org_context(access, event=event, values=values, errors=errors, ticket_type=ticket_type),
        status_code=status_code,
    )


@router.get("/organizer/{org}/events/{event_id}/ticket-types/new")
def new_ticket_type_page(
    request: Request, session: SessionDep, access: ManageAccess, event_id: EventId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    values = {
        "name": "",
        "description": "",
        "price": "",
        "vat_rate": "0",
        "capacity": "",
        "min_per_order": "1",
        "max_per_order": "10",
        "max_per_buyer": "",
        "sales_start": "",
        "sales_end": "",
        "position": str(len(event.ticket_types)),
        "is_active": True,
    }
    return _render_ticket_type_form(request, access, event=event, values=values, errors={})


@router.post("/organizer/{org}/events/{event_id}/ticket-types/new")
def create_ticket_type(
    request: Request, form: Form, session: SessionDep, access: ManageAccess, event_id: EventId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    values = _ticket_type_values(form)
    payload, errors = _ticket_type_payload(form, event, values)
    body = None
    if not errors:
        try:
            body = TicketTypeIn.model_validate(payload)
        except ValidationError as exc:
            errors = field_errors(exc, _ticket_type_location)
    if body is not None:
        try:
            events.create_ticket_type(
                session, access=access, event_id=event.id, **body.model_dump()
            )
            return redirect(
                f"/organizer/{access.organization.slug}/events/{event.id}",
                flash="ticket_type_saved",
            )
        except DomainError as exc:
            session.rollback()
            errors = _ticket_type_service_errors(exc)
    return _render_ticket_type_form(
        request, access, event=event, values=values, errors=errors, status_code=422
    )


@router.get("/organizer/{org}/events/{event_id}/ticket-types/{ticket_type_id}/edit")
def edit_ticket_type_page(
    request: Request,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    ticket_type_id: Annotated[uuid.UUID, Path()],
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    ticket_type = events.get_ticket_type(
        session, access=access, event_id=event.id, ticket_type_id=ticket_type_id
    )
    return _render_ticket_type_form(
        request,
        access,
        event=event,
        values=_ticket_type_form_values(ticket_type, event),
        errors={},
        ticket_type=ticket_type,
    )


@router.post("/organizer/{org}/events/{event_id}/ticket-types/{ticket_type_id}/edit")
def update_ticket_type(
    request: Request,
    form: Form,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    ticket_type_id: Annotated[uuid.UUID, Path()],
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    ticket_type = events.get_ticket_type(
        session, access=access, event_id=event.id, ticket_type_id=ticket_type_id
    )
    values = _ticket_type_values(form)
    payload, errors = _ticket_type_payload(form, event, values)
    body = None
    if not errors:
        try:
            body = TicketTypePatch.model_validate(payload)
            # The patch schema checks fields alone; the full rules apply to the result.
            TicketTypeIn.model_validate(payload)
        except ValidationError as exc:
            body = None
            errors = field_errors(exc, _ticket_type_location)
    if body is not None:
        try:
            events.update_ticket_type(
                session,
                access=access,
                event_id=event.id,
                ticket_type_id=ticket_type.id,
                changes=body.changes(),
            )
            return redirect(
                f"/organizer/{access.organization.slug}/events/{event.id}",
                flash="ticket_type_saved",
            )
        except DomainError as exc:
            session.rollback()
            errors = _ticket_type_service_errors(exc)
    return _render_ticket_type_form(
        request,
        access,
        event=event,
        values=values,
        errors=errors,
        ticket_type=ticket_type,
        status_code=422,
    )


@router.post("/organizer/{org}/events/{event_id}/ticket-types/{ticket_type_id}/delete")
def delete_ticket_type(
    request: Request,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    ticket_type_id: Annotated[uuid.UUID, Path()],
) -> Response:
    """``events.service.delete_ticket_type``: refused (and said so) once it has sales."""
    event = events.get_event(session, access=access, event_id=event_id)
    try:
        events.delete_ticket_type(
            session, access=access, event_id=event.id, ticket_type_id=ticket_type_id
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        return render_refusal(
            request,
            exc,
            title=_("The ticket type cannot be deleted"),
            message=domain_error_text(exc),
            back_url=f"/organizer/{access.organization.slug}/events/{event.id}",
        )
    return redirect(
        f"/organizer/{access.organization.slug}/events/{event.id}", flash="ticket_type_deleted"
    )


# --- team ---------------------------------------------------------------------------------


def _render_team(
    request: Request,
    session: Any,
    access: OrgAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    members = organizations.list_members(session, access=access)
    return render(
        request,
        "organizer/team.html",
        _org_context(
            access,
            members=members,
            errors=errors or {},
            values=values or {"email": "", "role": Role.staff.value},
            role_options=role_options(),
        ),
        status_code=status_code,
    )


@router.get("/organizer/{org}/team")
def team_page(request: Request, session: SessionDep, access: MembersAccess) -> Response:
    return _render_team(request, session, access)


@router.post("/organizer/{org}/team")
def add_member(
    request: Request, form: Form, session: SessionDep, access: MembersAccess
) -> Response:
    values = {"email": form_str(form, "email"), "role": form_str(form, "role")}
    errors: dict[str, str] = {}
    try:
        body = MemberIn(**values)
        organizations.add_member(session, access=access, email=body.email, role=body.role)
    except ValidationError as exc:
        errors = field_errors(exc)
    except DomainError as exc:
        session.rollback()
        field = "role" if exc.code == "OWNER_REQUIRED" else "email"
        errors = {field: domain_error_text(exc)}
    if errors:
        return _render_team(request, session, access, errors=errors, values=values, status_code=422)
    return redirect(f"/organizer/{access.organization.slug}/team", flash="member_added")


@router.post("/organizer/{org}/team/{member_id}")
def change_member(
    request: Request,
    form: Form,
    session: SessionDep,
    access: MembersAccess,
    member_id: Annotated[uuid.UUID, Path()],
) -> Response:
    action = form_str(form, "action")
    try:
        if action == "remove":
            organizations.remove_member(session, access=access, membership_id=member_id)
            flash = "member_removed"
        else:
            role = Role(form_str(form, "role"))
            organizations.change_member_role(
                session, access=access, membership_id=member_id, role=role
            )
            flash = "member_updated"
    except ValueError:
        return _render_team(
            request,
            session,
            access,
            errors={"__all__": _("Choose one of the options.")},
            status_code=422,
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        return _render_team(
            request, session, access, errors={"__all__": domain_error_text(exc)}, status_code=422
        )
    return redirect(f"/organizer/{access.organization.slug}/team", flash=flash)
