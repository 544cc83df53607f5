"""The organizer's lineup pages (issue 18, point 1): the timetable as a day view by
stage, and the forms to add and change stages, artists and slots.

Like the JSON API (``lineup.api.organizer_router``): reading needs ``view_events``,
changing needs ``manage_events``, and every read and change goes through
``lineup.service``, the API's own services. Times are typed in the event's time zone
(as an event's dates are); every field error is shown at once. A confirmation refused
because of another confirmed slot (``SLOT_OVERLAP``) names that slot next to the form and
keeps what was typed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from admitone.authorization import OrgAccess, Permission
from admitone.deps import SessionDep, SettingsDep
from admitone.errors import DomainError, InvalidInput
from admitone.events.models import Event
from admitone.lineup import service as lineup
from admitone.lineup.errors import SlotOverlap, StageNameTaken
from admitone.lineup.models import ArtistKind, SlotStatus
from admitone.lineup.schemas import ArtistIn, SlotIn, StageIn
from admitone.web.deps import Form, form_str, page_org_access, page_router
from admitone.web.formatting import date_in, input_datetime
from admitone.web.forms import FieldProblem, local_datetime
from admitone.web.i18n import _
from admitone.web.messages import domain_error_text, field_errors
from admitone.web.pages.accounts import redirect
from admitone.web.pages.organizer import _org_context
from admitone.web.templating import render

router = page_router()

ViewAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.view_events))]
ManageAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.manage_events))]
EventId = Annotated[uuid.UUID, Path()]
StageId = Annotated[uuid.UUID, Path()]
ArtistId = Annotated[uuid.UUID, Path()]
SlotId = Annotated[uuid.UUID, Path()]


def kind_label(kind: str) -> str:
    return {
        ArtistKind.band: _("Band"),
        ArtistKind.dj: _("DJ"),
        ArtistKind.solo: _("Solo artist"),
        ArtistKind.speaker: _("Speaker"),
        ArtistKind.comedian: _("Comedian"),
        ArtistKind.other: _("Other"),
    }.get(ArtistKind(kind), kind)


def status_label(status: str) -> str:
    return {
        SlotStatus.pending: _("Pending"),
        SlotStatus.confirmed: _("Confirmed"),
        SlotStatus.cancelled: _("Cancelled"),
    }.get(SlotStatus(status), status)


def _lineup_url(access: OrgAccess, event_id: uuid.UUID) -> str:
    return f"/organizer/{access.organization.slug}/events/{event_id}/lineup"


# The service's time problems (English, for the API) as the form's texts.
_TIME_TEXTS: dict[str, Callable[[], str]] = {
    "must be after the start": lambda: _("The end must be after the start."),
    "a slot lasts at most 24 hours": lambda: _("A slot lasts at most 24 hours."),
    "must be within the event's dates (a day either side)": lambda: _(
        "Choose a time within the event's dates (a day either side)."
    ),
}


def _service_errors(exc: DomainError) -> dict[str, str]:
    if isinstance(exc, StageNameTaken):
        return {"stage_name": domain_error_text(exc)}
    if isinstance(exc, InvalidInput):
        errors: dict[str, str] = {}
        for problem in (exc.details or {}).get("errors") or []:
            text = _TIME_TEXTS.get(str(problem.get("message")))
            errors.setdefault(str(problem.get("field")), text() if text else domain_error_text(exc))
        return errors or {"__all__": domain_error_text(exc)}
    return {"__all__": domain_error_text(exc)}


def _save(
    session: Session, save: Callable[[], object], errors: dict[str, str]
) -> tuple[dict[str, str], dict[str, Any] | None]:
    """Run ``save`` (a service call) unless the form had errors; a refusal (not a 404)
    rolls back and becomes the form's errors, and a clash also gives the other slot."""
    if errors:
        return errors, None
    try:
        save()
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        clash = None
        if isinstance(exc, SlotOverlap):
            clash = (exc.details or {}).get("other")
        return _service_errors(exc), clash
    return {}, None


