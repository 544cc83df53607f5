"""Organizer pages about sales: the event's figures and chart, its orders, refunds, attendees.

Figures come from ``orders.organizer_views.sales_summary`` (paid sales grouped in SQL),
the most recent holds from ``orders.organizer_views.list_event_orders``,
``events.service.get_event`` (the stock counters) and ``checkin.service.checkin_stats``;
refunds go through ``orders.refunds.refund_order``.
"""

from __future__ import annotations

import csv
import io
import math
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from admitone.authorization import OrgAccess, Permission
from admitone.checkin import service as checkin
from admitone.db import utcnow
from admitone.deps import SessionDep, SettingsDep
from admitone.errors import DomainError
from admitone.events import service as events
from admitone.events.models import Event
from admitone.notifications import service as notifications
from admitone.orders import organizer_views, refunds
from admitone.orders.details import OrderDetails
from admitone.orders.models import OrderStatus
from admitone.orders.transitions import effective_status
from admitone.payments import payouts
from admitone.spreadsheets import safe_cell
from admitone.tickets import queries as ticket_queries
from admitone.tickets.models import Ticket
from admitone.web.deps import Form, form_str, page_org_access, page_router
from admitone.web.formatting import local
from admitone.web.i18n import _
from admitone.web.messages import domain_error_text, error_text
from admitone.web.pages.accounts import redirect
from admitone.web.pages.organizer import _org_context
from admitone.web.templating import render

router = page_router()

ViewAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.view_events))]
OrdersAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.view_orders))]
RefundAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.refund_orders))]
EventId = Annotated[uuid.UUID, Path()]
ORDERS_PER_PAGE = 25
# The most recent holds listed on the event page (the count covers them all).
HOLDS_SHOWN = 50
CHART_DAYS = 30
CHART_MIN_DAYS = 14


def _daily_sales(event: Event, paid_seats: list[tuple[datetime, int]]) -> list[dict[str, Any]]:
    """Tickets sold per day (in the event's time zone) over the last days with sales."""
    per_day: dict[date, int] = defaultdict(int)
    for moment, seats in paid_seats:
        per_day[local(moment, event.timezone).date()] += seats
    today = local(utcnow(), event.timezone).date()
    first = min(per_day, default=today)
    start = max(first, today - timedelta(days=CHART_DAYS - 1))
    start = min(start, today - timedelta(days=CHART_MIN_DAYS - 1))
    days = (today - start).days + 1
    return [
        {
            "day": start + timedelta(days=offset),
            "count": per_day.get(start + timedelta(days=offset), 0),
        }
        for offset in range(max(days, 1))
    ]


