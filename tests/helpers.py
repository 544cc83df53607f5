"""Small helpers shared by tests: accounts, organizations, auth headers."""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.config import Settings
from admitone.db import Database
from tests.factories import Shop, make_shop

PASSWORD = "correct-horse-battery"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(
    client: TestClient,
    email: str | None = None,
    *,
    password: str = PASSWORD,
    full_name: str = "Test User",
    verify: bool = True,
) -> dict[str, Any]:
    """Register an account, its address verified through a real link unless ``verify``
    is False; returns {"user", "tokens", "token", "headers", "email"}."""
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    response = client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "full_name": full_name}
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    token = data["tokens"]["access_token"]
    if verify:
        verify_email(client, data["user"]["email"])
        data["user"]["email_verified"] = True
    return {**data, "token": token, "headers": auth(token), "email": email}


def verification_token(database: Database, settings: Settings, email: str) -> str:
    """A fresh verification link's token for ``email``, issued by the service as for the
    mail (which went to the outbox or the SMTP server)."""
    from admitone.accounts import account_tokens
    from admitone.accounts.models import AccountTokenPurpose, User

    with database.session() as session:
        user = session.scalar(select(User).where(User.email == email.lower()))
        assert user is not None, email
        token = account_tokens.issue(
            session,
            user=user,
            purpose=AccountTokenPurpose.email_verification,
            lifetime=timedelta(hours=1),
            settings=settings,
        )
        assert token is not None, "the per-address mail limit was reached"
        return account_tokens.token_text(settings, token.id)


def verify_email(client: TestClient, email: str) -> None:
    """Verify ``email`` the way its owner does: POST a verification link's token."""
    state = client.app.state  # type: ignore[attr-defined]
    token = verification_token(state.db, state.settings, email)
    response = client.post("/api/v1/auth/verify-email", json={"token": token})
    assert response.status_code == 204, response.text


def create_org(
    client: TestClient, headers: dict[str, str], slug: str | None = None, name: str = "Test Org"
) -> dict[str, Any]:
    slug = slug or f"org-{uuid.uuid4().hex[:8]}"
    response = client.post(
        "/api/v1/organizations", json={"name": name, "slug": slug}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def add_member(
    client: TestClient, headers: dict[str, str], org_slug: str, email: str, role: str
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/organizations/{org_slug}/members",
        json={"email": email, "role": role},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


# --- events and ticket types ---------------------------------------------------------

EVENT_TIME_ZONE = "Europe/Paris"


def future(days: int = 30, hour: int = 20) -> str:
    """An aware ISO datetime ``days`` from now at ``hour`` o'clock Paris time."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    moment = datetime.now(ZoneInfo(EVENT_TIME_ZONE)) + timedelta(days=days)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0).isoformat()


def event_payload(**overrides: Any) -> dict[str, Any]:
    """A valid event body; ``venue`` overrides merge into the default venue."""
    venue = {"name": "La Cigale", "address": "120 bd de Rochechouart", "city": "Paris"}
    venue["country"] = "FR"
    venue.update(overrides.pop("venue", {}))
    payload: dict[str, Any] = {
        "title": "Nightfall live",
        "description": "An evening of new music.",
        "category": "concert",
        "venue": venue,
        "starts_at": future(30, 20),
        "ends_at": future(30, 23),
        "timezone": EVENT_TIME_ZONE,
        "currency": "EUR",
    }
    payload.update(overrides)
    return payload


def events_url(org_slug: str, *parts: str) -> str:
    return "/".join([f"/api/v1/organizations/{org_slug}/events", *map(str, parts)])


def create_event(
    client: TestClient, headers: dict[str, str], org_slug: str, **overrides: Any
) -> dict[str, Any]:
    """Create a draft event through the API and return its data."""
    response = client.post(events_url(org_slug), json=event_payload(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def ticket_type_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"name": "Standing", "price_minor": 3500, "capacity": 100}
    payload.update(overrides)
    return payload


def create_ticket_type(
    client: TestClient,
    headers: dict[str, str],
    org_slug: str,
    event_id: str,
    **overrides: Any,
) -> dict[str, Any]:
    """Add a ticket type to an event through the API and return its data."""
    response = client.post(
        events_url(org_slug, event_id, "ticket-types"),
        json=ticket_type_payload(**overrides),
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def publish_event(
    client: TestClient, headers: dict[str, str], org_slug: str, event_id: str
) -> dict[str, Any]:
    response = client.post(events_url(org_slug, event_id, "publish"), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def create_published_event(
    client: TestClient,
    headers: dict[str, str],
    org_slug: str,
    *,
    ticket_types: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A published event with the given ticket types (one default type if none given)."""
    event = create_event(client, headers, org_slug, **overrides)
    for ticket_type in ticket_types or [{}]:
        create_ticket_type(client, headers, org_slug, event["id"], **ticket_type)
    return publish_event(client, headers, org_slug, event["id"])


def event_with_staff(
    client: TestClient, *, ticket_types: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An owner's organization with a published event and a gate-staff member:
    (owner, organization, event, staff), the accounts as ``register`` returns them."""
    owner = register(client)
    org = create_org(client, owner["headers"])
    event = create_published_event(client, owner["headers"], org["slug"], ticket_types=ticket_types)
    staff = register(client)
    add_member(client, owner["headers"], org["slug"], staff["email"], "staff")
    return owner, org, event, staff


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of a JSON document whose value at ``path`` (keys and list indexes) is
    ``value``; the empty path replaces the whole document."""
    if not path:
        return value
    changed = copy.deepcopy(document)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def png_bytes(size: tuple[int, int] = (8, 8), image_format: str = "PNG") -> bytes:
    """A small real image made with Pillow."""
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", size, (200, 30, 60)).save(buffer, format=image_format)
    return buffer.getvalue()


def db_snapshot(database: Any) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, as sorted strings: compare before and after a refused call."""
    from sqlalchemy import select

    from admitone.models import Base

    snapshot = {}
    with database.session(write=False) as session:
        for table in Base.metadata.sorted_tables:
            rows = session.execute(select(table)).all()
            snapshot[table.name] = sorted(tuple(map(str, row)) for row in rows)
    return snapshot


def set_ticket_counters(
    database: Any, ticket_type_id: str, *, sold: int = 0, held: int = 0
) -> None:
    """Pretend seats were sold or held (the orders service moves these counters)."""
    import uuid as uuid_module

    from sqlalchemy import update

    from admitone.events.models import TicketType

    with database.session() as session:
        session.execute(
            update(TicketType)
            .where(TicketType.id == uuid_module.UUID(ticket_type_id))
            .values(quantity_sold=sold, quantity_held=held)
        )


def register_shop_owner(
    client: TestClient, database: Database, **shop_options: Any
) -> tuple[dict[str, Any], Shop]:
    """A registered organizer and the shop they own (``factories.make_shop``)."""
    owner = register(client)
    return owner, make_shop(database, owner_id=owner["user"]["id"], **shop_options)