# --- the day view ------------------------------------------------------------------------


def _days(event: Event, views: list[lineup.SlotView]) -> list[date]:
    days = {lineup.programme_day(view.slot.starts_at, event.timezone) for view in views}
    days.add(lineup.programme_day(event.starts_at, event.timezone))
    return sorted(days)


def _empty_values() -> dict[str, Any]:
    return {
        "stage_name": "",
        "stage_capacity": "",
        "stage_location": "",
        "artist_name": "",
        "artist_kind": ArtistKind.band.value,
        "artist_bio": "",
        "artist_links": "",
        "stage_id": "",
        "artist_id": "",
        "starts_at": "",
        "ends_at": "",
        "status": SlotStatus.pending.value,
        "changeover_minutes": "0",
    }


def _options(session: Session, access: OrgAccess, event: Event) -> dict[str, Any]:
    stages = lineup.list_stages(session, access=access, event_id=event.id)
    artists = lineup.list_artists(session, access=access, event_id=event.id)
    return {
        "stages": stages,
        "artists": artists,
        "stage_options": [(str(stage.id), stage.name) for stage in stages],
        "artist_options": [(str(artist.id), artist.name) for artist in artists],
        "kind_options": [(kind.value, kind_label(kind)) for kind in ArtistKind],
        "status_options": [(status.value, status_label(status)) for status in SlotStatus],
        "kind_label": kind_label,
        "slot_status_label": status_label,
    }


def _clash_view(clash: dict[str, Any] | None) -> dict[str, Any] | None:
    if not clash:
        return None
    return {
        "artist": str(clash.get("artist", "")),
        "stage": str(clash.get("stage", "")),
        "starts_at": datetime.fromisoformat(str(clash["starts_at"])),
        "ends_at": datetime.fromisoformat(str(clash["ends_at"])),
        "changeover_minutes": int(clash.get("changeover_minutes") or 0),
    }


def _render_lineup(
    request: Request,
    session: Session,
    access: OrgAccess,
    event: Event,
    *,
    day: date | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    clash: dict[str, Any] | None = None,
    form: str = "",
    status_code: int = 200,
) -> Response:
    views = lineup.list_slots(session, access=access, event_id=event.id)
    days = _days(event, views)
    if day is None or day not in days:
        day = days[0]
    options = _options(session, access, event)
    columns = [
        (
            stage,
            [
                view
                for view in views
                if view.stage.id == stage.id
                and lineup.programme_day(view.slot.starts_at, event.timezone) == day
            ],
        )
        for stage in options["stages"]
    ]
    return render(
        request,
        "organizer/lineup.html",
        _org_context(
            access,
            event=event,
            days=days,
            day_labels={
                d: date_in(
                    datetime(d.year, d.month, d.day, 12, tzinfo=ZoneInfo(event.timezone)),
                    event.timezone,
                )
                for d in days
            },
            day=day,
            columns=columns,
            values={**_empty_values(), **(values or {})},
            errors=errors or {},
            clash=_clash_view(clash),
            form=form,
            active="lineup",
            **options,
        ),
        status_code=status_code,
    )


@router.get("/organizer/{org}/events/{event_id}/lineup")
def lineup_page(
    request: Request,
    session: SessionDep,
    access: ViewAccess,
    event_id: EventId,
    day: Annotated[date | None, Query()] = None,
) -> Response:
    event = lineup.get_event(session, access=access, event_id=event_id)
    return _render_lineup(request, session, access, event, day=day)


# --- stages ------------------------------------------------------------------------------


def _stage_values(form: FormData) -> dict[str, Any]:
    return {
        "stage_name": form_str(form, "stage_name"),
        "stage_capacity": form_str(form, "stage_capacity"),
        "stage_location": form_str(form, "stage_location"),
    }


