"""Scoped statements of the lineup: every lookup of a stage, an artist or a slot by id
goes through one of these. The organizer's are scoped to the caller's organization and
the event of the path (another's is not found, 404); the public ones see only confirmed
slots of published events."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select

from admitone.events.models import Event, EventStatus
from admitone.lineup.models import Artist, Slot, SlotStatus, Stage


def stages_of(organization_id: uuid.UUID, event_id: uuid.UUID) -> Select[Stage]:
    return (
        select(Stage)
        .join(Event, Event.id == Stage.event_id)
        .where(Event.organization_id == organization_id, Stage.event_id == event_id)
    )


def artists_of(organization_id: uuid.UUID, event_id: uuid.UUID) -> Select[Artist]:
    return (
        select(Artist)
        .join(Event, Event.id == Artist.event_id)
        .where(Event.organization_id == organization_id, Artist.event_id == event_id)
    )


def slots_of(organization_id: uuid.UUID, event_id: uuid.UUID) -> Select[Slot]:
    return (
        select(Slot)
        .join(Event, Event.id == Slot.event_id)
        .where(Event.organization_id == organization_id, Slot.event_id == event_id)
    )


def public_slots() -> Select[Slot, Stage, Artist, Event]:
    """Confirmed slots of published events, with their stage, artist and event."""
    return (
        select(Slot, Stage, Artist, Event)
        .join(Stage, Stage.id == Slot.stage_id)
        .join(Artist, Artist.id == Slot.artist_id)
        .join(Event, Event.id == Slot.event_id)
        .where(Slot.status == SlotStatus.confirmed, Event.status == EventStatus.published)
    )
