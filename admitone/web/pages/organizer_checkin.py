"""Organizer pages for check-in lists (issue 16): the event's lists, adding, editing and
deleting one, and one list's statistics.

Like the JSON API (``checkin.api.lists_router``): reading needs ``view_events``, changing
needs ``manage_events``, and every read and change goes through ``checkin.lists``. Times
are typed and shown in the event's time zone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from admitone.authorization import OrgAccess, Permission
from admitone.checkin import lists as checkin_lists
from admitone.checkin.errors import CheckinListTicketTypeUnknown, CheckinListWindowInvalid
from admitone.checkin.schemas import CheckinListIn
from admitone.deps import SessionDep
from admitone.errors import DomainError
from admitone.events import service as events
from admitone.events.models import Event
from admitone.web.deps import Form, form_str, page_org_access, page_router
from admitone.web.formatting import input_datetime, local
from admitone.web.forms import FieldProblem, local_datetime, zone_or_none
from admitone.web.i18n import _
from admitone.web.messages import domain_error_text, field_errors
from admitone.web.pages.accounts import redirect
from admitone.web.pages.organizer import _org_context
from admitone.web.pages.organizer_sales import _chart
from admitone.web.templating import render

router = page_router()

ViewAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.view_events))]
ManageAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.manage_events))]
EventId = Annotated[uuid.UUID, Path()]
ListId = Annotated[uuid.UUID, Path()]
# Quarter hours filled in between the first and the last with scans (a day); a longer
# span shows the quarter hours with scans only.
MAX_QUARTERS_FILLED = 96


def _lists_url(access: OrgAccess, event_id: uuid.UUID) -> str:
    return f"/organizer/{access.organization.slug}/events/{event_id}/checkin-lists"


# --- the form ---------------------------------------------------------------------------


def _empty_values() -> dict[str, Any]:
    return {
        "name": "",
        "types": "all",
        "ticket_type_ids": [],
        "allow_reentry": False,
        "valid_from": "",
        "valid_until": "",
    }


def _view_values(view: checkin_lists.ListView, event: Event) -> dict[str, Any]:
    found = view.checkin_list
    return {
        "name": found.name,
        "types": "all" if view.ticket_type_ids is None else "chosen",
        "ticket_type_ids": [str(item) for item in view.ticket_type_ids or []],
        "allow_reentry": found.allow_reentry,
        "valid_from": input_datetime(found.valid_from, event.timezone),
        "valid_until": input_datetime(found.valid_until, event.timezone),
    }


def _form_values(form: FormData) -> dict[str, Any]:
    return {
        "name": form_str(form, "name"),
        "types": "chosen" if form_str(form, "types") == "chosen" else "all",
        "ticket_type_ids": [str(item) for item in form.getlist("ticket_type_ids")],
        "allow_reentry": form.get("allow_reentry") == "on",
        "valid_from": form_str(form, "valid_from"),
        "valid_until": form_str(form, "valid_until"),
    }


def _window_error() -> str:
    return _("The end must be after the start.")


def _parse(
    form: FormData, event: Event, values: dict[str, Any]
) -> tuple[CheckinListIn | None, dict[str, str]]:
    """The API's body (``CheckinListIn``) from the form, or every field error at once."""
    zone = zone_or_none(event.timezone)
    errors: dict[str, str] = {}
    payload: dict[str, Any] = {"name": values["name"], "allow_reentry": values["allow_reentry"]}
    for name in ("valid_from", "valid_until"):
        try:
            payload[name] = local_datetime(form, name, zone, required=False)
        except FieldProblem as problem:
            payload[name] = None
            errors[problem.field] = problem.message
    if values["types"] == "chosen":
        known = {str(ticket_type.id) for ticket_type in event.ticket_types}
        chosen = [item for item in values["ticket_type_ids"] if item in known]
        if not chosen:
            errors["ticket_type_ids"] = _("Choose at least one ticket type.")
        payload["ticket_type_ids"] = chosen or None
    start, end = payload["valid_from"], payload["valid_until"]
    if start is not None and end is not None and end <= start:
        errors.setdefault("valid_until", _window_error())
    body = None
    try:
        body = CheckinListIn.model_validate(payload)
    except ValidationError as exc:
        errors = {**field_errors(exc), **errors}
    return (None if errors else body), errors


def _service_errors(exc: DomainError) -> dict[str, str]:
    if isinstance(exc, CheckinListWindowInvalid):
        return {"valid_until": _window_error()}
    if isinstance(exc, CheckinListTicketTypeUnknown):
        return {"ticket_type_ids": domain_error_text(exc)}
    return {"__all__": domain_error_text(exc)}


def _submit(
    session: Session,
    form: FormData,
    access: OrgAccess,
    event: Event,
    *,
    save: Callable[[CheckinListIn], object],
    form_again: Callable[[dict[str, Any], dict[str, str]], Response],
) -> Response:
    """What adding and editing a list share: parse the form (every field error at once),
    ``save`` it through the service and go back to the lists; or ``form_again`` with
    what was typed and the errors (422): the form's, or the service's refusal, after a
    rollback of what the service did. A 404 from the service is raised as it is."""
    values = _form_values(form)
    body, errors = _parse(form, event, values)
    if body is not None:
        try:
            save(body)
        except DomainError as exc:
            if exc.status == 404:
                raise
            session.rollback()
            errors = _service_errors(exc)
        else:
            return redirect(_lists_url(access, event.id), flash="checkin_list_saved")
    return form_again(values, errors)


