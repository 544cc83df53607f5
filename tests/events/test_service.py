"""Event services called directly: the rules the API, the pages and the CLI share."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select, update

import admitone.events
from admitone.accounts import service as accounts
from admitone.accounts.verification import mark_email_verified
from admitone.authorization import Permission, resolve_access
from admitone.db import utcnow
from admitone.errors import InvalidInput
from admitone.events import service
from admitone.events.errors import (
    CapacityBelowSold,
    EventAlreadyCancelled,
    EventNotFound,
    TicketTypeHasSales,
)
from admitone.events.models import Category, EventStatus, TicketType
from admitone.organizations import service as organizations
from tests.helpers import PASSWORD


def _access(session, slug="org-a"):
    user = accounts.register_user(session, email=f"{slug}@example.com", password=PASSWORD)
    mark_email_verified(user)  # an organization needs a verified address
    organizations.create_organization(session, user=user, name=slug, slug=slug)
    return resolve_access(session, slug=slug, user=user, permission=Permission.manage_events)


def _event(session, access, **overrides):
    starts_at = utcnow() + timedelta(days=10)
    values = {
        "title": "Service event",
        "category": Category.concert,
        "venue_name": "Hall",
        "city": "Paris",
        "country": "FR",
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=3),
        "timezone": "Europe/Paris",
        "currency": "EUR",
        **overrides,
    }
    return service.create_event(session, access=access, **values)


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Fête de la Musique", "fete-de-la-musique"),
        ("  Rock -- & -- Roll  ", "rock-roll"),
        ("東京", "event"),
        ("A" * 200, "a" * 70),
    ],
)
def test_slugify(title, slug):
    assert service.slugify(title) == slug


def test_services_validate_what_the_schemas_validate(session):
    access = _access(session)
    for field, value in [
        ("timezone", "Nowhere/City"),
        ("currency", "XXX"),
        ("country", "ZZ"),
        ("starts_at", (utcnow() + timedelta(days=1)).replace(tzinfo=None)),
    ]:
        with pytest.raises(InvalidInput) as raised:
            _event(session, access, **{field: value})
        assert raised.value.details["errors"][0]["field"] == field


def test_other_organizations_rows_are_not_found(session):
    access_a = _access(session, "org-a")
    access_b = _access(session, "org-b")
    event = _event(session, access_a)
    ticket_type = service.create_ticket_type(
        session, access=access_a, event_id=event.id, name="T", price_minor=100, capacity=5
    )
    with pytest.raises(EventNotFound):
        service.get_event(session, access=access_b, event_id=event.id)
    with pytest.raises(EventNotFound):
        service.cancel_event(session, access=access_b, event_id=event.id)
    with pytest.raises(Exception) as raised:
        service.get_ticket_type(
            session, access=access_b, event_id=event.id, ticket_type_id=ticket_type.id
        )
    assert raised.value.status == 404


def test_cancel_event_once(session):
    access = _access(session)
    event = _event(session, access)
    cancelled = service.cancel_event(session, access=access, event_id=event.id)
    assert cancelled.status == EventStatus.cancelled
    assert cancelled.cancelled_at is not None
    with pytest.raises(EventAlreadyCancelled):
        service.cancel_event(session, access=access, event_id=event.id)


def test_capacity_check_sees_a_sale_that_lands_after_the_read(session):
    """A hold committed between our read and our write must still block the shrink.

    The hook runs the "concurrent" hold just before the capacity UPDATE is sent, after
    the service has read counters that still said 0 sold, 0 held.
    """
    access = _access(session)
    event = _event(session, access)
    ticket_type = service.create_ticket_type(
        session, access=access, event_id=event.id, name="T", price_minor=100, capacity=10
    )
    connection = session.connection()
    fired = []

    def concurrent_hold(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE ticket_types SET capacity") and not fired:
            fired.append(True)
            cursor.execute(
                "UPDATE ticket_types SET quantity_held = 8 WHERE id = ?"
                if conn.dialect.name == "sqlite"
                else "UPDATE ticket_types SET quantity_held = 8 WHERE id = %s",
                (ticket_type.id.hex if conn.dialect.name == "sqlite" else ticket_type.id,),
            )

    sa_event.listen(connection, "before_cursor_execute", concurrent_hold)
    try:
        with pytest.raises(CapacityBelowSold) as raised:
            service.update_ticket_type(
                session,
                access=access,
                event_id=event.id,
                ticket_type_id=ticket_type.id,
                changes={"capacity": 5},
            )
    finally:
        sa_event.remove(connection, "before_cursor_execute", concurrent_hold)
    assert fired
    assert raised.value.details == {"capacity": 5, "sold": 0, "held": 8}
    capacity = session.scalar(select(TicketType.capacity).where(TicketType.id == ticket_type.id))
    assert capacity == 10


def test_delete_ticket_type_sees_a_hold_that_lands_after_the_read(session, monkeypatch):
    access = _access(session)
    event = _event(session, access)
    ticket_type = service.create_ticket_type(
        session, access=access, event_id=event.id, name="T", price_minor=100, capacity=10
    )
    session.expire_all()
    loaded = service.get_ticket_type(
        session, access=access, event_id=event.id, ticket_type_id=ticket_type.id
    )
    assert loaded.quantity_held == 0
    # The hold lands now; the delete's own condition must notice it.
    session.execute(
        update(TicketType)
        .where(TicketType.id == ticket_type.id)
        .values(quantity_held=1)
        .execution_options(synchronize_session=False)
    )
    # The service works from the stale read, as it would had the hold come a moment later.
    monkeypatch.setattr(service, "get_ticket_type", lambda *args, **kwargs: loaded)
    with pytest.raises(TicketTypeHasSales):
        service.delete_ticket_type(
            session, access=access, event_id=event.id, ticket_type_id=ticket_type.id
        )
    assert session.get(TicketType, ticket_type.id) is not None


def test_deletable_ticket_types_are_those_delete_would_delete(session):
    access = _access(session)
    other = _access(session, slug="org-b")
    event = _event(session, access)

    def add(name):
        return service.create_ticket_type(
            session, access=access, event_id=event.id, name=name, price_minor=100, capacity=10
        ).id

    free, sold, held = add("Free"), add("Sold"), add("Held")
    session.execute(update(TicketType).where(TicketType.id == sold).values(quantity_sold=1))
    session.execute(update(TicketType).where(TicketType.id == held).values(quantity_held=2))
    session.expire_all()
    assert service.deletable_ticket_type_ids(session, access=access, event_id=event.id) == {free}
    # Another organization sees none of them.
    assert service.deletable_ticket_type_ids(session, access=other, event_id=event.id) == set()
    for refused in (sold, held):
        with pytest.raises(TicketTypeHasSales):
            service.delete_ticket_type(
                session, access=access, event_id=event.id, ticket_type_id=refused
            )
    service.delete_ticket_type(session, access=access, event_id=event.id, ticket_type_id=free)
    assert service.deletable_ticket_type_ids(session, access=access, event_id=event.id) == set()


def test_duplicate_event_is_a_new_draft_with_its_ticket_types(session, tmp_path):
    from tests.helpers import png_bytes

    access = _access(session)
    other = _access(session, slug="org-b")
    media_dir = tmp_path / "media"
    event = _event(session, access, title="Original Night", description="Same words.")
    service.create_ticket_type(
        session,
        access=access,
        event_id=event.id,
        name="Seated",
        price_minor=3000,
        vat_rate_bp=550,
        capacity=40,
        max_per_order=4,
        position=1,
    )
    service.create_ticket_type(
        session, access=access, event_id=event.id, name="Standing", price_minor=2000, capacity=90
    )
    service.set_event_image(
        session,
        access=access,
        event_id=event.id,
        data=png_bytes(),
        media_dir=media_dir,
        max_bytes=10_000,
    )
    service.publish_event(session, access=access, event_id=event.id)
    session.execute(
        update(TicketType).where(TicketType.event_id == event.id).values(quantity_sold=3)
    )
    original = service.get_event(session, access=access, event_id=event.id)

    copy = service.duplicate_event(session, access=access, event_id=event.id, media_dir=media_dir)
    assert copy.id != original.id
    assert copy.status == EventStatus.draft and copy.published_at is None
    assert copy.slug == f"{original.slug}-2"
    assert (copy.title, copy.description, copy.starts_at, copy.currency) == (
        original.title,
        original.description,
        original.starts_at,
        original.currency,
    )

    def shape(ticket_type):
        return (
            ticket_type.name,
            ticket_type.price_minor,
            ticket_type.vat_rate_bp,
            ticket_type.capacity,
            ticket_type.max_per_order,
            ticket_type.position,
        )

    assert sorted(map(shape, copy.ticket_types)) == sorted(map(shape, original.ticket_types))
    assert all(t.quantity_sold == 0 and t.quantity_held == 0 for t in copy.ticket_types)
    assert not {t.id for t in copy.ticket_types} & {t.id for t in original.ticket_types}
    # Its own image file: removing the copy's leaves the original's.
    assert copy.image_path and copy.image_path != original.image_path
    assert (media_dir / copy.image_path).read_bytes() == (
        media_dir / original.image_path
    ).read_bytes()
    again = service.duplicate_event(session, access=access, event_id=event.id, media_dir=media_dir)
    assert again.slug == f"{original.slug}-3"
    with pytest.raises(EventNotFound):
        service.duplicate_event(session, access=other, event_id=event.id, media_dir=media_dir)


def test_organization_owned_rows_are_only_read_through_queries_py():
    """The scoping lint: no direct lookups of events or ticket types outside queries.py."""
    package = Path(admitone.events.__file__).parent
    forbidden = re.compile(r"session\.get\(|select\((Event|TicketType)\)")
    offenders = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(package.glob("*.py"))
        if path.name != "queries.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if forbidden.search(line)
    ]
    assert offenders == []