def _chart(series: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometry of an inline SVG bar chart (attributes only: the CSP forbids styles)."""
    width, height, left, bottom, top = 640, 220, 36, 28, 12
    peak = max((point["count"] for point in series), default=0)
    scale_max = max(1, math.ceil(peak * 1.1))
    slot = (width - left - 8) / max(len(series), 1)
    bar_width = min(28.0, max(2.0, slot * 0.7))
    bars = []
    for index, point in enumerate(series):
        bar_height = (height - bottom - top) * point["count"] / scale_max
        bars.append(
            {
                "x": round(left + index * slot + (slot - bar_width) / 2, 1),
                "y": round(height - bottom - bar_height, 1),
                "width": round(bar_width, 1),
                "height": round(bar_height, 1),
                "day": point["day"],
                "count": point["count"],
                "label": index in (0, len(series) - 1) or index % 7 == 0,
            }
        )
    return {
        "width": width,
        "height": height,
        "left": left,
        "bottom": bottom,
        "top": top,
        "max": scale_max,
        "bars": bars,
    }


def payment_status_label(status: object) -> str:
    return {
        "pending": _("Pending"),
        "succeeded": _("Succeeded"),
        "failed": _("Failed"),
        "refunded": _("Refunded"),
    }.get(str(status), str(status))


# ":uuid": "new" is not an event id (organizer.py's /events/new; tests/test_routes.py).
@router.get("/organizer/{org}/events/{event_id:uuid}")
def event_overview(
    request: Request, session: SessionDep, access: ViewAccess, event_id: EventId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    summary = organizer_views.SalesSummary(by_ticket_type={}, paid_seats=[])
    pending: list[OrderDetails] = []
    pending_total = 0
    payout = None
    if access.allows(Permission.view_orders):
        summary = organizer_views.sales_summary(session, access=access, event_id=event.id)
        # The API's GET .../payout figures, from the same function.
        payout = payouts.payout_summary(session, event=event)
        pending, pending_total = organizer_views.list_event_orders(
            session,
            access=access,
            event_id=event.id,
            now=utcnow(),
            status=OrderStatus.pending,
            per_page=HOLDS_SHOWN,
        )
    none_sold = organizer_views.TicketTypeSales(tickets=0, revenue_minor=0)
    types = [
        {
            "type": ticket_type,
            "tickets": summary.by_ticket_type.get(ticket_type.id, none_sold).tickets,
            "revenue": summary.by_ticket_type.get(ticket_type.id, none_sold).revenue_minor,
        }
        for ticket_type in event.ticket_types
    ]
    deletable = (
        events.deletable_ticket_type_ids(session, access=access, event_id=event.id)
        if access.allows(Permission.manage_events)
        else set()
    )
    event_access = checkin.resolve_event_access(
        session, event_id=event.id, user=access.user, permission=Permission.view_events
    )
    stats = checkin.checkin_stats(session, access=event_access)
    series = _daily_sales(event, summary.paid_seats)
    holds = [
        {
            "order": details.order,
            "seats": sum(line.item.quantity for line in details.lines),
        }
        for details in pending
    ]
    return render(
        request,
        "organizer/event.html",
        _org_context(
            access,
            event=event,
            types=types,
            revenue=sum(row["revenue"] for row in types),
            sold=sum(t.quantity_sold for t in event.ticket_types),
            capacity=sum(t.capacity for t in event.ticket_types if t.is_active),
            held=sum(t.quantity_held for t in event.ticket_types),
            holds=holds,
            stats=stats,
            series=series,
            chart=_chart(series),
            paid_orders=summary.paid_orders,
            holds_total=pending_total,
            payout=payout,
            deletable=deletable,
            has_sales_text=error_text("TICKET_TYPE_HAS_SALES", 409),
        ),
    )


@router.get("/organizer/{org}/events/{event_id}/orders")
def event_orders(
    request: Request,
    session: SessionDep,
    access: OrdersAccess,
    event_id: EventId,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    text = (q or "").replace("\x00", "").strip() or None
    found, total = organizer_views.list_event_orders(
        session,
        access=access,
        event_id=event.id,
        now=utcnow(),
        text=text,
        page=page,
        per_page=ORDERS_PER_PAGE,
    )
    now = utcnow()
    rows = [
        {"details": details, "status": str(effective_status(details.order, now=now))}
        for details in found
    ]
    return render(
        request,
        "organizer/orders.html",
        _org_context(
            access,
            event=event,
            rows=rows,
            total=total,
            q=text or "",
            page=page,
            pages=max(1, math.ceil(total / ORDERS_PER_PAGE)),
            can_refund=access.allows(Permission.refund_orders),
        ),
    )


def _render_order(
    request: Request,
    session: Any,
    access: OrgAccess,
    event: Event,
    order_id: uuid.UUID,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """One order: its lines, tickets, payments and refunds, and what may be done with it."""
    record = organizer_views.get_event_order_record(
        session, access=access, event_id=event.id, order_id=order_id
    )
    return render(
        request,
        "organizer/order.html",
        _org_context(
            access,
            event=event,
            record=record,
            order=record.details.order,
            row={"status": str(effective_status(record.details.order, now=utcnow()))},
            # Each ticket's first entry on any check-in list (check-in's presences).
            admitted=checkin.first_entries(
                session, ticket_ids=[item.ticket.id for item in record.tickets]
            ),
            can_refund=access.allows(Permission.refund_orders),
            payment_status_label=payment_status_label,
            error=error,
        ),
        status_code=status_code,
    )


@router.get("/organizer/{org}/events/{event_id}/orders/{order_id}")
def order_page(
    request: Request,
    session: SessionDep,
    access: OrdersAccess,
    event_id: EventId,
    order_id: Annotated[uuid.UUID, Path()],
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    return _render_order(request, session, access, event, order_id)


@router.post("/organizer/{org}/events/{event_id}/orders/{order_id}/resend")
def resend_tickets(
    request: Request,
    session: SessionDep,
    access: OrdersAccess,
    event_id: EventId,
    order_id: Annotated[uuid.UUID, Path()],
) -> Response:
    """The confirmation mail again (``notifications.service.resend_order_confirmation``)."""
    event = events.get_event(session, access=access, event_id=event_id)
    try:
        notifications.resend_order_confirmation(
            session, access=access, event_id=event.id, order_id=order_id
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        return _render_order(
            request,
            session,
            access,
            event,
            order_id,
            error=domain_error_text(exc),
            status_code=exc.status,
        )
    return redirect(
        f"/organizer/{access.organization.slug}/events/{event.id}/orders/{order_id}",
        flash="tickets_resent",
    )


def _render_refund(
    request: Request,
    session: Any,
    access: OrgAccess,
    *,
    event_id: uuid.UUID,
    order_id: uuid.UUID,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    record = organizer_views.get_event_order_record(
        session, access=access, event_id=event.id, order_id=order_id
    )
    return render(
        request,
        "organizer/refund.html",
        _org_context(
            access,
            event=event,
            details=record.details,
            record=record,
            status=str(effective_status(record.details.order, now=utcnow())),
            error=error,
        ),
        status_code=status_code,
    )


@router.get("/organizer/{org}/events/{event_id}/orders/{order_id}/refund")
def refund_confirm(
    request: Request,
    session: SessionDep,
    access: RefundAccess,
    event_id: EventId,
    order_id: Annotated[uuid.UUID, Path()],
) -> Response:
    return _render_refund(request, session, access, event_id=event_id, order_id=order_id)


def _ticket_ids(form: FormData) -> list[uuid.UUID] | None:
    """The ticked tickets (none: the whole order); None when one is not a ticket id."""
    try:
        return [uuid.UUID(str(value)) for value in form.getlist("ticket_id")]
    except ValueError:
        return None


@router.post("/organizer/{org}/events/{event_id}/orders/{order_id}/refund")
def refund_submit(
    request: Request,
    form: Form,
    session: SessionDep,
    settings: SettingsDep,
    access: RefundAccess,
    event_id: EventId,
    order_id: Annotated[uuid.UUID, Path()],
) -> Response:
    """The whole order, or only the ticked tickets (``refunds.refund_order`` either way)."""
    event = events.get_event(session, access=access, event_id=event_id)
    partial = form_str(form, "scope") == "tickets"
    ticket_ids = _ticket_ids(form) if partial else []
    if ticket_ids is None or (partial and not ticket_ids):
        return _render_refund(
            request,
            session,
            access,
            event_id=event.id,
            order_id=order_id,
            error=_("Tick at least one ticket to refund."),
            status_code=422,
        )
    try:
        refunds.refund_order(
            session,
            access=access,
            event_id=event.id,
            order_id=order_id,
            reason=form_str(form, "reason")[:100],
            now=utcnow(),
            settings=settings,
            ticket_ids=ticket_ids or None,
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        return _render_refund(
            request,
            session,
            access,
            event_id=event_id,
            order_id=order_id,
            error=domain_error_text(exc),
            status_code=exc.status,
        )
    if ticket_ids:
        return redirect(
            f"/organizer/{access.organization.slug}/events/{event.id}/orders/{order_id}",
            flash="refunded_tickets",
        )
    return redirect(
        f"/organizer/{access.organization.slug}/events/{event.id}/orders", flash="refunded"
    )


@router.get("/organizer/{org}/events/{event_id}/attendees.csv")
def attendees_csv(session: SessionDep, access: OrdersAccess, event_id: EventId) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    # No "attendees of an event" service yet: the tickets' scoped statement, with the
    # caller as reader, gives exactly the tickets an order viewer may read.
    rows = session.execute(
        ticket_queries.readable_tickets(user=access.user, order_token_hash=None)
        .where(Ticket.event_id == event.id)
        .order_by(Ticket.created_at, Ticket.id)
    ).all()
    admitted = checkin.first_entries_of_event(session, event_id=event.id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "ticket_id",
            "holder_name",
            "ticket_type",
            "ticket_status",
            "admitted_at",
            "order_code",
            "order_status",
            "buyer_name",
            "buyer_email",
        ]
    )
    for ticket, order, _event, ticket_type in rows:
        writer.writerow(
            [
                safe_cell(ticket.id),
                safe_cell(ticket.holder_name),
                safe_cell(ticket_type.name),
                safe_cell(ticket.status),
                safe_cell(admitted[ticket.id].isoformat() if ticket.id in admitted else None),
                safe_cell(order.code),
                safe_cell(order.status),
                safe_cell(order.buyer_name),
                safe_cell(order.buyer_email),
            ]
        )
    filename = f"attendees-{event.slug}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "private, no-store",
        },
    )
