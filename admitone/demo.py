"""Demo data for `admitone serve --demo`: accounts, an organizer and its events, the
festival's cashless (stands, products, a cashier).

Everything goes through the services, so the demo obeys the same rules as real use
(slugs, validation, publish checks, the image checks). Dates are relative to today so
that the events are always upcoming. Each event gets a poster drawn here (no image file
ships with the code): a gradient in its category's colours, the same on every install.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admitone.accounts import service as accounts
from admitone.accounts import verification
from admitone.accounts.models import User
from admitone.authorization import OrgAccess, Permission, resolve_access
from admitone.cashless import settings as cashless
from admitone.cashless import stands
from admitone.cashless.models import StandKind
from admitone.checkin import lists as checkin_lists
from admitone.db import utcnow
from admitone.events import service as events
from admitone.events.models import Category, Event
from admitone.organizations import service as organizations
from admitone.organizations.models import Role

PARIS = ZoneInfo("Europe/Paris")

# Passwords that pass the policy (accounts/passwords.py: none contains its address or name).
ACCOUNTS = {
    "organizer": ("organizer@demo.example.com", "demo-stage-manager-2026", "Camille Martin"),
    "staff": ("gate@demo.example.com", "demo-ticket-scanner-2026", "Lucas Bernard"),
    "buyer": ("buyer@demo.example.com", "demo-front-row-seat-2026", "Emma Petit"),
    "cashier": ("bar@demo.example.com", "demo-pint-of-cider-2026", "Hugo Moreau"),
}

FESTIVAL = "Festival des Lumières"
# The festival's cashless: its stands and their products as
# (name, price in cents VAT included, VAT rate in basis points, category, deposit item).
STANDS = [
    (
        "Bar central",
        StandKind.bar,
        [
            ("Bière pression", 600, 2000, "Boissons", False),
            ("Limonade", 350, 550, "Boissons", False),
            ("Eau", 200, 550, "Boissons", False),
            ("Gobelet consigné", 100, 0, "Consigne", True),
        ],
    ),
    (
        "Food truck",
        StandKind.food,
        [
            ("Frites", 450, 1000, "Salé", False),
            ("Crêpe au sucre", 400, 1000, "Sucré", False),
        ],
    ),
    ("Point recharge", StandKind.topup_desk, []),
]

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


# Two colours per category (top left, bottom right) for the demo posters.
POSTER_COLOURS: dict[Category, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    Category.concert: ((76, 29, 149), (236, 72, 153)),
    Category.theatre: ((127, 29, 29), (245, 158, 11)),
    Category.conference: ((12, 74, 110), (45, 212, 191)),
    Category.comedy: ((161, 98, 7), (250, 204, 21)),
    Category.festival: ((22, 101, 52), (190, 242, 100)),
    Category.workshop: ((67, 56, 202), (165, 180, 252)),
}
# The size link previews use (Open Graph): 1.91 to 1.
POSTER_SIZE = (1200, 630)
# Big enough for a sharp card and a link preview, small enough to pass ``max_image_bytes``.
POSTER_QUALITY = 82


def demo_poster(title: str, category: Category) -> bytes:
    """A JPEG poster for a demo event: a diagonal gradient in its category's colours and
    soft circles placed from its title, so each event looks its own and stays the same."""
    width, height = POSTER_SIZE
    start, end = POSTER_COLOURS.get(category, ((30, 41, 59), (148, 163, 184)))
    # The gradient drawn small, then enlarged: smooth, and cheap to make.
    small = Image.new("RGB", (64, 34))
    small.putdata(
        [
            tuple(
                round(a + (b - a) * (x / 63 + y / 33) / 2) for a, b in zip(start, end, strict=True)
            )
            for y in range(34)
            for x in range(64)
        ]
    )
    poster = small.resize(POSTER_SIZE, Image.Resampling.BICUBIC)
    overlay = Image.new("RGBA", POSTER_SIZE, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    # Not for security: a fixed layout per title.
    layout = random.Random(hashlib.sha256(title.encode()).digest())
    for _ in range(7):
        radius = layout.randint(60, 260)
        x, y = layout.randint(0, width), layout.randint(0, height)
        draw.ellipse(
            (x - radius, y - radius, x + radius, y + radius),
            fill=(255, 255, 255, layout.randint(18, 60)),
        )
    poster = Image.alpha_composite(poster.convert("RGBA"), overlay).convert("RGB")
    out = BytesIO()
    poster.save(out, format="JPEG", quality=POSTER_QUALITY, optimize=True)
    return out.getvalue()


def _at(days: int, hour: int) -> datetime:
    day = (utcnow() + timedelta(days=days)).astimezone(PARIS)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def _add_event(
    session: Session,
    access: OrgAccess,
    spec: tuple,
    *,
    publish: bool,
    media_dir: Path | None,
) -> Event:
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
    if media_dir is not None:
        poster = demo_poster(title, category)
        events.set_event_image(
            session,
            access=access,
            event_id=event.id,
            data=poster,
            media_dir=media_dir,
            max_bytes=len(poster),
        )
    if publish:
        events.publish_event(session, access=access, event_id=event.id)
        checkin_lists.ensure_default_list(session, event_id=event.id)
    return event


def _add_cashless(session: Session, access: OrgAccess, event: Event, cashier: User) -> None:
    """The festival's bars and food truck on a cashless wallet ("Jetons"), a top-up
    desk, and the demo cashier assigned to all three."""
    cashless.set_cashless(
        session,
        access=access,
        event_id=event.id,
        values=cashless.CashlessValues(unit_name="Jetons"),
    )
    for name, kind, products in STANDS:
        stand = stands.create_stand(session, access=access, event_id=event.id, name=name, kind=kind)
        for product, price, vat, category, deposit in products:
            stands.create_product(
                session,
                access=access,
                event_id=event.id,
                stand_id=stand.stand.id,
                fields={
                    "name": product,
                    "price_minor": price,
                    "vat_rate_bp": vat,
                    "category": category,
                    "deposit": deposit,
                },
            )
        stands.assign_cashier(
            session, access=access, event_id=event.id, stand_id=stand.stand.id, user_id=cashier.id
        )


def load_demo(
    session: Session, *, media_dir: Path | None = None
) -> dict[str, tuple[str, str]] | None:
    """Fill an empty database with demo data; None (and nothing done) if it has users.
    With ``media_dir`` (the app's), every event gets its poster."""
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
    organizations.add_member(
        session, access=access, email=users["cashier"].email, role=Role.cashier
    )
    for spec in EVENTS:
        event = _add_event(session, access, spec, publish=True, media_dir=media_dir)
        if spec[0] == FESTIVAL:
            _add_cashless(session, access, event, users["cashier"])
    _add_event(session, access, DRAFT, publish=False, media_dir=media_dir)
    return {role: (email, password) for role, (email, password, _name) in ACCOUNTS.items()}
