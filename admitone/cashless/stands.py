"""Stands, their products and their cashiers: the organizer's side of the point of sale.

Every lookup of a stand or a product by id goes through ``stands_of`` or
``products_of``: scoped to the caller's organization and to the event of the path, so a
stand of another event or organization is not found (404) and ids do not leak. No lock:
nothing here is scarce but a product's stock, which moves by conditional updates
(``add_stock`` here, the sales in ``pos``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session

from admitone.authorization import OrgAccess, Permission, role_allows
from admitone.cashless import ledger
from admitone.cashless.errors import (
    MemberCannotSell,
    ProductNotFound,
    StandNameTaken,
    StandNotFound,
)
from admitone.cashless.models import Product, Stand, StandCashier, StandKind
from admitone.db import insert_once
from admitone.errors import InvalidInput, NotFound
from admitone.events import queries as event_queries
from admitone.events.errors import EventNotFound
from admitone.events.models import Event
from admitone.organizations.models import Membership

# --- scoped statements ---------------------------------------------------------------------


def stands_of(organization_id: uuid.UUID, event_id: uuid.UUID) -> Select[Stand]:
    return (
        select(Stand)
        .join(Event, Event.id == Stand.event_id)
        .where(Event.organization_id == organization_id, Stand.event_id == event_id)
    )


def products_of(
    organization_id: uuid.UUID, event_id: uuid.UUID, stand_id: uuid.UUID
) -> Select[Product]:
    return (
        select(Product)
        .join(Event, Event.id == Product.event_id)
        .where(
            Event.organization_id == organization_id,
            Product.event_id == event_id,
            Product.stand_id == stand_id,
        )
    )


# --- stands --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StandView:
    """A stand and the members assigned to sell at it."""

    stand: Stand
    cashier_ids: tuple[uuid.UUID, ...]


def _event_id(session: Session, access: OrgAccess, event_id: uuid.UUID) -> uuid.UUID:
    found = session.scalar(
        event_queries.events_of(access.organization.id)
        .where(Event.id == event_id)
        .with_only_columns(Event.id)
    )
    if found is None:
        raise EventNotFound()
    return found


def _stand(session: Session, access: OrgAccess, event_id: uuid.UUID, stand_id: uuid.UUID) -> Stand:
    _event_id(session, access, event_id)
    stand = session.scalar(stands_of(access.organization.id, event_id).where(Stand.id == stand_id))
    if stand is None:
        raise StandNotFound()
    return stand


def _cashiers(session: Session, stand_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    found: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if stand_ids:
        rows = session.execute(
            select(StandCashier.stand_id, StandCashier.user_id)
            .where(StandCashier.stand_id.in_(stand_ids))
            .order_by(StandCashier.assigned_at, StandCashier.user_id)
        )
        for stand_id, user_id in rows:
            found[stand_id].append(user_id)
    return found


def _view(session: Session, stand: Stand) -> StandView:
    return StandView(stand, tuple(_cashiers(session, [stand.id]).get(stand.id, ())))


def _check_name_free(
    session: Session, *, event_id: uuid.UUID, name: str, stand_id: uuid.UUID | None = None
) -> None:
    # The unique (event_id, name) is the net for two at once (409 CONFLICT); this names it.
    taken = session.scalar(
        select(Stand.id).where(Stand.event_id == event_id, Stand.name == name, Stand.id != stand_id)
    )
    if taken is not None:
        raise StandNameTaken(name=name)


def list_stands(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> list[StandView]:
    """The event's stands, by name, with their cashiers."""
    _event_id(session, access, event_id)
    stands = list(
        session.scalars(stands_of(access.organization.id, event_id).order_by(Stand.name, Stand.id))
    )
    cashiers = _cashiers(session, [stand.id for stand in stands])
    return [StandView(stand, tuple(cashiers.get(stand.id, ()))) for stand in stands]


def create_stand(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, name: str, kind: StandKind
) -> StandView:
    """A new stand of the event (a bar, a food stand, a shop, a top-up desk)."""
    _event_id(session, access, event_id)
    _check_name_free(session, event_id=event_id, name=name)
    stand = Stand(event_id=event_id, name=name, kind=kind)
    session.add(stand)
    session.flush()
    ledger.open_sales_shards(session, event_id=event_id, stand_id=stand.id)
    return StandView(stand, ())


