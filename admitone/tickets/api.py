"""Tickets API: my tickets, one ticket, and its QR code as SVG or PNG."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from starlette.convertors import StringConvertor, register_url_convertor

from admitone.checkin.queries import first_entry_at, ticket_admitted
from admitone.db import utcnow
from admitone.deps import Buyer, CurrentUser, KeyRingDep, OptionalUser, OrderToken, SessionDep
from admitone.errors import error_responses
from admitone.hot_routes import hot_route
from admitone.schemas import DataResponse, ListResponse, page_meta
from admitone.tickets import service
from admitone.tickets.schemas import HolderNameIn, TicketHolderOut, TicketOut

router = APIRouter(tags=["tickets"])


class NotPdfConvertor(StringConvertor):
    """A path segment that does not end in ".pdf": ``/tickets/{ticket_id:not_pdf}`` leaves
    ``/tickets/<id>.pdf`` to the PDF route whatever the order of the two (tests/test_routes.py).
    Any other text still reaches the route, so a malformed id is a 422 as elsewhere."""

    regex = r"[^/]+(?<!\.pdf)"


# Starlette's converters are global, found by name when a path is compiled.
register_url_convertor("not_pdf", NotPdfConvertor())

TICKET_ERRORS = error_responses(401, 404, 422)
# The QR is a bearer credential: no shared cache may keep it.
NO_STORE = {"Cache-Control": "private, no-store"}


def attachment(data: bytes, media_type: str, filename: str) -> Response:
    """A download (ticket, receipt, calendar): personal, so never kept by a shared cache."""
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(data, media_type=media_type, headers=headers)


@router.get("/me/tickets", summary="My tickets", responses=error_responses(401, 422))
def list_my_tickets(
    user: CurrentUser,
    session: SessionDep,
    keys: KeyRingDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ListResponse[TicketOut]:
    views, total = service.list_user_tickets(
        session,
        user=user,
        keys=keys,
        page=page,
        per_page=per_page,
        admitted_at=first_entry_at(),
    )
    return ListResponse(
        data=[TicketOut.from_view(view) for view in views],
        meta=page_meta(page=page, per_page=per_page, total=total),
    )


def _readable_ticket(
    ticket_id: uuid.UUID,
    session: SessionDep,
    keys: KeyRingDep,
    user: OptionalUser,
    token: OrderToken,
) -> service.TicketView:
    # With its first entry (``admitted_at``) in the same statement: check-in's column.
    return service.get_ticket(
        session,
        ticket_id=ticket_id,
        user=user,
        order_token=token,
        keys=keys,
        admitted_at=first_entry_at(),
    )


ReadableTicket = Annotated[service.TicketView, Depends(_readable_ticket)]


def _image_responses(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {media_type: {}}, "description": "The QR code"},
        **error_responses(401, 404, 409, 422),
    }


@router.get(
    "/tickets/{ticket_id}.pdf",
    summary="The ticket as a PDF with its QR code (same access as the ticket)",
    response_class=Response,
    responses=_image_responses("application/pdf"),
)
def get_ticket_pdf(view: ReadableTicket) -> Response:
    from admitone.notifications.service import ticket_view_pdf

    return attachment(
        ticket_view_pdf(view), "application/pdf", f"ticket-{view.order.code}-{view.ticket.id}.pdf"
    )


@router.get(
    "/tickets/{ticket_id:not_pdf}",
    summary="One ticket (its buyer, the order's token holder or the organizer)",
    responses=TICKET_ERRORS,
)
def get_ticket(view: ReadableTicket, response: Response) -> DataResponse[TicketOut]:
    response.headers.update(NO_STORE)
    return DataResponse(data=TicketOut.from_view(view))


def _qr_response(view: service.TicketView, kind: Literal["svg", "png"]) -> Response:
    media_type = "image/svg+xml" if kind == "svg" else "image/png"
    return Response(service.qr_image(view, kind=kind), media_type=media_type, headers=NO_STORE)


@router.get(
    "/tickets/{ticket_id}/qr.svg",
    summary="The ticket's QR code as SVG",
    response_class=Response,
    responses=_image_responses("image/svg+xml"),
)
def get_ticket_qr_svg(view: ReadableTicket) -> Response:
    return _qr_response(view, "svg")


@router.get(
    "/tickets/{ticket_id}/qr.png",
    summary="The ticket's QR code as PNG",
    response_class=Response,
    responses=_image_responses("image/png"),
)
def get_ticket_qr_png(view: ReadableTicket) -> Response:
    return _qr_response(view, "png")


@hot_route(
    router.get,
    "/orders/{order_id}/tickets",
    summary="An order's tickets with their QR payloads (its buyer, token holder or organizer)",
    responses=TICKET_ERRORS,
)
def list_order_tickets(
    order_id: uuid.UUID,
    user: OptionalUser,
    token: OrderToken,
    session: SessionDep,
    keys: KeyRingDep,
    response: Response,
) -> ListResponse[TicketOut]:
    # A hot route: the gate's ticket download. The tickets and their first entries are
    # one statement (tests/test_round_trips.py counts it).
    views = service.list_order_tickets(
        session,
        order_id=order_id,
        user=user,
        order_token=token,
        keys=keys,
        admitted_at=first_entry_at(),
    )
    response.headers.update(NO_STORE)
    return ListResponse(
        data=[TicketOut.from_view(view) for view in views], meta={"total": len(views)}
    )


@router.patch(
    "/orders/{order_id}/tickets/{ticket_id}",
    summary="Set a ticket's attendee name (the order's buyer, when the event asks for names)",
    description=(
        "Only the order's buyer (their account, or the order token) may; anyone else gets "
        "a 404. Refused with a 409 when the event does not ask for names "
        "(`ATTENDEE_NAMES_NOT_ASKED`), the ticket is revoked (`TICKET_REVOKED`) or already "
        "admitted (`TICKET_ALREADY_ADMITTED`), the event has ended (`EVENT_ENDED`) or is "
        "cancelled (`EVENT_CANCELLED`). The QR code does not change; `GET /tickets/{id}` "
        "answers the whole ticket."
    ),
    responses=error_responses(401, 404, 409, 422),
)
def set_holder_name(
    order_id: uuid.UUID,
    ticket_id: uuid.UUID,
    body: HolderNameIn,
    buyer: Buyer,
    session: SessionDep,
    response: Response,
) -> DataResponse[TicketHolderOut]:
    ticket = service.set_holder_name(
        session,
        order_id=order_id,
        ticket_id=ticket_id,
        proof=buyer,
        holder_name=body.holder_name,
        now=utcnow(),
        admitted=ticket_admitted(),
    )
    response.headers.update(NO_STORE)
    return DataResponse(data=TicketHolderOut.model_validate(ticket))
