"""Request and response shapes of the lineup and the public programme."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field, StringConstraints

from admitone.events.schemas import EventTime, PatchModel, Position
from admitone.lineup.models import MAX_CHANGEOVER_MINUTES, Artist, ArtistKind, SlotStatus
from admitone.lineup.service import Programme, PublicArtist, ScheduleEntry, SlotView
from admitone.schemas import InputModel, OneLine, OutputModel, ShortText, StrictInt

StageName = Annotated[str, StringConstraints(min_length=1, max_length=100), OneLine]
Location = Annotated[str, StringConstraints(max_length=200), OneLine]
StageCapacity = Annotated[StrictInt, Field(ge=0, le=10_000_000)]
Bio = Annotated[str, StringConstraints(max_length=2000)]
LinkLabel = Annotated[str, StringConstraints(min_length=1, max_length=50), OneLine]
LinkUrl = Annotated[
    str, StringConstraints(min_length=8, max_length=500, pattern=r"^https?://[^\s<>\"]+$")
]
Changeover = Annotated[StrictInt, Field(ge=0, le=MAX_CHANGEOVER_MINUTES)]


class LinkIn(InputModel):
    label: LinkLabel = Field(examples=["Website"])
    url: LinkUrl = Field(examples=["https://example.com"])


class LinkOut(OutputModel):
    label: str
    url: str


# --- stages --------------------------------------------------------------------------------


class StageIn(InputModel):
    name: StageName = Field(examples=["Main stage"])
    capacity: StageCapacity | None = Field(default=None, examples=[5000])
    location: Location = Field(default="", examples=["North field, by the lake"])
    position: Position = 0


class StagePatch(PatchModel):
    nullable: ClassVar[frozenset[str]] = frozenset({"capacity"})

    name: StageName | None = None
    capacity: StageCapacity | None = None
    location: Location | None = None
    position: Position | None = None


class StageOut(OutputModel):
    id: uuid.UUID
    event_id: uuid.UUID
    name: str
    capacity: int | None
    location: str
    position: int


# --- artists -------------------------------------------------------------------------------


class ArtistIn(InputModel):
    name: ShortText = Field(examples=["The Night Owls"])
    kind: ArtistKind = Field(examples=["band"])
    bio: Bio = Field(default="", description="A short biography (plain text)")
    links: list[LinkIn] = Field(default_factory=list, max_length=10)


class ArtistPatch(PatchModel):
    name: ShortText | None = None
    kind: ArtistKind | None = None
    bio: Bio | None = None
    links: list[LinkIn] | None = Field(default=None, max_length=10)

    def artist_changes(self) -> dict[str, object]:
        changes = self.changes()
        if "links" in changes:
            changes["links"] = [link.model_dump() for link in self.links or []]
        return changes


class ArtistOut(OutputModel):
    id: uuid.UUID
    event_id: uuid.UUID
    name: str
    kind: ArtistKind
    bio: str
    image_url: str | None
    links: list[LinkOut]

    @classmethod
    def of(cls, artist: Artist) -> ArtistOut:
        return cls(
            id=artist.id,
            event_id=artist.event_id,
            name=artist.name,
            kind=artist.kind,
            bio=artist.bio,
            image_url=f"/media/{artist.image_path}" if artist.image_path else None,
            links=[LinkOut(**link) for link in artist.links or []],
        )


# --- slots ---------------------------------------------------------------------------------


class SlotIn(InputModel):
    stage_id: uuid.UUID
    artist_id: uuid.UUID
    starts_at: EventTime = Field(examples=["2026-07-10T21:00:00+02:00"])
    ends_at: EventTime = Field(examples=["2026-07-10T22:30:00+02:00"])
    status: SlotStatus = SlotStatus.pending
    changeover_minutes: Changeover = Field(
        default=0, description="The stage is kept free this long after the end"
    )


class SlotPatch(PatchModel):
    stage_id: uuid.UUID | None = None
    artist_id: uuid.UUID | None = None
    starts_at: EventTime | None = None
    ends_at: EventTime | None = None
    status: SlotStatus | None = None
    changeover_minutes: Changeover | None = None


class SlotStageOut(OutputModel):
    id: uuid.UUID
    name: str


class SlotArtistOut(OutputModel):
    id: uuid.UUID
    name: str
    kind: ArtistKind


class SlotOut(OutputModel):
    id: uuid.UUID
    event_id: uuid.UUID
    stage: SlotStageOut
    artist: SlotArtistOut
    starts_at: datetime = Field(description="At the event's offset")
    ends_at: datetime
    status: SlotStatus
    changeover_minutes: int

    @classmethod
    def of(cls, view: SlotView, timezone: str) -> SlotOut:
        zone = ZoneInfo(timezone)
        slot = view.slot
        return cls(
            id=slot.id,
            event_id=slot.event_id,
            stage=SlotStageOut(id=view.stage.id, name=view.stage.name),
            artist=SlotArtistOut(id=view.artist.id, name=view.artist.name, kind=view.artist.kind),
            starts_at=slot.starts_at.astimezone(zone),
            ends_at=slot.ends_at.astimezone(zone),
            status=slot.status,
            changeover_minutes=slot.changeover_minutes,
        )


# --- the public programme ------------------------------------------------------------------


class ProgrammeSlotOut(OutputModel):
    id: uuid.UUID
    artist_id: uuid.UUID
    artist: str
    starts_at: datetime
    ends_at: datetime
    calendar_url: str


class ProgrammeStageOut(OutputModel):
    id: uuid.UUID
    name: str
    location: str
    slots: list[ProgrammeSlotOut]


class ProgrammeDayOut(OutputModel):
    day: date = Field(description="The festival day (local; a day runs until 6:00 next morning)")
    stages: list[ProgrammeStageOut]


class PublicArtistOut(OutputModel):
    id: uuid.UUID
    name: str
    kind: ArtistKind
    bio: str
    image_url: str | None
    links: list[LinkOut]


class ProgrammeOut(OutputModel):
    event_id: uuid.UUID
    timezone: str
    days: list[ProgrammeDayOut]
    artists: list[PublicArtistOut]

    @classmethod
    def of(cls, programme: Programme) -> ProgrammeOut:
        event = programme.event
        zone = ZoneInfo(event.timezone)
        return cls(
            event_id=event.id,
            timezone=event.timezone,
            days=[
                ProgrammeDayOut(
                    day=day.day,
                    stages=[
                        ProgrammeStageOut(
                            id=group.stage.id,
                            name=group.stage.name,
                            location=group.stage.location,
                            slots=[
                                ProgrammeSlotOut(
                                    id=v.slot.id,
                                    artist_id=v.artist.id,
                                    artist=v.artist.name,
                                    starts_at=v.slot.starts_at.astimezone(zone),
                                    ends_at=v.slot.ends_at.astimezone(zone),
                                    calendar_url=f"/api/v1/slots/{v.slot.id}/calendar.ics",
                                )
                                for v in group.slots
                            ],
                        )
                        for group in day.stages
                    ],
                )
                for day in programme.days
            ],
            artists=[public_artist_out(artist) for artist in programme.artists],
        )


def public_artist_out(artist: Artist) -> PublicArtistOut:
    full = ArtistOut.of(artist)
    return PublicArtistOut(**full.model_dump(exclude={"event_id"}))


class PublicArtistPageOut(OutputModel):
    artist: PublicArtistOut
    slots: list[SlotOut]

    @classmethod
    def of(cls, found: PublicArtist) -> PublicArtistPageOut:
        return cls(
            artist=public_artist_out(found.artist),
            slots=[SlotOut.of(v, found.event.timezone) for v in found.slots],
        )


class ScheduleEntryOut(OutputModel):
    slot: SlotOut
    event_id: uuid.UUID
    clashes_with: list[uuid.UUID] = Field(
        description="Other starred slots at the same time: you cannot be at both"
    )

    @classmethod
    def of(cls, entry: ScheduleEntry) -> ScheduleEntryOut:
        return cls(
            slot=SlotOut.of(entry.view, entry.event.timezone),
            event_id=entry.event.id,
            clashes_with=entry.clashes_with,
        )
