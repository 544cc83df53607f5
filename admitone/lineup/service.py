"""The lineup's use cases: stages, artists and slots (the organizer's), the public
programme, and the attendees' own schedules.

**The invariant.** Two confirmed slots of one stage never overlap, each counted from its
start to its end plus its changeover (``Slot.occupied_until``). It is checked under a
lock, not merely before writing: every write that could leave a confirmed slot on a
stage first locks that stage's row (``_lock_stage``: ``SELECT ... FOR NO KEY UPDATE``
on PostgreSQL; on SQLite the write transaction began ``BEGIN IMMEDIATE`` and writers
already take turns), then reads the stage's confirmed slots and refuses a clash
(``SlotOverlap``, naming the other slot). Two confirmations racing for one stage thus
run one after the other, and the second sees the first. Lock order: the slot's own row
(an update), then the stage; nothing else is locked (docs/lineup.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event as CalendarEvent
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from admitone.accounts.models import User
from admitone.authorization import OrgAccess
from admitone.db import insert_once
from admitone.errors import InvalidInput
from admitone.events import images
from admitone.events import queries as event_queries
from admitone.events.errors import EventNotFound
from admitone.events.models import Event, EventStatus
from admitone.jobs import enqueue_after_commit
from admitone.lineup import queries
from admitone.lineup.errors import (
    ArtistHasSlots,
    ArtistNotFound,
    SlotConfirmed,
    SlotNotFound,
    SlotOverlap,
    StageHasSlots,
    StageNameTaken,
    StageNotFound,
)
from admitone.lineup.models import (
    MAX_CHANGEOVER_MINUTES,
    Artist,
    ArtistKind,
    ScheduleStar,
    Slot,
    SlotChange,
    SlotChangeKind,
    SlotStatus,
    Stage,
)

# A slot lasts at most this long, and lies within the event's dates give or take a day.
MAX_SLOT_LENGTH = timedelta(hours=24)
EVENT_MARGIN = timedelta(days=1)
# A festival's day runs past midnight: an act at 01:30 belongs to the evening before.
# The programme's days start at this local hour.
DAY_STARTS_AT_HOUR = 6

NOTICE_JOB = "lineup.send_slot_change_notices"


def _invalid(*problems: tuple[str, str]) -> InvalidInput:
    return InvalidInput(errors=[{"field": name, "message": text} for name, text in problems])


# --- the event and its rows, scoped -------------------------------------------------------


def _event(session: Session, access: OrgAccess, event_id: uuid.UUID) -> Event:
    event = session.scalar(
        event_queries.events_of(access.organization.id).where(Event.id == event_id)
    )
    if event is None:
        raise EventNotFound()
    return event


def _stage(session: Session, access: OrgAccess, event_id: uuid.UUID, stage_id: uuid.UUID) -> Stage:
    stage = session.scalar(
        queries.stages_of(access.organization.id, event_id).where(Stage.id == stage_id)
    )
    if stage is None:
        raise StageNotFound()
    return stage


def _artist(
    session: Session, access: OrgAccess, event_id: uuid.UUID, artist_id: uuid.UUID
) -> Artist:
    artist = session.scalar(
        queries.artists_of(access.organization.id, event_id).where(Artist.id == artist_id)
    )
    if artist is None:
        raise ArtistNotFound()
    return artist


def get_event(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> Event:
    """The organization's event (404 for anyone else's)."""
    return _event(session, access, event_id)


# --- stages --------------------------------------------------------------------------------


def _check_stage_name_free(
    session: Session, *, event_id: uuid.UUID, name: str, stage_id: uuid.UUID | None = None
) -> None:
    # The unique (event_id, name) is the net for two at once (409 CONFLICT); this names it.
    taken = session.scalar(
        select(Stage.id).where(Stage.event_id == event_id, Stage.name == name, Stage.id != stage_id)
    )
    if taken is not None:
        raise StageNameTaken(name=name)


def list_stages(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> list[Stage]:
    """The event's stages, in their order, then by name."""
    _event(session, access, event_id)
    return list(
        session.scalars(
            queries.stages_of(access.organization.id, event_id).order_by(
                Stage.position, Stage.name, Stage.id
            )
        )
    )


