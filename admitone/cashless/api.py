"""Cashless JSON routes: the organizer's settings and wallets, the attendee's own wallet."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status

from admitone.authorization import OrgAccess, Permission
from admitone.cashless import settings as cashless_settings
from admitone.cashless import topups, wallets
from admitone.cashless.schemas import (
    CashlessSettingsIn,
    CashlessSettingsOut,
    OrganizerWalletOut,
    PassReplaceIn,
    ReplacedPassOut,
    TopupIn,
    TopupPaymentOut,
    TransactionOut,
    WalletCardOut,
    WalletOut,
)
from admitone.db import utcnow
from admitone.deps import (
    CurrentUser,
    DatabaseDep,
    KeyRingDep,
    SessionDep,
    SettingsDep,
    org_access,
    rate_limit,
)
from admitone.errors import error_responses
from admitone.orders.schemas import IdempotencyKey, SearchText
from admitone.schemas import DataResponse, ListResponse, page_meta

# /api/v1/organizations/{org}/events/{event_id}/cashless and .../wallets
organizer_router = APIRouter(prefix="/organizations/{org}/events/{event_id}", tags=["cashless"])
# /api/v1/me/wallets...
me_router = APIRouter(prefix="/me/wallets", tags=["cashless"])

Page = Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1")]
PerPage = Annotated[int, Query(ge=1, le=100, description="Items per page (at most 100)")]

ReadAccess = Annotated[OrgAccess, Depends(org_access(Permission.view_events))]
ManageAccess = Annotated[OrgAccess, Depends(org_access(Permission.manage_events))]
PassAccess = Annotated[OrgAccess, Depends(org_access(Permission.replace_wallet_passes))]


# --- the organizer's ---------------------------------------------------------------------


@organizer_router.get(
    "/cashless",
    summary="The event's cashless settings (the defaults, switched off, if never set)",
    responses=error_responses(401, 403, 404, 422),
)
def get_cashless_settings(
    event_id: uuid.UUID, access: ReadAccess, session: SessionDep
) -> DataResponse[CashlessSettingsOut]:
    found = cashless_settings.get_cashless(session, access=access, event_id=event_id)
    return DataResponse(data=CashlessSettingsOut.build(found))


@organizer_router.put(
    "/cashless",
    summary="Set the event's cashless: on or off, limits, offline caps, refund window",
    description=(
        "Replaces every setting (an omitted one takes its default). Amounts are minor "
        "units of the event's currency. A rule broken between fields (the maximum below "
        "the minimum, a sale cap above the wallet cap, a donation without its recipient) "
        "is a 422 naming the field, and nothing changes."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
)
def put_cashless_settings(
    event_id: uuid.UUID, body: CashlessSettingsIn, access: ManageAccess, session: SessionDep
) -> DataResponse[CashlessSettingsOut]:
    found = cashless_settings.set_cashless(
        session, access=access, event_id=event_id, values=body.values()
    )
    return DataResponse(data=CashlessSettingsOut.build(found))


@organizer_router.get(
    "/wallets",
    summary="The event's wallets, found by their holder's e-mail or name or a printed code",
    responses=error_responses(401, 403, 404, 422),
)
def find_wallets(
    event_id: uuid.UUID,
    access: ReadAccess,
    session: SessionDep,
    search: SearchText | None = None,
    page: Page = 1,
    per_page: PerPage = 20,
) -> ListResponse[OrganizerWalletOut]:
    found, total = wallets.find_wallets(
        session, access=access, event_id=event_id, search=search, page=page, per_page=per_page
    )
    return ListResponse(
        data=[OrganizerWalletOut.of(summary, holder, code) for summary, holder, code in found],
        meta=page_meta(page=page, per_page=per_page, total=total),
    )


@organizer_router.post(
    "/wallets/{wallet_id}/passes/replace",
    status_code=status.HTTP_201_CREATED,
    summary="A lost phone or wristband: revoke the wallet's pass, issue a new one",
    description="The money stays in the wallet. Organizers and cashiers.",
    responses=error_responses(401, 403, 404, 422, 503),
)
def replace_pass(
    event_id: uuid.UUID,
    wallet_id: uuid.UUID,
    body: PassReplaceIn,
    access: PassAccess,
    session: SessionDep,
) -> DataResponse[ReplacedPassOut]:
    replaced = wallets.replace_pass(
        session,
        access=access,
        event_id=event_id,
        wallet_id=wallet_id,
        reason=body.reason,
        now=utcnow(),
    )
    return DataResponse(data=ReplacedPassOut.build(replaced))


def _set_blocked(
    session: SessionDep, access: OrgAccess, event_id: uuid.UUID, wallet_id: uuid.UUID, blocked: bool
) -> DataResponse[WalletOut]:
    summary = wallets.set_wallet_blocked(
        session,
        access=access,
        event_id=event_id,
        wallet_id=wallet_id,
        blocked=blocked,
        now=utcnow(),
    )
    return DataResponse(data=WalletOut.build(summary))


@organizer_router.post(
    "/wallets/{wallet_id}/block",
    summary="Block a wallet: it cannot spend, online or offline (its money stays)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def block_wallet(
    event_id: uuid.UUID, wallet_id: uuid.UUID, access: ManageAccess, session: SessionDep
) -> DataResponse[WalletOut]:
    return _set_blocked(session, access, event_id, wallet_id, True)


@organizer_router.post(
    "/wallets/{wallet_id}/unblock",
    summary="Unblock a wallet",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def unblock_wallet(
    event_id: uuid.UUID, wallet_id: uuid.UUID, access: ManageAccess, session: SessionDep
) -> DataResponse[WalletOut]:
    return _set_blocked(session, access, event_id, wallet_id, False)


# --- the attendee's ----------------------------------------------------------------------


@me_router.get("", summary="My wallets, the newest event first", responses=error_responses(401))
def my_wallets(
    user: CurrentUser, session: SessionDep, database: DatabaseDep
) -> ListResponse[WalletOut]:
    found = wallets.my_wallets(session, database=database, user_id=user.id)
    return ListResponse(data=[WalletOut.build(summary) for summary in found])


@me_router.get(
    "/{event_id}",
    summary="My wallet for an event, with its pass signed now (opened on the first call)",
    description=(
        "Opens the wallet the first time, for a published event with cashless on. The "
        "pass's QR is signed now: it carries its validity (`not_after`) and the offline "
        "caps (the event's, never more than the balance less the debt)."
    ),
    responses=error_responses(401, 404, 409, 422, 503),
)
def my_wallet(
    event_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    database: DatabaseDep,
    keys: KeyRingDep,
) -> DataResponse[WalletCardOut]:
    card = wallets.my_wallet(
        session, database=database, keys=keys, event_id=event_id, user_id=user.id, now=utcnow()
    )
    return DataResponse(data=WalletCardOut.from_card(card))


@me_router.get(
    "/{event_id}/transactions",
    summary="My wallet's history: top-ups, sales with their stand and items, the newest first",
    responses=error_responses(401, 404, 422),
)
def my_transactions(
    event_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    page: Page = 1,
    per_page: PerPage = 20,
) -> ListResponse[TransactionOut]:
    entries, total = wallets.wallet_history(
        session, event_id=event_id, user_id=user.id, page=page, per_page=per_page
    )
    return ListResponse(
        data=[TransactionOut.build(entry) for entry in entries],
        meta=page_meta(page=page, per_page=per_page, total=total),
    )


@me_router.post(
    "/{event_id}/topups",
    status_code=status.HTTP_201_CREATED,
    summary="Top up my wallet: answers a payment with its checkout_url",
    description=(
        "Send an `Idempotency-Key` header to retry safely: the same key and amount answer "
        "the same top-up and payment (200); the key with another amount is refused (422 "
        "`IDEMPOTENCY_KEY_REUSED`). Refusals: 422 `TOPUP_BELOW_MINIMUM`, "
        "`TOPUP_ABOVE_MAXIMUM`; 409 `BALANCE_LIMIT_REACHED` (details: the room left), "
        "`WALLET_BLOCKED`, `WALLET_CLOSED`, `CASHLESS_NOT_ENABLED`."
    ),
    responses=error_responses(401, 404, 409, 422, 429, 502, 503),
    dependencies=[Depends(rate_limit("payment"))],
)
def start_topup(
    event_id: uuid.UUID,
    body: TopupIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: Annotated[IdempotencyKey | None, Header()] = None,
) -> DataResponse[TopupPaymentOut]:
    started = topups.start_topup(
        session,
        event_id=event_id,
        user_id=user.id,
        amount_minor=body.amount_minor,
        idempotency_key=idempotency_key,
        now=utcnow(),
        settings=settings,
    )
    if started.replayed:
        response.status_code = status.HTTP_200_OK
    return DataResponse(data=TopupPaymentOut.build(started.topup, started.payment))