# --- the lists --------------------------------------------------------------------------


def _render_lists(
    request: Request,
    session: Session,
    access: OrgAccess,
    event: Event,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    views = checkin_lists.list_lists(session, access=access, event_id=event.id)
    can_manage = access.allows(Permission.manage_events)
    deletable = (
        checkin_lists.deletable_list_ids(session, event_id=event.id) if can_manage else set()
    )
    type_names = {ticket_type.id: ticket_type.name for ticket_type in event.ticket_types}
    rows = [
        {
            "list": view.checkin_list,
            "types": None
            if view.ticket_type_ids is None
            else [type_names.get(item, str(item)) for item in view.ticket_type_ids],
            "deletable": view.checkin_list.id in deletable,
        }
        for view in views
    ]
    return render(
        request,
        "organizer/checkin_lists.html",
        _org_context(
            access,
            event=event,
            rows=rows,
            values=values or _empty_values(),
            errors=errors or {},
            notice=notice,
        ),
        status_code=status_code,
    )


@router.get("/organizer/{org}/events/{event_id}/checkin-lists")
def lists_page(
    request: Request, session: SessionDep, access: ViewAccess, event_id: EventId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    return _render_lists(request, session, access, event)


@router.post("/organizer/{org}/events/{event_id}/checkin-lists")
def create_list(
    request: Request, form: Form, session: SessionDep, access: ManageAccess, event_id: EventId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    return _submit(
        session,
        form,
        access,
        event,
        save=lambda body: checkin_lists.create_list(
            session,
            access=access,
            event_id=event.id,
            name=body.name,
            ticket_type_ids=body.ticket_type_ids,
            allow_reentry=body.allow_reentry,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
        ),
        form_again=lambda values, errors: _render_lists(
            request, session, access, event, values=values, errors=errors, status_code=422
        ),
    )


def _render_edit(
    request: Request,
    access: OrgAccess,
    event: Event,
    view: checkin_lists.ListView,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "organizer/checkin_list_form.html",
        _org_context(
            access,
            event=event,
            checkin_list=view.checkin_list,
            values=values,
            errors=errors,
        ),
        status_code=status_code,
    )


@router.get("/organizer/{org}/events/{event_id}/checkin-lists/{list_id}/edit")
def edit_list_page(
    request: Request,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    list_id: ListId,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    view = checkin_lists.get_list(session, access=access, event_id=event.id, list_id=list_id)
    return _render_edit(request, access, event, view, values=_view_values(view, event), errors={})


@router.post("/organizer/{org}/events/{event_id}/checkin-lists/{list_id}/edit")
def update_list(
    request: Request,
    form: Form,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    list_id: ListId,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    view = checkin_lists.get_list(session, access=access, event_id=event.id, list_id=list_id)
    return _submit(
        session,
        form,
        access,
        event,
        save=lambda body: checkin_lists.update_list(
            session,
            access=access,
            event_id=event.id,
            list_id=view.checkin_list.id,
            changes=body.model_dump(),
        ),
        form_again=lambda values, errors: _render_edit(
            request, access, event, view, values=values, errors=errors, status_code=422
        ),
    )


@router.post("/organizer/{org}/events/{event_id}/checkin-lists/{list_id}/delete")
def delete_list(
    request: Request,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    list_id: ListId,
) -> Response:
    """``checkin.lists.delete_list``: the default list and a scanned list are refused, and
    the lists page says why."""
    event = events.get_event(session, access=access, event_id=event_id)
    try:
        checkin_lists.delete_list(session, access=access, event_id=event.id, list_id=list_id)
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        return _render_lists(
            request, session, access, event, notice=domain_error_text(exc), status_code=exc.status
        )
    return redirect(_lists_url(access, event.id), flash="checkin_list_deleted")


# --- one list's statistics --------------------------------------------------------------


def _quarters(stats: checkin_lists.ListStats, timezone: str) -> list[dict[str, Any]]:
    """Entries and exits per quarter hour, local times, the empty quarters in between
    filled in (over a day at most)."""
    counted = {item.starts_at: item for item in stats.by_quarter_hour}
    moments = sorted(counted)
    if moments:
        span = int((moments[-1] - moments[0]) / timedelta(minutes=15)) + 1
        if span <= MAX_QUARTERS_FILLED:
            moments = [moments[0] + timedelta(minutes=15 * step) for step in range(span)]
    rows = []
    for moment in moments:
        item = counted.get(moment)
        rows.append(
            {
                "day": local(moment, timezone),
                "count": item.entries if item else 0,
                "exits": item.exits if item else 0,
            }
        )
    return rows


@router.get("/organizer/{org}/events/{event_id}/checkin-lists/{list_id}/stats")
def list_stats_page(
    request: Request,
    session: SessionDep,
    access: ViewAccess,
    event_id: EventId,
    list_id: ListId,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    view = checkin_lists.get_list(session, access=access, event_id=event.id, list_id=list_id)
    stats = checkin_lists.list_stats(session, access=access, event_id=event.id, list_id=list_id)
    series = _quarters(stats, event.timezone)
    return render(
        request,
        "organizer/checkin_list_stats.html",
        _org_context(
            access,
            event=event,
            checkin_list=view.checkin_list,
            stats=stats,
            series=series,
            chart=_chart(series) if series else None,
        ),
    )