def get_stage(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, stage_id: uuid.UUID
) -> Stage:
    _event(session, access, event_id)
    return _stage(session, access, event_id, stage_id)


def create_stage(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    name: str,
    capacity: int | None = None,
    location: str = "",
    position: int = 0,
) -> Stage:
    """A new stage of the event (no lock: nothing scarce)."""
    _event(session, access, event_id)
    _check_stage_name_free(session, event_id=event_id, name=name)
    stage = Stage(
        event_id=event_id, name=name, capacity=capacity, location=location, position=position
    )
    session.add(stage)
    session.flush()
    return stage


def update_stage(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    stage_id: uuid.UUID,
    changes: Mapping[str, Any],
) -> Stage:
    """Rename a stage, change its capacity, location or place in the order."""
    stage = get_stage(session, access=access, event_id=event_id, stage_id=stage_id)
    if "name" in changes:
        _check_stage_name_free(session, event_id=event_id, name=changes["name"], stage_id=stage.id)
    for name, value in changes.items():
        setattr(stage, name, value)
    session.flush()
    return stage


def delete_stage(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, stage_id: uuid.UUID
) -> None:
    """Delete a stage that has no slot (a slot's stage is kept for its record)."""
    stage = get_stage(session, access=access, event_id=event_id, stage_id=stage_id)
    if session.scalar(select(exists().where(Slot.stage_id == stage.id))):
        raise StageHasSlots()
    session.delete(stage)
    session.flush()


# --- artists -------------------------------------------------------------------------------