def _stage_body(values: dict[str, Any]) -> tuple[StageIn | None, dict[str, str]]:
    errors: dict[str, str] = {}
    capacity: int | None = None
    if values["stage_capacity"]:
        try:
            capacity = int(values["stage_capacity"])
        except ValueError:
            errors["stage_capacity"] = _("Enter a whole number.")
    try:
        body = StageIn.model_validate(
            {
                "name": values["stage_name"],
                "capacity": capacity,
                "location": values["stage_location"],
            }
        )
    except ValidationError as exc:
        for name, text in field_errors(exc).items():
            errors.setdefault(f"stage_{name}", text)
        return None, errors
    return (None if errors else body), errors


@router.post("/organizer/{org}/events/{event_id}/lineup/stages")
def create_stage(
    request: Request, form: Form, session: SessionDep, access: ManageAccess, event_id: EventId
) -> Response:
    event = lineup.get_event(session, access=access, event_id=event_id)
    values = _stage_values(form)
    body, errors = _stage_body(values)

    def save() -> None:
        assert body is not None
        lineup.create_stage(
            session,
            access=access,
            event_id=event.id,
            name=body.name,
            capacity=body.capacity,
            location=body.location,
        )

    errors, _clash = _save(session, save, errors)
    if errors:
        return _render_lineup(
            request,
            session,
            access,
            event,
            values=values,
            errors=errors,
            form="stage",
            status_code=422,
        )
    return redirect(_lineup_url(access, event.id), flash="lineup_saved")


def _render_edit(
    request: Request,
    session: Session,
    access: OrgAccess,
    event: Event,
    *,
    what: str,
    action: str,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    clash: dict[str, Any] | None = None,
    slot: lineup.SlotView | None = None,
    artist: Any = None,
    image_error: str | None = None,
    status_code: int = 200,
) -> Response:
    max_bytes: int = request.app.state.settings.max_image_bytes
    return render(
        request,
        "organizer/lineup_edit.html",
        _org_context(
            access,
            event=event,
            what=what,
            action=action,
            values={**_empty_values(), **values},
            errors=errors or {},
            clash=_clash_view(clash),
            slot=slot,
            artist=artist,
            image_error=image_error,
            max_image_mb=f"{max_bytes / (1024 * 1024):g}",
            active="lineup",
            **_options(session, access, event),
        ),
        status_code=status_code,
    )


@router.get("/organizer/{org}/events/{event_id}/lineup/stages/{stage_id}/edit")
def edit_stage_page(
    request: Request,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    stage_id: StageId,
) -> Response:
    event = lineup.get_event(session, access=access, event_id=event_id)
    stage = lineup.get_stage(session, access=access, event_id=event.id, stage_id=stage_id)
    values = {
        "stage_name": stage.name,
        "stage_capacity": "" if stage.capacity is None else str(stage.capacity),
        "stage_location": stage.location,
    }
    action = f"{_lineup_url(access, event.id)}/stages/{stage.id}"
    return _render_edit(request, session, access, event, what="stage", action=action, values=values)


@router.post("/organizer/{org}/events/{event_id}/lineup/stages/{stage_id}")
def update_stage(
    request: Request,
    form: Form,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    stage_id: StageId,
) -> Response:
    event = lineup.get_event(session, access=access, event_id=event_id)
    stage = lineup.get_stage(session, access=access, event_id=event.id, stage_id=stage_id)
    values = _stage_values(form)
    body, errors = _stage_body(values)

    def save() -> None:
        assert body is not None
        lineup.update_stage(
            session,
            access=access,
            event_id=event.id,
            stage_id=stage.id,
            changes={"name": body.name, "capacity": body.capacity, "location": body.location},
        )

    errors, _clash = _save(session, save, errors)
    if errors:
        action = f"{_lineup_url(access, event.id)}/stages/{stage_id}"
        return _render_edit(
            request,
            session,
            access,
            event,
            what="stage",
            action=action,
            values=values,
            errors=errors,
            status_code=422,
        )
    return redirect(_lineup_url(access, event.id), flash="lineup_saved")


