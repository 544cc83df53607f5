"""Downloads from "my tickets" and the order page: a ticket's PDF, all the order's tickets
in one PDF, the receipt, the .ics.

The same documents as the e-mails and the API (``notifications.service``), opened with
the page credentials: the logged-in account's cookie session, or a guest's secret link
(``?token=``, or the token this browser remembered for the order, see checkout.py).
Whoever may not read the order gets a 404, like the API. The documents are in the
page's language.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.responses import Response

from admitone.accounts.models import User
from admitone.deps import KeyRingDep, SessionDep, SettingsDep
from admitone.notifications import service as documents
from admitone.tickets import service as tickets
from admitone.tickets.api import attachment
from admitone.tickets.errors import TicketNotFound
from admitone.web.deps import OptionalLogin, page_router
from admitone.web.i18n import current_locale
from admitone.web.pages.checkout import OrderId, TokenQuery, remembered_order_token

router = page_router()


@dataclass(frozen=True)
class OrderReader:
    """Who asks for an order's documents: the logged-in account and/or a guest's token."""

    user: User | None
    order_token: str | None


def _order_reader(
    request: Request,
    settings: SettingsDep,
    login: OptionalLogin,
    order_id: OrderId,
    token: TokenQuery = None,
) -> OrderReader:
    return OrderReader(
        user=login.user if login else None,
        order_token=remembered_order_token(request, settings, order_id, token),
    )


Reader = Annotated[OrderReader, Depends(_order_reader)]


@router.get("/orders/{order_id}/tickets/{ticket_id}.pdf")
def ticket_pdf(
    session: SessionDep,
    keys: KeyRingDep,
    reader: Reader,
    order_id: OrderId,
    ticket_id: Annotated[uuid.UUID, Path()],
) -> Response:
    view = tickets.get_ticket(
        session, ticket_id=ticket_id, user=reader.user, order_token=reader.order_token, keys=keys
    )
    if view.order.id != order_id:
        raise TicketNotFound()  # a readable ticket, but not of the order in the link
    pdf = documents.ticket_view_pdf(view, locale=current_locale())
    return attachment(pdf, "application/pdf", f"ticket-{view.order.code}-{view.ticket.id}.pdf")


@router.get("/orders/{order_id}/tickets.pdf")
def order_tickets_pdf(
    session: SessionDep, keys: KeyRingDep, reader: Reader, order_id: OrderId
) -> Response:
    """Every valid ticket of the order, a page each: one file to print or keep."""
    views = tickets.list_order_tickets(
        session, order_id=order_id, user=reader.user, order_token=reader.order_token, keys=keys
    )
    if not views:
        raise TicketNotFound()  # not the caller's order (or not paid): nothing to show
    pdf = documents.order_tickets_pdf(views, locale=current_locale())
    return attachment(pdf, "application/pdf", f"tickets-{views[0].order.code}.pdf")


@router.get("/orders/{order_id}/receipt.pdf")
def receipt_pdf(session: SessionDep, reader: Reader, order_id: OrderId) -> Response:
    bundle, pdf = documents.order_receipt(
        session,
        order_id=order_id,
        user=reader.user,
        order_token=reader.order_token,
        locale=current_locale(),
    )
    return attachment(pdf, "application/pdf", f"receipt-{bundle.order.code}.pdf")


@router.get("/orders/{order_id}/calendar.ics")
def calendar_ics(
    session: SessionDep, settings: SettingsDep, reader: Reader, order_id: OrderId
) -> Response:
    _bundle, ics = documents.order_calendar(
        session,
        order_id=order_id,
        user=reader.user,
        order_token=reader.order_token,
        settings=settings,
    )
    return attachment(ics, "text/calendar; charset=utf-8", "event.ics")