def update_stand(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    stand_id: uuid.UUID,
    changes: Mapping[str, Any],
) -> StandView:
    """Rename a stand, change its kind, close or open it (``active``). Its past sales
    keep their stand."""
    stand = _stand(session, access, event_id, stand_id)
    if "name" in changes:
        _check_name_free(session, event_id=event_id, name=changes["name"], stand_id=stand.id)
    for name, value in changes.items():
        setattr(stand, name, value)
    session.flush()
    return _view(session, stand)


# --- cashiers ------------------------------------------------------------------------------


def assign_cashier(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    stand_id: uuid.UUID,
    user_id: uuid.UUID,
) -> StandView:
    """Let a member sell at the stand: one whose role may sell (``sell_at_stand``: a
    cashier, an admin, an owner). Assigning twice changes nothing."""
    stand = _stand(session, access, event_id, stand_id)
    role = session.scalar(
        select(Membership.role).where(
            Membership.organization_id == access.organization.id, Membership.user_id == user_id
        )
    )
    if role is None:
        raise NotFound("No such member of this organization.")
    if not role_allows(role, Permission.sell_at_stand):
        raise MemberCannotSell(role=str(role))
    insert_once(session, StandCashier, {"stand_id": stand.id, "user_id": user_id})
    return _view(session, stand)


def unassign_cashier(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    stand_id: uuid.UUID,
    user_id: uuid.UUID,
) -> None:
    """The member no longer sells at the stand (nothing if they did not)."""
    stand = _stand(session, access, event_id, stand_id)
    session.execute(
        delete(StandCashier).where(
            StandCashier.stand_id == stand.id, StandCashier.user_id == user_id
        )
    )


# --- products ------------------------------------------------------------------------------


def list_products(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, stand_id: uuid.UUID
) -> list[Product]:
    """The stand's products, by category (none last) and name (inactive ones too)."""
    stand = _stand(session, access, event_id, stand_id)
    return list(
        session.scalars(
            # Uncategorized last on both databases (they sort NULL apart).
            products_of(access.organization.id, event_id, stand.id).order_by(
                Product.category.is_(None), Product.category, Product.name, Product.id
            )
        )
    )


def create_product(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    stand_id: uuid.UUID,
    fields: Mapping[str, Any],
) -> Product:
    """A product of the stand: ``name``, ``price_minor`` (VAT included),
    ``vat_rate_bp``, and optionally ``category``, ``stock`` (None: unlimited),
    ``active``, ``deposit``."""
    stand = _stand(session, access, event_id, stand_id)
    product = Product(event_id=event_id, stand_id=stand.id, **fields)
    session.add(product)
    session.flush()
    return product


def update_product(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    stand_id: uuid.UUID,
    product_id: uuid.UUID,
    changes: Mapping[str, Any],
    stock_added: int | None = None,
) -> Product:
    """Change a product (the fields in ``changes``; ``stock`` sets the count, as after
    an inventory, None makes it unlimited), or add to its stock (``stock_added``,
    negative to take some away): a conditional update, so a restock racing the sales
    loses none of them, and stock never goes below zero. Past sales keep the name, price and VAT they were sold at (``sale_lines``)."""
    _stand(session, access, event_id, stand_id)
    product = session.scalar(
        products_of(access.organization.id, event_id, stand_id).where(Product.id == product_id)
    )
    if product is None:
        raise ProductNotFound()
    for name, value in changes.items():
        setattr(product, name, value)
    session.flush()
    if stock_added:
        _add_stock(session, product, stock_added)
    return product


def _add_stock(session: Session, product: Product, added: int) -> None:
    moved = session.execute(
        update(Product)
        .where(Product.id == product.id, Product.stock.is_not(None), Product.stock + added >= 0)
        .values(stock=Product.stock + added)
        .returning(Product.stock)
        .execution_options(synchronize_session=False)
    ).first()
    if moved is None:
        stock = session.scalar(select(Product.stock).where(Product.id == product.id))
        if stock is None:
            raise InvalidInput("This product's stock is unlimited: set a stock first.")
        raise InvalidInput("This would take the stock below zero.", stock=stock)
    product.stock = moved[0]
