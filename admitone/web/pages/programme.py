"""The public programme of an event (issue 18): a timetable by day and stage that reads
well on a phone (a column per stage, the columns scroll sideways on a narrow screen),
the artist pages, each slot's calendar file (the API's), and for a logged-in attendee
the stars of "my schedule", with a warning when two starred slots overlap.

The pages call the lineup services exactly as the JSON API does.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import Response

from admitone.deps import SessionDep
from admitone.lineup import service
from admitone.web.deps import Form, OptionalLogin, RequiredLogin, page_router
from admitone.web.pages.accounts import redirect
from admitone.web.templating import render

router = page_router()

Slug = Annotated[str, Path(max_length=100)]
SlotId = Annotated[uuid.UUID, Path()]
ArtistId = Annotated[uuid.UUID, Path()]


@router.get("/events/{slug}/programme")
def programme_page(
    request: Request, session: SessionDep, login: OptionalLogin, slug: Slug
) -> Response:
    programme = service.public_programme(session, event_ref=slug)
    event = programme.event
    starred: set[uuid.UUID] = set()
    schedule: list[service.ScheduleEntry] = []
    if login is not None:
        schedule = service.my_schedule(session, user=login.user, event_id=event.id)
        starred = {entry.view.slot.id for entry in schedule}
    names = {entry.view.slot.id: entry.view.artist.name for entry in schedule}
    clashes = [
        (entry.view.artist.name, [names[other] for other in entry.clashes_with])
        for entry in schedule
        if entry.clashes_with
    ]
    return render(
        request,
        "programme/programme.html",
        {
            "event": event,
            "programme": programme,
            "starred": starred,
            "schedule": schedule,
            "clashes": clashes,
        },
        compressible=login is None,
    )


@router.get("/events/{slug}/artists/{artist_id}")
def artist_page(request: Request, session: SessionDep, slug: Slug, artist_id: ArtistId) -> Response:
    found = service.public_artist(session, event_ref=slug, artist_id=artist_id)
    return render(
        request,
        "programme/artist.html",
        {"event": found.event, "artist": found.artist, "slots": found.slots},
        compressible=True,
    )


@router.post("/events/{slug}/programme/{slot_id}/star")
def star(
    form: Form, session: SessionDep, login: RequiredLogin, slug: Slug, slot_id: SlotId
) -> Response:
    service.star_slot(session, user=login.user, slot_id=slot_id)
    return redirect(f"/events/{slug}/programme#slot-{slot_id}")


@router.post("/events/{slug}/programme/{slot_id}/unstar")
def unstar(
    form: Form, session: SessionDep, login: RequiredLogin, slug: Slug, slot_id: SlotId
) -> Response:
    service.unstar_slot(session, user=login.user, slot_id=slot_id)
    return redirect(f"/events/{slug}/programme#slot-{slot_id}")
