"""The organizer's cashless reports and reconciliation: JSON, or CSV with ``format=csv``.

Money figures: who may see the orders may see these (``view_orders``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from admitone.authorization import OrgAccess, Permission
from admitone.cashless import reports
from admitone.cashless.report_schemas import (
    DeviceFiguresOut,
    LiabilityOut,
    ReconciliationOut,
    RegisterRowOut,
    SalesRowOut,
    TopupRowOut,
)
from admitone.deps import SessionDep, org_access
from admitone.errors import error_responses
from admitone.events import service as events_service
from admitone.events.models import Event
from admitone.schemas import DataResponse, ListResponse

router = APIRouter(
    prefix="/organizations/{org}/events/{event_id}/cashless", tags=["cashless reports"]
)
EventId = Annotated[uuid.UUID, Path(description="The event's id")]
MoneyAccess = Annotated[OrgAccess, Depends(org_access(Permission.view_orders))]
Format = Annotated[Literal["json", "csv"], Query()]
_CSV_RESPONSES = {**error_responses(401, 403, 404, 422), 200: {"content": {"text/csv": {}}}}


def _csv(content: str, *, event: Event, name: str) -> Response:
    return Response(
        content=content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{event.slug}.csv"'},
    )


@router.get(
    "/reconciliation",
    summary="The trial balance, the money owed, per-device offline figures, online "
    "top-ups against the provider",
    responses=error_responses(401, 403, 404, 422),
)
def reconciliation(
    event_id: EventId, access: MoneyAccess, session: SessionDep
) -> DataResponse[ReconciliationOut]:
    event = events_service.get_event(session, access=access, event_id=event_id)
    found = reports.reconciliation(session, event_id=event.id)
    return DataResponse(data=ReconciliationOut.from_reconciliation(found, currency=event.currency))


@router.get(
    "/reports/sales",
    summary="Sales (net of reversals) by stand, product, hour or VAT rate",
    responses=_CSV_RESPONSES,
)
def sales_report(
    event_id: EventId,
    access: MoneyAccess,
    session: SessionDep,
    by: Annotated[reports.SalesGrouping, Query()] = reports.SalesGrouping.stand,
    format: Format = "json",
) -> Any:
    event = events_service.get_event(session, access=access, event_id=event_id)
    rows = reports.sales(session, event=event, by=by)
    if format == "csv":
        return _csv(reports.sales_csv(rows, by=by), event=event, name=f"sales-by-{by.value}")
    return ListResponse(
        data=[SalesRowOut.model_validate(row) for row in rows],
        meta={"currency": event.currency, "by": by.value},
    )


@router.get("/reports/topups", summary="Top-ups credited, by channel", responses=_CSV_RESPONSES)
def topups_report(
    event_id: EventId, access: MoneyAccess, session: SessionDep, format: Format = "json"
) -> Any:
    event = events_service.get_event(session, access=access, event_id=event_id)
    rows = reports.topups(session, event_id=event.id)
    if format == "csv":
        return _csv(reports.topups_csv(rows), event=event, name="topups")
    return ListResponse(
        data=[TopupRowOut.model_validate(row) for row in rows], meta={"currency": event.currency}
    )


@router.get(
    "/reports/registers",
    summary="Cash registers: expected against counted at each close-out",
    responses=_CSV_RESPONSES,
)
def registers_report(
    event_id: EventId, access: MoneyAccess, session: SessionDep, format: Format = "json"
) -> Any:
    event = events_service.get_event(session, access=access, event_id=event_id)
    rows = reports.registers(session, event_id=event.id)
    if format == "csv":
        return _csv(reports.registers_csv(rows), event=event, name="registers")
    return ListResponse(
        data=[
            RegisterRowOut(
                register_id=row.register_id,
                stand=row.stand,
                opened_at=row.opened_at,
                closed_at=row.closed_at,
                opening_float_minor=row.opening_float_minor,
                expected_minor=row.expected_minor,
                counted_minor=row.counted_minor,
                difference_minor=row.difference_minor,
            )
            for row in rows
        ],
        meta={"currency": event.currency},
    )


@router.get(
    "/reports/liability",
    summary="Money still owed to attendees, their debt, write-offs and leftovers",
    responses=error_responses(401, 403, 404, 422),
)
def liability_report(
    event_id: EventId, access: MoneyAccess, session: SessionDep
) -> DataResponse[LiabilityOut]:
    event = events_service.get_event(session, access=access, event_id=event_id)
    return DataResponse(
        data=LiabilityOut.model_validate(reports.liability(session, event_id=event.id))
    )


@router.get(
    "/reports/devices",
    summary="Per point-of-sale device: offline sales, duplicates, debts, sequence gaps",
    responses=_CSV_RESPONSES,
)
def devices_report(
    event_id: EventId, access: MoneyAccess, session: SessionDep, format: Format = "json"
) -> Any:
    event = events_service.get_event(session, access=access, event_id=event_id)
    rows = reports.devices(session, event_id=event.id)
    if format == "csv":
        return _csv(reports.devices_csv(rows), event=event, name="pos-devices")
    return ListResponse(data=[DeviceFiguresOut.model_validate(row) for row in rows])
