"""The organizer's cashless reports and reconciliation pages (issue 17, point 8).

Like the JSON API (``cashless.reports_api``): money figures, so who sees the orders
(``view_orders``) sees these; every figure comes from ``cashless.reports``, read live
at each request. Each table has its CSV here, under the page's own login: the API's
``format=csv`` takes a bearer token, which a browser following a link does not send.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.responses import Response

from admitone.authorization import OrgAccess, Permission
from admitone.cashless import reports
from admitone.deps import SessionDep
from admitone.events import service as events
from admitone.events.models import Event
from admitone.spreadsheets import csv_text
from admitone.web.deps import page_org_access, page_router
from admitone.web.i18n import _
from admitone.web.pages.organizer import _org_context
from admitone.web.templating import render

router = page_router()

MoneyAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.view_orders))]
EventId = Annotated[uuid.UUID, Path()]
_REPORTS = "/organizer/{org}/events/{event_id}/cashless/reports"


def grouping_label(by: reports.SalesGrouping) -> str:
    return {
        reports.SalesGrouping.stand: _("Sales by stand"),
        reports.SalesGrouping.product: _("Sales by product"),
        reports.SalesGrouping.hour: _("Sales by hour"),
        reports.SalesGrouping.vat_rate: _("Sales by VAT rate"),
    }[by]


def channel_label(channel: str) -> str:
    return {"online": _("Online"), "cash": _("Cash"), "card": _("Card")}.get(channel, channel)


def liability_rows(found: reports.Liability) -> list[tuple[str, str, int]]:
    """(CSV key, the page's label, amount in minor units) for each liability figure."""
    return [
        ("wallets_minor", _("Owed to attendees (wallet balances)"), found.wallets_minor),
        ("debt_minor", _("Owed by attendees (debt of offline sales)"), found.debt_minor),
        ("written_off_minor", _("Debt written off"), found.written_off_minor),
        ("sales_minor", _("Takings of the stands"), found.sales_minor),
        ("paid_back_minor", _("Paid back by bank transfer"), found.paid_back_minor),
        ("fees_minor", _("Refund fees kept"), found.fees_minor),
        ("unclaimed_minor", _("Unclaimed leftovers"), found.unclaimed_minor),
        ("cash_imbalance_minor", _("Cash counted minus expected"), found.cash_imbalance_minor),
    ]


def _csv(content: str, *, event: Event, name: str) -> Response:
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{name}-{event.slug}.csv"',
            "cache-control": "private, no-store",
        },
    )


@router.get(_REPORTS)
def reports_page(
    request: Request, session: SessionDep, access: MoneyAccess, event_id: EventId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    sales = [
        (by, grouping_label(by), reports.sales(session, event=event, by=by))
        for by in reports.SalesGrouping
    ]
    return render(
        request,
        "organizer/cashless_reports.html",
        _org_context(
            access,
            event=event,
            sales=sales,
            topups=reports.topups(session, event_id=event.id),
            registers=reports.registers(session, event_id=event.id),
            liability=liability_rows(reports.liability(session, event_id=event.id)),
            channel_label=channel_label,
            active="cashless",
            cashless_active="reports",
        ),
    )


@router.get(_REPORTS + "/sales.csv")
def sales_csv(
    session: SessionDep,
    access: MoneyAccess,
    event_id: EventId,
    by: Annotated[reports.SalesGrouping, Query()] = reports.SalesGrouping.stand,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    rows = reports.sales(session, event=event, by=by)
    return _csv(reports.sales_csv(rows, by=by), event=event, name=f"sales-by-{by.value}")


@router.get(_REPORTS + "/topups.csv")
def topups_csv(session: SessionDep, access: MoneyAccess, event_id: EventId) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    rows = reports.topups(session, event_id=event.id)
    return _csv(reports.topups_csv(rows), event=event, name="topups")


@router.get(_REPORTS + "/registers.csv")
def registers_csv(session: SessionDep, access: MoneyAccess, event_id: EventId) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    rows = reports.registers(session, event_id=event.id)
    return _csv(reports.registers_csv(rows), event=event, name="registers")


@router.get(_REPORTS + "/liability.csv")
def liability_csv(session: SessionDep, access: MoneyAccess, event_id: EventId) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    found = reports.liability(session, event_id=event.id)
    content = csv_text(
        ["figure", "amount_minor", "currency"],
        ([key, amount, event.currency] for key, _label, amount in liability_rows(found)),
    )
    return _csv(content, event=event, name="liability")


@router.get(_REPORTS + "/devices.csv")
def devices_csv(session: SessionDep, access: MoneyAccess, event_id: EventId) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    rows = reports.devices(session, event_id=event.id)
    return _csv(reports.devices_csv(rows), event=event, name="pos-devices")


@router.get("/organizer/{org}/events/{event_id}/cashless/reconciliation")
def reconciliation_page(
    request: Request, session: SessionDep, access: MoneyAccess, event_id: EventId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    found = reports.reconciliation(session, event_id=event.id)
    return render(
        request,
        "organizer/cashless_reconciliation.html",
        _org_context(
            access,
            event=event,
            found=found,
            liability=liability_rows(found.liability),
            active="cashless",
            cashless_active="reconciliation",
        ),
    )