# --- artists -----------------------------------------------------------------------------


def _artist_values(form: FormData) -> dict[str, Any]:
    return {
        "artist_name": form_str(form, "artist_name"),
        "artist_kind": form_str(form, "artist_kind"),
        "artist_bio": str(form.get("artist_bio") or "").strip(),
        "artist_links": str(form.get("artist_links") or "").strip(),
    }


def _links(text: str) -> list[dict[str, str]]:
    """One link a line: a label, then the address (``Website https://...``)."""
    links = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        label, _sep, url = line.rpartition(" ")
        links.append({"label": label.strip() or url, "url": url})
    return links


def _links_text(links: list[dict[str, str]] | None) -> str:
    return "\n".join(f"{link['label']} {link['url']}" for link in links or [])


def _artist_body(values: dict[str, Any]) -> tuple[ArtistIn | None, dict[str, str]]:
    try:
        body = ArtistIn.model_validate(
            {
                "name": values["artist_name"],
                "kind": values["artist_kind"],
                "bio": values["artist_bio"],
                "links": _links(values["artist_links"]),
            }
        )
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            location = tuple(error.get("loc") or ())
            name = str(location[0]) if location else "__all__"
            if name == "links":
                errors.setdefault(
                    "artist_links", _("Write one link a line: a label, then an http(s) address.")
                )
        for name, text in field_errors(exc).items():
            errors.setdefault(f"artist_{name}", text)
        return None, errors
    return body, {}


@router.post("/organizer/{org}/events/{event_id}/lineup/artists")
def create_artist(
    request: Request, form: Form, session: SessionDep, access: ManageAccess, event_id: EventId
) -> Response:
    event = lineup.get_event(session, access=access, event_id=event_id)
    values = _artist_values(form)
    body, errors = _artist_body(values)

    def save() -> None:
        assert body is not None
        lineup.create_artist(
            session,
            access=access,
            event_id=event.id,
            name=body.name,
            kind=body.kind,
            bio=body.bio,
            links=[link.model_dump() for link in body.links],
        )

    errors, _clash = _save(session, save, errors)
    if errors:
        return _render_lineup(
            request,
            session,
            access,
            event,
            values=values,
            errors=errors,
            form="artist",
            status_code=422,
        )
    return redirect(_lineup_url(access, event.id), flash="lineup_saved")


@router.get("/organizer/{org}/events/{event_id}/lineup/artists/{artist_id}/edit")
def edit_artist_page(
    request: Request,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    artist_id: ArtistId,
) -> Response:
    event = lineup.get_event(session, access=access, event_id=event_id)
    artist = lineup.get_artist(session, access=access, event_id=event.id, artist_id=artist_id)
    values = {
        "artist_name": artist.name,
        "artist_kind": str(artist.kind),
        "artist_bio": artist.bio,
        "artist_links": _links_text(artist.links),
    }
    action = f"{_lineup_url(access, event.id)}/artists/{artist.id}"
    return _render_edit(
        request, session, access, event, what="artist", action=action, values=values, artist=artist
    )


@router.post("/organizer/{org}/events/{event_id}/lineup/artists/{artist_id}")
def update_artist(
    request: Request,
    form: Form,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    artist_id: ArtistId,
) -> Response:
    event = lineup.get_event(session, access=access, event_id=event_id)
    artist = lineup.get_artist(session, access=access, event_id=event.id, artist_id=artist_id)
    values = _artist_values(form)
    body, errors = _artist_body(values)

    def save() -> None:
        assert body is not None
        lineup.update_artist(
            session,
            access=access,
            event_id=event.id,
            artist_id=artist.id,
            changes={
                "name": body.name,
                "kind": body.kind,
                "bio": body.bio,
                "links": [link.model_dump() for link in body.links],
            },
        )

    errors, _clash = _save(session, save, errors)
    if errors:
        action = f"{_lineup_url(access, event.id)}/artists/{artist_id}"
        return _render_edit(
            request,
            session,
            access,
            event,
            what="artist",
            action=action,
            values=values,
            errors=errors,
            artist=artist,
            status_code=422,
        )
    return redirect(_lineup_url(access, event.id), flash="lineup_saved")


