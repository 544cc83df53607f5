"""Leftover refunds: the attendee's request (and what it would give), the organizer's
list of payouts, their SEPA export, and the close of the event's cashless."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from admitone.authorization import OrgAccess, Permission
from admitone.cashless import payouts
from admitone.cashless.models import PayoutStatus
from admitone.cashless.payout_schemas import (
    ClosedCashlessOut,
    OrganizerPayoutOut,
    PayoutExportOut,
    PayoutOut,
    RefundQuoteOut,
    RefundRequestIn,
    SepaExportIn,
)
from admitone.db import utcnow
from admitone.deps import CurrentUser, SessionDep, SettingsDep, org_access, rate_limit
from admitone.errors import error_responses
from admitone.schemas import DataResponse, ListResponse, page_meta

# /api/v1/me/wallets/{event_id}/refund...
me_router = APIRouter(prefix="/me/wallets/{event_id}", tags=["cashless"])
# /api/v1/organizations/{org}/events/{event_id}/cashless/payouts..., /close
organizer_router = APIRouter(
    prefix="/organizations/{org}/events/{event_id}/cashless", tags=["cashless payouts"]
)

EventId = Annotated[uuid.UUID, Path(description="The event's id")]
Page = Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1")]
PerPage = Annotated[int, Query(ge=1, le=500, description="Items per page (at most 500)")]
# Money figures: who sees the orders sees the payouts; who refunds orders exports and closes.
MoneyAccess = Annotated[OrgAccess, Depends(org_access(Permission.view_orders))]
RefundAccess = Annotated[OrgAccess, Depends(org_access(Permission.refund_orders))]


@me_router.get(
    "/refund",
    summary="My wallet's leftover refund: what asking now gives, or why not, or the payout made",
    responses=error_responses(401, 404, 409, 422),
)
def my_refund(
    event_id: EventId, user: CurrentUser, session: SessionDep
) -> DataResponse[RefundQuoteOut]:
    quote = payouts.refund_quote(session, event_id=event_id, user_id=user.id, now=utcnow())
    return DataResponse(data=RefundQuoteOut.build(quote))


@me_router.post(
    "/refund-request",
    status_code=status.HTTP_201_CREATED,
    summary="Ask for my wallet's leftover back, after the event and within its refund window",
    description=(
        "Settles the wallet's debt, keeps the event's fee, refunds what online top-ups paid "
        "to their cards at once and the rest by bank transfer to the IBAN given (needed "
        "only then). The wallet can spend no more. Once per wallet: asking again answers "
        "the payout made (200). Refusals: 409 `REFUND_WINDOW_NOT_OPEN`, "
        "`REFUND_WINDOW_CLOSED`, `NOTHING_TO_REFUND`, `REFUND_BELOW_MINIMUM`, "
        "`WALLET_BLOCKED`, `WALLET_CLOSED`; 422 `BANK_ACCOUNT_REQUIRED`, `IBAN_INVALID`, "
        "`BIC_INVALID` (details name the field); 502 if the payment provider failed "
        "(nothing changed: ask again)."
    ),
    responses=error_responses(401, 404, 409, 422, 429, 502, 503),
    dependencies=[Depends(rate_limit("payment"))],
)
def request_refund(
    event_id: EventId,
    body: RefundRequestIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> DataResponse[PayoutOut]:
    requested = payouts.request_refund(
        session,
        event_id=event_id,
        user_id=user.id,
        holder=body.account_holder,
        iban=body.iban,
        bic=body.bic,
        now=utcnow(),
        settings=settings,
    )
    if requested.replayed:
        response.status_code = status.HTTP_200_OK
    return DataResponse(data=PayoutOut.build(requested.payout))


@organizer_router.get(
    "/payouts",
    summary="The event's leftover payouts, the newest first (JSON by page, or every one as "
    "CSV with format=csv)",
    responses={**error_responses(401, 403, 404, 422), 200: {"content": {"text/csv": {}}}},
)
def list_payouts(
    event_id: EventId,
    access: MoneyAccess,
    session: SessionDep,
    status_: Annotated[PayoutStatus | None, Query(alias="status")] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    page: Page = 1,
    per_page: PerPage = 50,
) -> Any:
    # The CSV is an export: every payout, whatever the page asked.
    event, rows, total = payouts.list_payouts(
        session,
        access=access,
        event_id=event_id,
        status=status_,
        page=page,
        per_page=None if format == "csv" else per_page,
    )
    if format == "csv":
        return Response(
            content=payouts.payouts_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="payouts-{event.slug}.csv"'},
        )
    return ListResponse(
        data=[OrganizerPayoutOut.of(row) for row in rows],
        meta={**page_meta(page=page, per_page=per_page, total=total), "currency": event.currency},
    )


@organizer_router.post(
    "/payout-exports",
    status_code=status.HTTP_201_CREATED,
    summary="Export the bank payouts not yet exported as a SEPA credit transfer (pain.001)",
    description=(
        "From the organizer's account given (the debtor). Each payout is exported once; the "
        "file is kept: download it from `GET .../payout-exports/{export_id}`. 409 "
        "`NOTHING_TO_EXPORT`, `SEPA_EURO_ONLY`; 422 `IBAN_INVALID` (`debtor_iban`)."
    ),
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def export_payouts(
    event_id: EventId, body: SepaExportIn, access: RefundAccess, session: SessionDep
) -> DataResponse[PayoutExportOut]:
    now = utcnow()
    export = payouts.export_sepa(
        session,
        access=access,
        event_id=event_id,
        debtor_name=body.debtor_name,
        debtor_iban=body.debtor_iban,
        debtor_bic=body.debtor_bic,
        execution_date=body.execution_date or now.date(),
        now=now,
    )
    return DataResponse(data=PayoutExportOut.build(export))


@organizer_router.get(
    "/payout-exports/{export_id}",
    summary="Download a SEPA credit transfer file made earlier (pain.001 XML)",
    responses={
        **error_responses(401, 403, 404, 422),
        200: {"content": {"application/xml": {}}},
    },
)
def download_export(
    event_id: EventId, export_id: uuid.UUID, access: RefundAccess, session: SessionDep
) -> Response:
    export = payouts.get_export(session, access=access, event_id=event_id, export_id=export_id)
    return Response(
        content=export.xml,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="sepa-{export.id}.xml"'},
    )


@organizer_router.post(
    "/close",
    summary="Close the event's cashless after its refund window: leftovers unclaimed, "
    "debts written off, wallets closed",
    description="Closing again books nothing more (it answers zeros and the totals). "
    "409 `CASHLESS_CLOSE_TOO_EARLY` while the refund window is open.",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def close_cashless(
    event_id: EventId, access: RefundAccess, session: SessionDep
) -> DataResponse[ClosedCashlessOut]:
    closed = payouts.close_cashless(session, access=access, event_id=event_id, now=utcnow())
    return DataResponse(data=ClosedCashlessOut.build(closed))
