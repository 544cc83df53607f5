"""Request and response shapes for events, ticket types and the public catalogue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)
from pydantic import StringConstraints as Str

from admitone.events import validators
from admitone.events.models import (
    MAX_OFFLINE_TICKET_LIMIT,
    OFFLINE_TICKET_LIMIT,
    Category,
    EventStatus,
)
from admitone.schemas import (
    InputModel,
    LongText,
    MoneyMinor,
    OneLine,
    OutputModel,
    ShortText,
    Slug,
    StrictInt,
)

CountryCode = Annotated[str, Str(min_length=2, max_length=2), AfterValidator(validators.country)]
CurrencyCode = Annotated[str, Str(min_length=3, max_length=3), AfterValidator(validators.currency)]
TimeZoneName = Annotated[
    str, Str(min_length=1, max_length=64), AfterValidator(validators.time_zone)
]
EventSlug = Annotated[Slug, AfterValidator(validators.event_slug)]
EventTime = Annotated[
    AwareDatetime,
    BeforeValidator(validators.iso_string),
    AfterValidator(validators.aware_datetime),
]
VenueAddress = Annotated[str, Str(max_length=300), OneLine]
City = Annotated[str, Str(min_length=1, max_length=100), OneLine]
Capacity = Annotated[StrictInt, Field(ge=0, le=1_000_000)]
PerOrder = Annotated[StrictInt, Field(ge=1, le=100)]
# Tickets of a type one buyer may have across orders (paid and held); null: no limit.
PerBuyer = Annotated[StrictInt, Field(ge=1, le=10_000)]
Position = Annotated[StrictInt, Field(ge=0, le=10_000)]
# VAT included in the price, in basis points: 2000 is 20 %, 550 is 5.5 %.
VatRate = Annotated[StrictInt, Field(ge=0, le=10_000)]
OFFLINE_TICKET_LIMIT_DESCRIPTION = (
    "Gate devices download every ticket of the event, with its holder's name, while the "
    "event has at most this many tickets; above it, only the revoked ones (0: never)."
)
ASK_ATTENDEE_NAMES_DESCRIPTION = (
    "Ask for each attendee's name: the buyer sets the name of each ticket "
    "(PATCH /orders/{order_id}/tickets/{ticket_id}); off, tickets carry the buyer's name"
)


class EventsInput(InputModel):
    """Input of this package: no NUL character in any text (PostgreSQL refuses them)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class PatchModel(EventsInput):
    """A partial update: a field left out is unchanged; ``null`` only where it means "none"."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> PatchModel:
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in self.nullable:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


# --- events -------------------------------------------------------------------------


class VenueIn(EventsInput):
    name: ShortText = Field(examples=["La Cigale"])
    address: VenueAddress = Field(default="", examples=["120 boulevard de Rochechouart"])
    city: City = Field(examples=["Paris"])
    country: CountryCode = Field(examples=["FR"])


# Venue field -> Event column.
VENUE_COLUMNS = {
    "name": "venue_name",
    "address": "venue_address",
    "city": "city",
    "country": "country",
}


class VenuePatch(PatchModel):
    name: ShortText | None = None
    address: VenueAddress | None = None
    city: City | None = None
    country: CountryCode | None = None


def _check_order(start: datetime | None, end: datetime | None, message: str) -> None:
    if start is not None and end is not None and end <= start:
        raise ValueError(message)


class EventIn(EventsInput):
    title: ShortText = Field(examples=["Nightfall: live at La Cigale"])
    slug: EventSlug | None = Field(
        default=None, description="Public address /events/{slug}; generated from the title"
    )
    description: LongText = ""
    category: Category
    venue: VenueIn
    starts_at: EventTime = Field(examples=["2026-06-21T20:00:00+02:00"])
    ends_at: EventTime = Field(examples=["2026-06-21T23:30:00+02:00"])
    timezone: TimeZoneName = Field(examples=["Europe/Paris"])
    currency: CurrencyCode = Field(examples=["EUR"])
    ask_attendee_names: StrictBool = Field(
        default=False, description=ASK_ATTENDEE_NAMES_DESCRIPTION
    )
    offline_ticket_limit: StrictInt = Field(
        default=OFFLINE_TICKET_LIMIT,
        ge=0,
        le=MAX_OFFLINE_TICKET_LIMIT,
        description=OFFLINE_TICKET_LIMIT_DESCRIPTION,
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> EventIn:
        _check_order(self.starts_at, self.ends_at, "ends_at must be after starts_at")
        return self

    def service_values(self) -> dict[str, Any]:
        """The keyword arguments of ``events.service.create_event`` (venue flattened)."""
        values = self.model_dump(exclude={"venue"})
        values.update(
            venue_name=self.venue.name,
            venue_address=self.venue.address,
            city=self.venue.city,
            country=self.venue.country,
        )
        return values


class EventPatch(PatchModel):
    title: ShortText | None = None
    slug: EventSlug | None = None
    description: LongText | None = None
    category: Category | None = None
    venue: VenuePatch | None = None
    starts_at: EventTime | None = None
    ends_at: EventTime | None = None
    timezone: TimeZoneName | None = None
    currency: CurrencyCode | None = None
    ask_attendee_names: StrictBool | None = Field(
        default=None, description=ASK_ATTENDEE_NAMES_DESCRIPTION
    )
    offline_ticket_limit: StrictInt | None = Field(
        default=None,
        ge=0,
        le=MAX_OFFLINE_TICKET_LIMIT,
        description=OFFLINE_TICKET_LIMIT_DESCRIPTION,
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> EventPatch:
        # Only when both are given; the service checks the merged result.
        _check_order(self.starts_at, self.ends_at, "ends_at must be after starts_at")
        return self

    def changes(self) -> dict[str, Any]:
        """Flat model attribute names (the venue is nested here, flat in the table)."""
        changes = super().changes()
        venue = changes.pop("venue", None)
        if venue is not None:
            for key, value in venue.changes().items():
                changes[VENUE_COLUMNS[key]] = value
        return changes


class VenueOut(OutputModel):
    name: str
    address: str
    city: str
    country: str


class TicketTypeOut(OutputModel):
    id: uuid.UUID
    event_id: uuid.UUID
    name: str
    description: str
    price_minor: int
    vat_rate_bp: int
    capacity: int
    quantity_sold: int
    quantity_held: int
    available: int
    sales_start: datetime | None
    sales_end: datetime | None
    min_per_order: int
    max_per_order: int
    max_per_buyer: int | None
    is_active: bool
    position: int
    created_at: datetime
    updated_at: datetime


class EventOut(OutputModel):
    id: uuid.UUID
    organization_slug: str
    slug: str
    title: str
    description: str
    category: Category
    venue: VenueOut
    starts_at: datetime
    ends_at: datetime
    timezone: str
    currency: str
    ask_attendee_names: bool = Field(description=ASK_ATTENDEE_NAMES_DESCRIPTION)
    offline_ticket_limit: int = Field(description=OFFLINE_TICKET_LIMIT_DESCRIPTION)
    image_url: str | None
    status: EventStatus
    published_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    ticket_types: list[TicketTypeOut]


# --- ticket types -------------------------------------------------------------------


class TicketTypeIn(EventsInput):
    name: ShortText = Field(examples=["Standing"])
    description: LongText = ""
    price_minor: MoneyMinor = Field(examples=[3500], description="Price in minor units (cents)")
    vat_rate_bp: VatRate = Field(
        default=0, examples=[2000], description="VAT included in the price, basis points"
    )
    capacity: Capacity = Field(examples=[400])
    sales_start: EventTime | None = None
    sales_end: EventTime | None = None
    min_per_order: PerOrder = 1
    max_per_order: PerOrder = 10
    max_per_buyer: PerBuyer | None = Field(
        default=None,
        description="Tickets of this type one buyer (account or e-mail) may have across "
        "orders, paid and held; null: no limit beyond max_per_order",
    )
    is_active: StrictBool = True
    position: Position = 0

    @model_validator(mode="after")
    def _consistent(self) -> TicketTypeIn:
        _check_order(self.sales_start, self.sales_end, "sales_end must be after sales_start")
        if self.max_per_order < self.min_per_order:
            raise ValueError("max_per_order must be at least min_per_order")
        return self


class TicketTypePatch(PatchModel):
    nullable: ClassVar[frozenset[str]] = frozenset({"sales_start", "sales_end", "max_per_buyer"})

    name: ShortText | None = None
    description: LongText | None = None
    price_minor: MoneyMinor | None = None
    vat_rate_bp: VatRate | None = None
    capacity: Capacity | None = None
    sales_start: EventTime | None = None
    sales_end: EventTime | None = None
    min_per_order: PerOrder | None = None
    max_per_order: PerOrder | None = None
    max_per_buyer: PerBuyer | None = None
    is_active: StrictBool | None = None
    position: Position | None = None


# --- public catalogue ---------------------------------------------------------------


class OrganizerOut(OutputModel):
    name: str
    slug: str


class PublicTicketTypeOut(OutputModel):
    id: uuid.UUID
    name: str
    description: str
    price_minor: int
    available: int
    sales_start: datetime | None
    sales_end: datetime | None
    min_per_order: int
    max_per_order: int
    on_sale: bool = Field(description="Can be bought right now (window open, stock left)")
    sold_out: bool
    may_come_back: bool = Field(
        description="Sold out for now, but seats held by unpaid orders may come back"
    )


class CatalogueEventOut(OutputModel):
    id: uuid.UUID
    slug: str
    title: str
    category: Category
    venue: VenueOut
    starts_at: datetime
    ends_at: datetime
    timezone: str
    currency: str
    image_url: str | None
    min_price_minor: int | None = Field(
        description="Price of the cheapest active ticket type, in minor units"
    )
    organizer: OrganizerOut
    ticket_types: list[PublicTicketTypeOut] = Field(description="Active ticket types")


class PublicEventOut(CatalogueEventOut):
    description: str
    status: EventStatus
    is_cancelled: bool
    cancelled_at: datetime | None


class FacetCount(OutputModel):
    value: str
    count: int


class CatalogueFacets(OutputModel):
    category: list[FacetCount]
    city: list[FacetCount]
