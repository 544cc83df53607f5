"""Order documents: the receipt PDF and the calendar entry (buyer, token holder, organizer).

The ticket PDF is served by the tickets router (``/tickets/{id}.pdf``), with the ticket's
own access rule.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from admitone.deps import OptionalUser, OrderToken, SessionDep, SettingsDep
from admitone.errors import error_responses
from admitone.notifications import service
from admitone.tickets.api import attachment

router = APIRouter(tags=["tickets"])


def _document(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media_type: {}}}, **error_responses(401, 404, 422)}


@router.get(
    "/orders/{order_id}/receipt.pdf",
    summary="The order's receipt with its VAT breakdown (PDF)",
    response_class=Response,
    responses=_document("application/pdf"),
)
def get_receipt_pdf(
    order_id: uuid.UUID,
    session: SessionDep,
    user: OptionalUser,
    token: OrderToken,
) -> Response:
    bundle, pdf = service.order_receipt(session, order_id=order_id, user=user, order_token=token)
    return attachment(pdf, "application/pdf", f"receipt-{bundle.order.code}.pdf")


@router.get(
    "/orders/{order_id}/calendar.ics",
    summary="The order's event as an iCalendar entry",
    response_class=Response,
    responses=_document("text/calendar"),
)
def get_calendar_ics(
    order_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    user: OptionalUser,
    token: OrderToken,
) -> Response:
    _bundle, ics = service.order_calendar(
        session,
        order_id=order_id,
        user=user,
        order_token=token,
        settings=settings,
    )
    return attachment(ics, "text/calendar; charset=utf-8", "event.ics")