@router.post("/organizer/{org}/events/{event_id}/lineup/artists/{artist_id}/image")
def upload_artist_image(
    request: Request,
    form: Form,
    session: SessionDep,
    settings: SettingsDep,
    access: ManageAccess,
    event_id: EventId,
    artist_id: ArtistId,
) -> Response:
    """The API's artist picture upload as a form: the same checks and storage
    (``lineup.service.set_artist_image``, as an event's image); the body is bounded like
    the event image form's (app.py)."""
    upload = form.get("file")
    data = b""
    if isinstance(upload, UploadFile):
        # The part is spooled already; one byte past the limit lets the service refuse it.
        data = upload.file.read(settings.max_image_bytes + 1)
    event = lineup.get_event(session, access=access, event_id=event_id)
    edit_url = f"{_lineup_url(access, event.id)}/artists/{artist_id}/edit"
    try:
        if not data:
            raise InvalidInput(errors=[{"field": "file", "message": "an image file is required"}])
        lineup.set_artist_image(
            session,
            access=access,
            event_id=event.id,
            artist_id=artist_id,
            data=data,
            media_dir=settings.media_dir,
            max_bytes=settings.max_image_bytes,
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        event = lineup.get_event(session, access=access, event_id=event_id)
        artist = lineup.get_artist(session, access=access, event_id=event.id, artist_id=artist_id)
        message = (
            _("Choose an image file (JPEG, PNG or WebP).")
            if isinstance(exc, InvalidInput)
            else domain_error_text(exc)
        )
        values = {
            "artist_name": artist.name,
            "artist_kind": str(artist.kind),
            "artist_bio": artist.bio,
            "artist_links": _links_text(artist.links),
        }
        return _render_edit(
            request,
            session,
            access,
            event,
            what="artist",
            action=f"{_lineup_url(access, event.id)}/artists/{artist.id}",
            values=values,
            artist=artist,
            image_error=message,
            status_code=exc.status,
        )
    return redirect(edit_url, flash="artist_picture_saved")


# --- slots -------------------------------------------------------------------------------


def _slot_values(form: FormData) -> dict[str, Any]:
    names = ("stage_id", "artist_id", "starts_at", "ends_at", "status", "changeover_minutes")
    return {name: form_str(form, name) for name in names}


def _slot_body(form: FormData, event: Event) -> tuple[SlotIn | None, dict[str, str]]:
    zone = ZoneInfo(event.timezone)
    errors: dict[str, str] = {}
    payload: dict[str, Any] = {
        "stage_id": form_str(form, "stage_id"),
        "artist_id": form_str(form, "artist_id"),
        "status": form_str(form, "status") or SlotStatus.pending.value,
    }
    for name in ("starts_at", "ends_at"):
        try:
            payload[name] = local_datetime(form, name, zone, required=True)
        except FieldProblem as problem:
            errors[problem.field] = problem.message
    raw = form_str(form, "changeover_minutes")
    try:
        payload["changeover_minutes"] = int(raw) if raw else 0
    except ValueError:
        errors["changeover_minutes"] = _("Enter a whole number.")
    try:
        body = SlotIn.model_validate({k: v for k, v in payload.items() if k not in errors})
    except ValidationError as exc:
        for name, text in field_errors(exc).items():
            if name in ("stage_id", "artist_id") and form_str(form, name) == "":
                text = _("This field is required.")
            errors.setdefault(name, text)
        return None, errors
    return (None if errors else body), errors


@router.post("/organizer/{org}/events/{event_id}/lineup/slots")
def create_slot(
    request: Request, form: Form, session: SessionDep, access: ManageAccess, event_id: EventId
) -> Response:
    event = lineup.get_event(session, access=access, event_id=event_id)
    values = _slot_values(form)
    body, errors = _slot_body(form, event)

    def save() -> None:
        assert body is not None
        lineup.create_slot(
            session,
            access=access,
            event_id=event.id,
            stage_id=body.stage_id,
            artist_id=body.artist_id,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            status=body.status,
            changeover_minutes=body.changeover_minutes,
        )

    errors, clash = _save(session, save, errors)
    if errors:
        return _render_lineup(
            request,
            session,
            access,
            event,
            values=values,
            errors=errors,
            clash=clash,
            form="slot",
            status_code=409 if clash else 422,
        )
    day = lineup.programme_day(body.starts_at, event.timezone) if body else None
    url = _lineup_url(access, event.id) + (f"?day={day.isoformat()}" if day else "")
    return redirect(url, flash="lineup_saved")


def _slot_form_values(view: lineup.SlotView, timezone: str) -> dict[str, Any]:
    slot = view.slot
    return {
        "stage_id": str(slot.stage_id),
        "artist_id": str(slot.artist_id),
        "starts_at": input_datetime(slot.starts_at, timezone),
        "ends_at": input_datetime(slot.ends_at, timezone),
        "status": str(slot.status),
        "changeover_minutes": str(slot.changeover_minutes),
    }


@router.get("/organizer/{org}/events/{event_id}/lineup/slots/{slot_id}/edit")
def edit_slot_page(
    request: Request,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    slot_id: SlotId,
) -> Response:
    event = lineup.get_event(session, access=access, event_id=event_id)
    view = lineup.get_slot(session, access=access, event_id=event.id, slot_id=slot_id)
    action = f"{_lineup_url(access, event.id)}/slots/{view.slot.id}"
    return _render_edit(
        request,
        session,
        access,
        event,
        what="slot",
        action=action,
        values=_slot_form_values(view, event.timezone),
        slot=view,
    )


@router.post("/organizer/{org}/events/{event_id}/lineup/slots/{slot_id}")
def update_slot(
    request: Request,
    form: Form,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    slot_id: SlotId,
) -> Response:
    event = lineup.get_event(session, access=access, event_id=event_id)
    view = lineup.get_slot(session, access=access, event_id=event.id, slot_id=slot_id)
    values = _slot_values(form)
    body, errors = _slot_body(form, event)

    def save() -> None:
        assert body is not None
        lineup.update_slot(
            session,
            access=access,
            event_id=event.id,
            slot_id=view.slot.id,
            changes=body.model_dump(),
        )

    errors, clash = _save(session, save, errors)
    if errors:
        action = f"{_lineup_url(access, event.id)}/slots/{slot_id}"
        return _render_edit(
            request,
            session,
            access,
            event,
            what="slot",
            action=action,
            values=values,
            errors=errors,
            clash=clash,
            slot=view,
            status_code=409 if clash else 422,
        )
    assert body is not None
    day = lineup.programme_day(body.starts_at, event.timezone)
    return redirect(f"{_lineup_url(access, event.id)}?day={day.isoformat()}", flash="lineup_saved")


@router.post("/organizer/{org}/events/{event_id}/lineup/slots/{slot_id}/cancel")
def cancel_slot(
    request: Request,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    slot_id: SlotId,
) -> Response:
    event = lineup.get_event(session, access=access, event_id=event_id)
    result = lineup.update_slot(
        session,
        access=access,
        event_id=event.id,
        slot_id=slot_id,
        changes={"status": SlotStatus.cancelled},
    )
    day = lineup.programme_day(result.view.slot.starts_at, event.timezone)
    return redirect(
        f"{_lineup_url(access, event.id)}?day={day.isoformat()}", flash="slot_cancelled"
    )