def list_artists(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> list[Artist]:
    _event(session, access, event_id)
    return list(
        session.scalars(
            queries.artists_of(access.organization.id, event_id).order_by(Artist.name, Artist.id)
        )
    )


def get_artist(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, artist_id: uuid.UUID
) -> Artist:
    _event(session, access, event_id)
    return _artist(session, access, event_id, artist_id)


def create_artist(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    name: str,
    kind: ArtistKind,
    bio: str = "",
    links: list[dict[str, str]] | None = None,
) -> Artist:
    """A new artist of the event (no lock: nothing scarce)."""
    _event(session, access, event_id)
    artist = Artist(event_id=event_id, name=name, kind=kind, bio=bio, links=list(links or []))
    session.add(artist)
    session.flush()
    return artist


def update_artist(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    artist_id: uuid.UUID,
    changes: Mapping[str, Any],
) -> Artist:
    artist = get_artist(session, access=access, event_id=event_id, artist_id=artist_id)
    for name, value in changes.items():
        setattr(artist, name, list(value) if name == "links" else value)
    session.flush()
    return artist


def delete_artist(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    artist_id: uuid.UUID,
    media_dir: Path,
) -> None:
    """Delete an artist that has no slot; its image goes once the change commits."""
    artist = get_artist(session, access=access, event_id=event_id, artist_id=artist_id)
    if session.scalar(select(exists().where(Slot.artist_id == artist.id))):
        raise ArtistHasSlots()
    if artist.image_path:
        images.delete_image_after_commit(session, relative=artist.image_path, media_dir=media_dir)
    session.delete(artist)
    session.flush()


def set_artist_image(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    artist_id: uuid.UUID,
    data: bytes,
    media_dir: Path,
    max_bytes: int,
) -> Artist:
    """Store a checked JPEG, PNG or WebP as the artist's picture, as an event's image is
    (events/images.py: checked with Pillow, tied to the transaction)."""
    artist = get_artist(session, access=access, event_id=event_id, artist_id=artist_id)
    extension = images.check_image(data, max_bytes=max_bytes)
    old_path = artist.image_path
    artist.image_path = images.store_image(
        session, data=data, extension=extension, media_dir=media_dir
    )
    session.flush()
    if old_path:
        images.delete_image_after_commit(session, relative=old_path, media_dir=media_dir)
    return artist


def remove_artist_image(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    artist_id: uuid.UUID,
    media_dir: Path,
) -> Artist:
    artist = get_artist(session, access=access, event_id=event_id, artist_id=artist_id)
    if artist.image_path:
        images.delete_image_after_commit(session, relative=artist.image_path, media_dir=media_dir)
        artist.image_path = None
        session.flush()
    return artist


# --- slots ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlotView:
    """A slot with its stage and artist (what every answer about a slot shows)."""

    slot: Slot
    stage: Stage
    artist: Artist


@dataclass(frozen=True, slots=True)
class SlotUpdate:
    """What an update did: the slot now, and the change attendees hear of (a confirmed
    slot moved or left the programme), or None. The seam for live updates: whoever
    pushes slot changes reads ``change``."""

    view: SlotView
    change: SlotChange | None


def _view(session: Session, slot: Slot) -> SlotView:
    stage = session.get(Stage, slot.stage_id)
    artist = session.get(Artist, slot.artist_id)
    assert stage is not None and artist is not None  # foreign keys
    return SlotView(slot, stage, artist)


def list_slots(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> list[SlotView]:
    """The event's slots, by start, with their stage and artist."""
    _event(session, access, event_id)
    rows = session.execute(
        queries.slots_of(access.organization.id, event_id)
        .add_columns(Stage, Artist)
        .join(Stage, Stage.id == Slot.stage_id)
        .join(Artist, Artist.id == Slot.artist_id)
        .order_by(Slot.starts_at, Stage.position, Stage.name, Slot.id)
    )
    return [SlotView(slot, stage, artist) for slot, stage, artist in rows]


def get_slot(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, slot_id: uuid.UUID
) -> SlotView:
    _event(session, access, event_id)
    slot = session.scalar(
        queries.slots_of(access.organization.id, event_id).where(Slot.id == slot_id)
    )
    if slot is None:
        raise SlotNotFound()
    return _view(session, slot)


def _check_times(
    event: Event, *, starts_at: datetime, ends_at: datetime, changeover_minutes: int
) -> None:
    """Times within reason: the end after the start, at most a day long, within the
    event's dates give or take a day. Every problem at once, each naming its field."""
    problems: list[tuple[str, str]] = []
    if ends_at <= starts_at:
        problems.append(("ends_at", "must be after the start"))
    elif ends_at - starts_at > MAX_SLOT_LENGTH:
        problems.append(("ends_at", "a slot lasts at most 24 hours"))
    if starts_at < event.starts_at - EVENT_MARGIN or starts_at > event.ends_at + EVENT_MARGIN:
        problems.append(("starts_at", "must be within the event's dates (a day either side)"))
    if ends_at > event.ends_at + EVENT_MARGIN:
        problems.append(("ends_at", "must be within the event's dates (a day either side)"))
    if not 0 <= changeover_minutes <= MAX_CHANGEOVER_MINUTES:
        problems.append(("changeover_minutes", f"must be 0 to {MAX_CHANGEOVER_MINUTES}"))
    if problems:
        raise _invalid(*problems)


def _lock_stage(session: Session, stage_id: uuid.UUID) -> None:
    """Take the stage's row lock until commit: overlap checks of one stage take turns.

    ``FOR NO KEY UPDATE`` conflicts with itself, not with the ``KEY SHARE`` lock a slot
    insert takes on its stage through the foreign key (docs/locking.md says why that
    matters). SQLite ignores it: its write transactions already run one at a time."""
    session.execute(
        select(Stage.id).where(Stage.id == stage_id).with_for_update(key_share=True)
    ).first()


def _clash(session: Session, *, slot: Slot) -> SlotView | None:
    """The first confirmed slot of ``slot``'s stage that overlaps it, changeovers
    counted (each occupies [start, end + changeover)); None if none. Call under the
    stage's lock."""
    until = slot.occupied_until
    # Candidates: starting before this one is over, ending after it starts (minus the
    # longest changeover, which the exact test below then counts).
    rows = session.execute(
        select(Slot, Stage, Artist)
        .join(Stage, Stage.id == Slot.stage_id)
        .join(Artist, Artist.id == Slot.artist_id)
        .where(
            Slot.stage_id == slot.stage_id,
            Slot.status == SlotStatus.confirmed,
            Slot.id != slot.id,
            Slot.starts_at < until,
            Slot.ends_at > slot.starts_at - timedelta(minutes=MAX_CHANGEOVER_MINUTES),
        )
        .order_by(Slot.starts_at, Slot.id)
        .execution_options(populate_existing=True)
    )
    for other, stage, artist in rows:
        if other.starts_at < until and slot.starts_at < other.occupied_until:
            return SlotView(other, stage, artist)
    return None


def _refuse_overlap(session: Session, *, slot: Slot) -> None:
    """Lock the stage, then refuse ``slot`` (confirmed) if it clashes."""
    _lock_stage(session, slot.stage_id)
    other = _clash(session, slot=slot)
    if other is not None:
        raise SlotOverlap(other=_describe(other))


def _describe(view: SlotView) -> dict[str, Any]:
    slot = view.slot
    return {
        "slot_id": str(slot.id),
        "artist_id": str(view.artist.id),
        "artist": view.artist.name,
        "stage_id": str(view.stage.id),
        "stage": view.stage.name,
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
        "changeover_minutes": slot.changeover_minutes,
    }


def create_slot(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    stage_id: uuid.UUID,
    artist_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    status: SlotStatus = SlotStatus.pending,
    changeover_minutes: int = 0,
) -> SlotView:
    """A new slot; a confirmed one is checked against its stage under the stage's lock
    (``SlotOverlap`` names the slot it would overlap)."""
    event = _event(session, access, event_id)
    stage = _stage(session, access, event_id, stage_id)
    artist = _artist(session, access, event_id, artist_id)
    _check_times(event, starts_at=starts_at, ends_at=ends_at, changeover_minutes=changeover_minutes)
    slot = Slot(
        id=uuid.uuid4(),
        event_id=event.id,
        stage_id=stage.id,
        artist_id=artist.id,
        starts_at=starts_at,
        ends_at=ends_at,
        status=status,
        changeover_minutes=changeover_minutes,
    )
    if status == SlotStatus.confirmed:
        _refuse_overlap(session, slot=slot)
    session.add(slot)
    session.flush()
    return SlotView(slot, stage, artist)


SLOT_FIELDS = frozenset(
    {"stage_id", "artist_id", "starts_at", "ends_at", "status", "changeover_minutes"}
)


def update_slot(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    slot_id: uuid.UUID,
    changes: Mapping[str, Any],
) -> SlotUpdate:
    """Change a slot (the fields given): move it, confirm or cancel it.

    Locks the slot's row, then, if it ends up confirmed, its stage (the overlap check).
    A confirmed slot that moves (times or stage) or leaves the programme records a
    ``SlotChange`` and, after commit, the notices to those who starred it."""
    event = _event(session, access, event_id)
    slot = session.scalar(
        queries.slots_of(access.organization.id, event_id)
        .where(Slot.id == slot_id)
        .with_for_update(key_share=True, of=Slot)
        .execution_options(populate_existing=True)
    )
    if slot is None:
        raise SlotNotFound()
    unknown = set(changes) - SLOT_FIELDS
    if unknown:
        raise ValueError(f"not a slot's field: {sorted(unknown)}")  # a bug, never input
    before = (slot.status, slot.stage_id, slot.starts_at, slot.ends_at)
    stage_id = changes.get("stage_id", slot.stage_id)
    artist_id = changes.get("artist_id", slot.artist_id)
    _stage(session, access, event_id, stage_id)
    _artist(session, access, event_id, artist_id)
    starts_at = changes.get("starts_at", slot.starts_at)
    ends_at = changes.get("ends_at", slot.ends_at)
    changeover = changes.get("changeover_minutes", slot.changeover_minutes)
    _check_times(event, starts_at=starts_at, ends_at=ends_at, changeover_minutes=changeover)
    for name, value in changes.items():
        setattr(slot, name, value)
    if slot.status == SlotStatus.confirmed:
        # Not flushed yet: the check reads the others, never this slot's new values.
        with session.no_autoflush:
            _refuse_overlap(session, slot=slot)
    session.flush()
    change = _record_change(session, slot, before)
    return SlotUpdate(_view(session, slot), change)


def _record_change(
    session: Session, slot: Slot, before: tuple[SlotStatus, uuid.UUID, datetime, datetime]
) -> SlotChange | None:
    status, stage_id, starts_at, ends_at = before
    if status != SlotStatus.confirmed:
        return None  # not on the programme before: nobody starred it
    if slot.status != SlotStatus.confirmed:
        kind = SlotChangeKind.cancelled
    elif (slot.stage_id, slot.starts_at, slot.ends_at) != (stage_id, starts_at, ends_at):
        kind = SlotChangeKind.moved
    else:
        return None
    change = SlotChange(
        slot_id=slot.id,
        kind=kind,
        old_stage_id=stage_id,
        old_starts_at=starts_at,
        old_ends_at=ends_at,
    )
    session.add(change)
    session.flush()
    enqueue_after_commit(session, NOTICE_JOB, change_id=str(change.id))
    return change


def delete_slot(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, slot_id: uuid.UUID
) -> None:
    """Delete a pending or cancelled slot; a confirmed one is cancelled instead (so
    those who starred it are told)."""
    view = get_slot(session, access=access, event_id=event_id, slot_id=slot_id)
    if view.slot.status == SlotStatus.confirmed:
        raise SlotConfirmed()
    session.delete(view.slot)
    session.flush()


# --- the public programme ------------------------------------------------------------------


def programme_day(moment: datetime, timezone: str) -> date:
    """The festival day a moment belongs to: local days start at DAY_STARTS_AT_HOUR."""
    local = moment.astimezone(ZoneInfo(timezone))
    return (local - timedelta(hours=DAY_STARTS_AT_HOUR)).date()


@dataclass(frozen=True)
class StageSlots:
    stage: Stage
    slots: list[SlotView]


@dataclass(frozen=True)
class ProgrammeDay:
    day: date
    stages: list[StageSlots]
    starts_at: datetime  # the day's first start and last end (a timetable's span)
    ends_at: datetime


@dataclass(frozen=True)
class Programme:
    event: Event
    days: list[ProgrammeDay]
    artists: list[Artist] = field(default_factory=list)


def _public_event(session: Session, event_ref: uuid.UUID | str) -> Event:
    statement = select(Event).where(Event.status == EventStatus.published)
    if isinstance(event_ref, uuid.UUID):
        statement = statement.where(Event.id == event_ref)
    else:
        statement = statement.where(Event.slug == event_ref)
    event = session.scalar(statement)
    if event is None:
        raise EventNotFound()
    return event


def _public_views(session: Session, event_id: uuid.UUID) -> list[SlotView]:
    rows = session.execute(
        queries.public_slots()
        .where(Slot.event_id == event_id)
        .order_by(Slot.starts_at, Stage.position, Stage.name, Slot.id)
    )
    return [SlotView(slot, stage, artist) for slot, stage, artist, _event in rows]


def group_by_day(views: list[SlotView], timezone: str) -> list[ProgrammeDay]:
    """Slots by festival day, then by stage (in the stages' order): a timetable."""
    by_day: dict[date, dict[uuid.UUID, StageSlots]] = {}
    for view in views:
        day = programme_day(view.slot.starts_at, timezone)
        stages = by_day.setdefault(day, {})
        stages.setdefault(view.stage.id, StageSlots(view.stage, [])).slots.append(view)
    days = []
    for day in sorted(by_day):
        ordered = sorted(by_day[day].values(), key=lambda s: (s.stage.position, s.stage.name))
        day_views = [v for s in ordered for v in s.slots]
        days.append(
            ProgrammeDay(
                day=day,
                stages=ordered,
                starts_at=min(v.slot.starts_at for v in day_views),
                ends_at=max(v.slot.ends_at for v in day_views),
            )
        )
    return days


def public_programme(session: Session, *, event_ref: uuid.UUID | str) -> Programme:
    """A published event's confirmed slots by day and stage, with their artists (by
    name). Drafts and cancelled events: not found."""
    event = _public_event(session, event_ref)
    views = _public_views(session, event.id)
    artists = sorted({v.artist.id: v.artist for v in views}.values(), key=lambda a: a.name)
    return Programme(event=event, days=group_by_day(views, event.timezone), artists=artists)


def has_programme(session: Session, *, event_id: uuid.UUID) -> bool:
    """Whether the event shows a programme (a confirmed slot; the event's status is the
    caller's to know)."""
    return bool(
        session.scalar(
            select(exists().where(Slot.event_id == event_id, Slot.status == SlotStatus.confirmed))
        )
    )


@dataclass(frozen=True)
class PublicArtist:
    event: Event
    artist: Artist
    slots: list[SlotView]


def public_artist(
    session: Session, *, event_ref: uuid.UUID | str, artist_id: uuid.UUID
) -> PublicArtist:
    """An artist of a published event with its confirmed slots; an artist with none is
    not public (404)."""
    event = _public_event(session, event_ref)
    views = [v for v in _public_views(session, event.id) if v.artist.id == artist_id]
    if not views:
        raise ArtistNotFound()
    return PublicArtist(event, views[0].artist, views)


def public_slot(session: Session, *, slot_id: uuid.UUID) -> tuple[SlotView, Event]:
    """A confirmed slot of a published event (its calendar file, a star)."""
    row = session.execute(queries.public_slots().where(Slot.id == slot_id)).first()
    if row is None:
        raise SlotNotFound()
    slot, stage, artist, event = row
    return SlotView(slot, stage, artist), event


# --- my schedule ---------------------------------------------------------------------------


def star_slot(session: Session, *, user: User, slot_id: uuid.UUID) -> tuple[SlotView, Event]:
    """Put a public slot in the user's schedule (starring twice changes nothing)."""
    view, event = public_slot(session, slot_id=slot_id)
    insert_once(session, ScheduleStar, {"user_id": user.id, "slot_id": view.slot.id})
    return view, event


def unstar_slot(session: Session, *, user: User, slot_id: uuid.UUID) -> None:
    """Take a slot out of the user's schedule (nothing if it was not in it)."""
    session.execute(
        delete(ScheduleStar).where(ScheduleStar.user_id == user.id, ScheduleStar.slot_id == slot_id)
    )


@dataclass(frozen=True)
class ScheduleEntry:
    view: SlotView
    event: Event
    # Other starred slots this one overlaps (the attendee cannot be at both).
    clashes_with: list[uuid.UUID]


def my_schedule(
    session: Session, *, user: User, event_id: uuid.UUID | None = None
) -> list[ScheduleEntry]:
    """The user's starred slots still on a programme (confirmed, published), by start,
    each with the starred slots it overlaps (plain times, no changeover: an attendee
    needs no stage clearing)."""
    statement = (
        queries.public_slots()
        .join(ScheduleStar, ScheduleStar.slot_id == Slot.id)
        .where(ScheduleStar.user_id == user.id)
        .order_by(Slot.starts_at, Stage.position, Stage.name, Slot.id)
    )
    if event_id is not None:
        statement = statement.where(Slot.event_id == event_id)
    rows = [(SlotView(s, st, a), e) for s, st, a, e in session.execute(statement)]
    entries = []
    for view, event in rows:
        clashes = [
            other.slot.id
            for other, _ in rows
            if other.slot.id != view.slot.id
            and other.slot.starts_at < view.slot.ends_at
            and view.slot.starts_at < other.slot.ends_at
        ]
        entries.append(ScheduleEntry(view, event, clashes))
    return entries


def starred_slot_ids(session: Session, *, user: User, event_id: uuid.UUID) -> set[uuid.UUID]:
    return set(
        session.scalars(
            select(ScheduleStar.slot_id)
            .join(Slot, Slot.id == ScheduleStar.slot_id)
            .where(ScheduleStar.user_id == user.id, Slot.event_id == event_id)
        )
    )


# --- calendar files ------------------------------------------------------------------------


def slot_calendar(view: SlotView, event: Event, *, url: str) -> bytes:
    """One VEVENT for a slot (UTC times; the stage and venue as LOCATION). The UID is
    the slot's, so a re-download after a move updates the same calendar entry."""
    calendar = Calendar()
    calendar.add("prodid", "-//Admit One//admitone//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", f"slot-{view.slot.id}@admitone")
    entry.add("summary", f"{view.artist.name} ({event.title})")
    entry.add("dtstart", view.slot.starts_at)
    entry.add("dtend", view.slot.ends_at)
    entry.add("dtstamp", view.slot.updated_at)
    location = ", ".join(
        part
        for part in (view.stage.name, view.stage.location, event.venue_name, event.city)
        if part
    )
    entry.add("location", location)
    entry.add("url", url)
    calendar.add_component(entry)
    return calendar.to_ical()
