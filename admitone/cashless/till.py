"""What the cashier's till page reads (``web/pages/pos.py``): the stands the caller may
sell at, and one stand's till (its products, the event's money, the caller's open cash
register). Read-only; the sales themselves go through the API (``pos.charge``...), called
by the page's script with the login's token.

Who may open a till is decided as for a sale (``pos.seller_at``, hence
``authorization.checked_stand_access``): not a member of the stand's organization, 404;
a cashier of another stand, 403.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from admitone.accounts.models import User
from admitone.authorization import Permission, may_sell_at_stand, roles_allowed
from admitone.cashless.models import CashlessSettings, CashRegister, Product, Stand, StandCashier
from admitone.cashless.pos import Seller, seller_at
from admitone.cashless.wallets import enabled_cashless
from admitone.events.models import Event, EventStatus
from admitone.organizations.models import Membership, Organization


@dataclass(frozen=True)
class StandChoice:
    stand: Stand
    event: Event
    organization: Organization


def stands_to_sell_at(session: Session, *, user: User) -> list[StandChoice]:
    """The open stands of events not cancelled where ``user`` may sell: as a cashier
    assigned to them, or as an admin or owner of their organization (one query)."""
    rows = session.execute(
        select(Stand, Event, Organization, Membership.role, StandCashier.user_id)
        .join(Event, Event.id == Stand.event_id)
        .join(Organization, Organization.id == Event.organization_id)
        .join(
            Membership,
            (Membership.organization_id == Organization.id) & (Membership.user_id == user.id),
        )
        .outerjoin(
            StandCashier, (StandCashier.stand_id == Stand.id) & (StandCashier.user_id == user.id)
        )
        .where(
            Stand.active.is_(True),
            Event.status != EventStatus.cancelled,
            Membership.role.in_(roles_allowed(Permission.sell_at_stand)),
        )
        .order_by(Event.starts_at, Event.id, Stand.name, Stand.id)
    ).all()
    return [
        StandChoice(stand=stand, event=event, organization=organization)
        for stand, event, organization, role, assigned in rows
        if may_sell_at_stand(role, assigned=assigned is not None)
    ]


@dataclass(frozen=True)
class Till:
    seller: Seller
    settings: CashlessSettings
    products: list[Product]  # on sale, by category and name
    open_register: CashRegister | None  # the caller's, at this stand


def till(session: Session, *, user: User, stand_id: uuid.UUID) -> Till:
    """One stand's till for ``user`` (``seller_at``'s refusals; ``CashlessNotEnabled``
    when the event's cashless is off)."""
    seller = seller_at(session, stand_id=stand_id, user=user)
    settings = enabled_cashless(seller.cashless)
    products = list(
        session.scalars(
            select(Product)
            .where(Product.stand_id == stand_id, Product.active.is_(True))
            .order_by(Product.category, Product.name, Product.id)
        )
    )
    register = session.scalar(
        select(CashRegister).where(
            CashRegister.stand_id == stand_id,
            CashRegister.cashier_id == user.id,
            CashRegister.closed_at.is_(None),
        )
    )
    return Till(seller=seller, settings=settings, products=products, open_register=register)
