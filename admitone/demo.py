"""Demo data for `admitone serve --demo`: accounts, an organizer and its events.

Everything goes through the services, so the demo obeys the same rules as real use
(slugs, validation, publish checks). Dates are relative to today so that the events
are always upcoming.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admitone.accounts import service as accounts
from admitone.accounts import verification
from admitone.accounts.models import User
from admitone.authorization import OrgAccess, Permission, resolve_access
from admitone.db import utcnow
from admitone.events import service as events
from admitone.events.models import Category
from admitone.organizations import service as organizations
from admitone.organizations.models import Role

PARIS = ZoneInfo("Europe/Paris")

# Passwords that pass the policy (accounts/passwords.py: none contains its address or name).
ACCOUNTS = {
    "organizer": ("organizer@demo.example.com", "demo-stage-manager-2026", "Camille Martin"),
    "staff": ("gate@demo.example.com", "demo-ticket-scanner-2026", "Lucas Bernard"),
    "buyer": ("buyer@demo.example.com", "demo-front-row-seat-2026", "Emma Petit"),
}

# (title, category, venue, address, city, days from now, start hour, hours, description,
#  ticket types as (name, price in cents, capacity))
EVENTS = [
    (
        "Nuits Électriques",
        Category.concert,
        "La Cigale",
        "120 boulevard de Rochechouart",
        "Paris",
        21,
        20,
        4,
        "Three electro-pop bands for one long night in Montmartre.",
        [("Fosse (standing)", 3500, 800), ("Balcon (seated)", 4800, 300)],
    ),
    (
        "Le Malade imaginaire",
        Category.theatre,
        "Théâtre des Célestins",
        "4 rue Charles Dullin",
        "Lyon",
        35,
        19,
        3,
        "Molière's last comedy, staged by a young company from Lyon.",
        [("Orchestre", 4200, 250), ("Corbeille", 3200, 200), ("Moins de 26 ans", 1500, 100)],
    ),
    (
        "Marseille Tech Days",
        Category.conference,
        "Palais du Pharo",
        "58 boulevard Charles Livon",
        "Marseille",
        49,
        9,
        9,
        "Two tracks of talks on open-source software and the web, in French and English.",
        [("Early bird", 9900, 200), ("Standard", 14900, 400)],
    ),
    (
        "Bordeaux Comedy Club",
        Category.comedy,
        "Théâtre Femina",
        "10 rue de Grassi",
        "Bordeaux",
        14,
        21,
        2,
        "Five stand-up comedians try out their new material.",
        [("Placement libre", 2500, 600), ("Carré or", 3900, 80)],
    ),
    (
        "Festival des Lumières",
        Category.festival,
        "Parc de la Tête d'Or",
        "Place Général Leclerc",
        "Lyon",
        63,
        14,
        10,
        "An open-air day of music, light installations and food trucks.",
        [("Pass journée", 4500, 5000), ("Pass VIP", 9500, 300)],
    ),
]

DRAFT = (
    "Atelier céramique",
    Category.workshop,
    "Atelier du Canal",
    "12 quai de Valmy",
    "Paris",
    80,
    10,
    3,
    "Hands-on pottery for beginners (still being planned).",
    [("Participant", 6500, 12)],
)


def _at(days: int, hour: int) -> datetime:
    day = (utcnow() + timedelta(days=days)).astimezone(PARIS)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def _add_event(
    session: Session,
    access: OrgAccess,
    spec: tuple,
    *,
    publish: bool,
) -> None:
    title, category, venue, address, city, days, hour, hours, description, types = spec
    starts_at = _at(days, hour)
    event = events.create_event(
        session,
        access=access,
        title=title,
        category=category,
        description=description,
        venue_name=venue,
        venue_address=address,
        city=city,
        country="FR",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=hours),
        timezone="Europe/Paris",
        currency="EUR",
    )
    for position, (name, price_minor, capacity) in enumerate(types):
        events.create_ticket_type(
            session,
            access=access,
            event_id=event.id,
            name=name,
            price_minor=price_minor,
            capacity=capacity,
            max_per_order=8,
            position=position,
        )
    if publish:
        events.publish_event(session, access=access, event_id=event.id)


def load_demo(session: Session) -> dict[str, tuple[str, str]] | None:
    """Fill an empty database with demo data; None (and nothing done) if it has users."""
    if session.scalar(select(func.count()).select_from(User)):
        return None
    users = {
        role: accounts.register_user(session, email=email, password=password, full_name=name)
        for role, (email, password, name) in ACCOUNTS.items()
    }
    for user in users.values():
        verification.mark_email_verified(user)  # demo addresses receive no mail
    organization = organizations.create_organization(
        session, user=users["organizer"], name="Scènes de France", slug="scenes-de-france"
    )
    # The demo organizer is one the platform knows: its mail names its events.
    organizations.set_verified(
        session, actor=None, slug=organization.slug, verified=True, now=utcnow()
    )
    access = resolve_access(
        session,
        slug=organization.slug,
        user=users["organizer"],
        permission=Permission.manage_events,
    )
    organizations.add_member(session, access=access, email=users["staff"].email, role=Role.staff)
    for spec in EVENTS:
        _add_event(session, access, spec, publish=True)
    _add_event(session, access, DRAFT, publish=False)
    return {role: (email, password) for role, (email, password, _name) in ACCOUNTS.items()}
