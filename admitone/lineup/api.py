"""Lineup JSON routes: the organizer's stages, artists and slots; the public programme
and its calendar files; the attendee's own schedule."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from sqlalchemy.orm import Session

from admitone.authorization import OrgAccess, Permission
from admitone.deps import CurrentUser, SessionDep, SettingsDep, org_access
from admitone.errors import error_responses
from admitone.events.api import IMAGE_BODY, image_upload
from admitone.lineup import service
from admitone.lineup.models import ArtistKind, SlotStatus
from admitone.lineup.schemas import (
    ArtistIn,
    ArtistOut,
    ArtistPatch,
    ProgrammeOut,
    PublicArtistPageOut,
    ScheduleEntryOut,
    SlotIn,
    SlotOut,
    SlotPatch,
    StageIn,
    StageOut,
    StagePatch,
)
from admitone.schemas import DataResponse, ListResponse

# /api/v1/organizations/{org}/events/{event_id}/stages, /artists, /slots
organizer_router = APIRouter(
    prefix="/organizations/{org}/events/{event_id}", tags=["lineup (organizer)"]
)
# /api/v1/events/{event_id}/programme, /api/v1/slots/{slot_id}/calendar.ics
public_router = APIRouter(tags=["programme"])
# /api/v1/me/schedule
me_router = APIRouter(prefix="/me/schedule", tags=["programme"])

ViewAccess = Annotated[OrgAccess, Depends(org_access(Permission.view_events))]
ManageAccess = Annotated[OrgAccess, Depends(org_access(Permission.manage_events))]
EventId = Annotated[uuid.UUID, Path(description="The event's id")]
StageId = Annotated[uuid.UUID, Path(description="The stage's id")]
ArtistId = Annotated[uuid.UUID, Path(description="The artist's id")]
SlotId = Annotated[uuid.UUID, Path(description="The slot's id")]

READ_ERRORS = error_responses(401, 403, 404, 422)
WRITE_ERRORS = error_responses(401, 403, 404, 409, 422)


def _zone(access: OrgAccess, session: Session, event_id: uuid.UUID) -> str:
    return service.get_event(session, access=access, event_id=event_id).timezone


# --- stages --------------------------------------------------------------------------------


@organizer_router.get("/stages", summary="The event's stages", responses=READ_ERRORS)
def list_stages(
    event_id: EventId, access: ViewAccess, session: SessionDep
) -> ListResponse[StageOut]:
    stages = service.list_stages(session, access=access, event_id=event_id)
    return ListResponse(data=[StageOut.model_validate(stage) for stage in stages])


@organizer_router.post("/stages", status_code=201, summary="Add a stage", responses=WRITE_ERRORS)
def create_stage(
    event_id: EventId, body: StageIn, access: ManageAccess, session: SessionDep
) -> DataResponse[StageOut]:
    stage = service.create_stage(session, access=access, event_id=event_id, **body.model_dump())
    return DataResponse(data=StageOut.model_validate(stage))


@organizer_router.patch(
    "/stages/{stage_id}", summary="Change a stage (the fields sent)", responses=WRITE_ERRORS
)
def update_stage(
    event_id: EventId,
    stage_id: StageId,
    body: StagePatch,
    access: ManageAccess,
    session: SessionDep,
) -> DataResponse[StageOut]:
    stage = service.update_stage(
        session, access=access, event_id=event_id, stage_id=stage_id, changes=body.changes()
    )
    return DataResponse(data=StageOut.model_validate(stage))


@organizer_router.delete(
    "/stages/{stage_id}",
    status_code=204,
    summary="Delete a stage without slots",
    responses=WRITE_ERRORS,
)
def delete_stage(
    event_id: EventId, stage_id: StageId, access: ManageAccess, session: SessionDep
) -> Response:
    service.delete_stage(session, access=access, event_id=event_id, stage_id=stage_id)
    return Response(status_code=204)


# --- artists -------------------------------------------------------------------------------


@organizer_router.get("/artists", summary="The event's artists", responses=READ_ERRORS)
def list_artists(
    event_id: EventId, access: ViewAccess, session: SessionDep
) -> ListResponse[ArtistOut]:
    artists = service.list_artists(session, access=access, event_id=event_id)
    return ListResponse(data=[ArtistOut.of(artist) for artist in artists])


@organizer_router.post("/artists", status_code=201, summary="Add an artist", responses=WRITE_ERRORS)
def create_artist(
    event_id: EventId, body: ArtistIn, access: ManageAccess, session: SessionDep
) -> DataResponse[ArtistOut]:
    artist = service.create_artist(
        session,
        access=access,
        event_id=event_id,
        name=body.name,
        kind=ArtistKind(body.kind),
        bio=body.bio,
        links=[link.model_dump() for link in body.links],
    )
    return DataResponse(data=ArtistOut.of(artist))


@organizer_router.get("/artists/{artist_id}", summary="An artist", responses=READ_ERRORS)
def get_artist(
    event_id: EventId, artist_id: ArtistId, access: ViewAccess, session: SessionDep
) -> DataResponse[ArtistOut]:
    artist = service.get_artist(session, access=access, event_id=event_id, artist_id=artist_id)
    return DataResponse(data=ArtistOut.of(artist))


@organizer_router.patch(
    "/artists/{artist_id}", summary="Change an artist (the fields sent)", responses=WRITE_ERRORS
)
def update_artist(
    event_id: EventId,
    artist_id: ArtistId,
    body: ArtistPatch,
    access: ManageAccess,
    session: SessionDep,
) -> DataResponse[ArtistOut]:
    artist = service.update_artist(
        session,
        access=access,
        event_id=event_id,
        artist_id=artist_id,
        changes=body.artist_changes(),
    )
    return DataResponse(data=ArtistOut.of(artist))


@organizer_router.delete(
    "/artists/{artist_id}",
    status_code=204,
    summary="Delete an artist without slots",
    responses=WRITE_ERRORS,
)
def delete_artist(
    event_id: EventId,
    artist_id: ArtistId,
    access: ManageAccess,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    service.delete_artist(
        session,
        access=access,
        event_id=event_id,
        artist_id=artist_id,
        media_dir=settings.media_dir,
    )
    return Response(status_code=204)


@organizer_router.put(
    "/artists/{artist_id}/image",
    summary="Upload the artist's picture (JPEG, PNG or WebP; multipart field 'file')",
    responses=error_responses(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=IMAGE_BODY,
)
def put_artist_image(
    event_id: EventId,
    artist_id: ArtistId,
    access: ManageAccess,
    session: SessionDep,
    settings: SettingsDep,
    data: Annotated[bytes, Depends(image_upload)],
) -> DataResponse[ArtistOut]:
    artist = service.set_artist_image(
        session,
        access=access,
        event_id=event_id,
        artist_id=artist_id,
        data=data,
        media_dir=settings.media_dir,
        max_bytes=settings.max_image_bytes,
    )
    return DataResponse(data=ArtistOut.of(artist))


@organizer_router.delete(
    "/artists/{artist_id}/image", summary="Remove the artist's picture", responses=WRITE_ERRORS
)
def delete_artist_image(
    event_id: EventId,
    artist_id: ArtistId,
    access: ManageAccess,
    session: SessionDep,
    settings: SettingsDep,
) -> DataResponse[ArtistOut]:
    artist = service.remove_artist_image(
        session,
        access=access,
        event_id=event_id,
        artist_id=artist_id,
        media_dir=settings.media_dir,
    )
    return DataResponse(data=ArtistOut.of(artist))


# --- slots ---------------------------------------------------------------------------------


@organizer_router.get(
    "/slots", summary="The event's slots, by start, every status", responses=READ_ERRORS
)
def list_slots(event_id: EventId, access: ViewAccess, session: SessionDep) -> ListResponse[SlotOut]:
    views = service.list_slots(session, access=access, event_id=event_id)
    zone = _zone(access, session, event_id)
    return ListResponse(data=[SlotOut.of(view, zone) for view in views])


@organizer_router.post(
    "/slots",
    status_code=201,
    summary="Add a slot (a confirmed one overlapping another on its stage: 409 SLOT_OVERLAP)",
    responses=WRITE_ERRORS,
)
def create_slot(
    event_id: EventId, body: SlotIn, access: ManageAccess, session: SessionDep
) -> DataResponse[SlotOut]:
    view = service.create_slot(
        session,
        access=access,
        event_id=event_id,
        stage_id=body.stage_id,
        artist_id=body.artist_id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        status=SlotStatus(body.status),
        changeover_minutes=body.changeover_minutes,
    )
    return DataResponse(data=SlotOut.of(view, _zone(access, session, event_id)))


@organizer_router.get("/slots/{slot_id}", summary="A slot", responses=READ_ERRORS)
def get_slot(
    event_id: EventId, slot_id: SlotId, access: ViewAccess, session: SessionDep
) -> DataResponse[SlotOut]:
    view = service.get_slot(session, access=access, event_id=event_id, slot_id=slot_id)
    return DataResponse(data=SlotOut.of(view, _zone(access, session, event_id)))


@organizer_router.patch(
    "/slots/{slot_id}",
    summary="Change a slot: move, confirm or cancel it (409 SLOT_OVERLAP names the clash)",
    responses=WRITE_ERRORS,
)
def update_slot(
    event_id: EventId, slot_id: SlotId, body: SlotPatch, access: ManageAccess, session: SessionDep
) -> DataResponse[SlotOut]:
    update = service.update_slot(
        session, access=access, event_id=event_id, slot_id=slot_id, changes=body.changes()
    )
    return DataResponse(data=SlotOut.of(update.view, _zone(access, session, event_id)))


@organizer_router.delete(
    "/slots/{slot_id}",
    status_code=204,
    summary="Delete a pending or cancelled slot (a confirmed one is cancelled instead)",
    responses=WRITE_ERRORS,
)
def delete_slot(
    event_id: EventId, slot_id: SlotId, access: ManageAccess, session: SessionDep
) -> Response:
    service.delete_slot(session, access=access, event_id=event_id, slot_id=slot_id)
    return Response(status_code=204)


# --- the public programme ------------------------------------------------------------------


@public_router.get(
    "/events/{event_id}/programme",
    summary="A published event's programme: confirmed slots by day and stage, with artists",
    responses=error_responses(404, 422),
)
def get_programme(event_id: EventId, session: SessionDep) -> DataResponse[ProgrammeOut]:
    programme = service.public_programme(session, event_ref=event_id)
    return DataResponse(data=ProgrammeOut.of(programme))


@public_router.get(
    "/events/{event_id}/artists/{artist_id}",
    summary="An artist of a published event's programme, with its slots",
    responses=error_responses(404, 422),
)
def get_public_artist(
    event_id: EventId, artist_id: ArtistId, session: SessionDep
) -> DataResponse[PublicArtistPageOut]:
    found = service.public_artist(session, event_ref=event_id, artist_id=artist_id)
    return DataResponse(data=PublicArtistPageOut.of(found))


@public_router.get(
    "/slots/{slot_id}/calendar.ics",
    summary="A slot of a programme as an iCalendar entry",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, **error_responses(404, 422)},
)
def get_slot_calendar(slot_id: SlotId, session: SessionDep, settings: SettingsDep) -> Response:
    view, event = service.public_slot(session, slot_id=slot_id)
    url = f"{settings.public_url.rstrip('/')}/events/{event.slug}/programme"
    ics = service.slot_calendar(view, event, url=url)
    return Response(
        ics,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="slot-{view.slot.id}.ics"'},
    )


# --- my schedule ---------------------------------------------------------------------------


@me_router.get(
    "", summary="My starred slots, with those that overlap", responses=error_responses(401, 422)
)
def get_my_schedule(user: CurrentUser, session: SessionDep) -> ListResponse[ScheduleEntryOut]:
    entries = service.my_schedule(session, user=user)
    return ListResponse(data=[ScheduleEntryOut.of(entry) for entry in entries])


@me_router.post(
    "/{slot_id}",
    summary="Star a slot of a programme (twice changes nothing)",
    responses=error_responses(401, 404, 422),
)
def star_slot(slot_id: SlotId, user: CurrentUser, session: SessionDep) -> DataResponse[SlotOut]:
    view, event = service.star_slot(session, user=user, slot_id=slot_id)
    return DataResponse(data=SlotOut.of(view, event.timezone))


@me_router.delete(
    "/{slot_id}",
    status_code=204,
    summary="Unstar a slot (nothing if it was not starred)",
    responses=error_responses(401, 422),
)
def unstar_slot(slot_id: SlotId, user: CurrentUser, session: SessionDep) -> Response:
    service.unstar_slot(session, user=user, slot_id=slot_id)
    return Response(status_code=204)
