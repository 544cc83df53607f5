"""Point-of-sale JSON routes: the organizer's stands and products, the cashiers' sales."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from admitone.authorization import OrgAccess, Permission
from admitone.cashless import offline, pos, pos_devices, stands
from admitone.cashless.errors import IdempotencyKeyRequired
from admitone.cashless.models import StandKind, TopupChannel
from admitone.cashless.pos_schemas import (
    BundlePassOut,
    BundleProductOut,
    ChargeIn,
    ChargeOut,
    IdempotencyKey,
    OfflineBatchIn,
    OfflineBatchOut,
    PosBundleOut,
    PosDeviceIn,
    PosDeviceOut,
    ProductIn,
    ProductOut,
    ProductPatch,
    RegisterCloseIn,
    RegisterIn,
    RegisterOut,
    ReversalOut,
    StandIn,
    StandOut,
    StandPatch,
    TopupIn,
    TopupOut,
)
from admitone.db import utcnow
from admitone.deps import (
    BearerCredentials,
    CurrentUser,
    KeyRingDep,
    SessionDep,
    SettingsDep,
    org_access,
)
from admitone.errors import NotAuthenticated, error_responses
from admitone.schemas import DataResponse, ListResponse, data_response

# /api/v1/organizations/{org}/events/{event_id}/stands...
organizer_router = APIRouter(
    prefix="/organizations/{org}/events/{event_id}/stands", tags=["point of sale"]
)
# /api/v1/pos/...
router = APIRouter(prefix="/pos", tags=["point of sale"])

ViewAccess = Annotated[OrgAccess, Depends(org_access(Permission.view_events))]
ManageAccess = Annotated[OrgAccess, Depends(org_access(Permission.manage_events))]
EventId = Annotated[uuid.UUID, Path(description="The event's id")]
StandId = Annotated[uuid.UUID, Path(description="The stand's id")]
ProductId = Annotated[uuid.UUID, Path(description="The product's id")]
UserId = Annotated[uuid.UUID, Path(description="The member's user id")]


# --- the organizer's stands, products and cashiers -----------------------------------------


@organizer_router.get(
    "",
    summary="The event's stands and their cashiers",
    responses=error_responses(401, 403, 404, 422),
)
def list_stands(
    event_id: EventId, access: ViewAccess, session: SessionDep
) -> ListResponse[StandOut]:
    views = stands.list_stands(session, access=access, event_id=event_id)
    return ListResponse(data=[StandOut.from_view(view) for view in views])


@organizer_router.post(
    "",
    status_code=201,
    summary="Add a stand: a bar, a food stand, a shop or a top-up desk",
    responses=error_responses(401, 403, 404, 409, 422),
)
def create_stand(
    event_id: EventId, body: StandIn, access: ManageAccess, session: SessionDep
) -> DataResponse[StandOut]:
    view = stands.create_stand(
        session, access=access, event_id=event_id, name=body.name, kind=StandKind(body.kind)
    )
    return DataResponse(data=StandOut.from_view(view))


@organizer_router.patch(
    "/{stand_id}",
    summary="Change a stand (the fields sent): its name, kind, or close it",
    responses=error_responses(401, 403, 404, 409, 422),
)
def update_stand(
    event_id: EventId,
    stand_id: StandId,
    body: StandPatch,
    access: ManageAccess,
    session: SessionDep,
) -> DataResponse[StandOut]:
    view = stands.update_stand(
        session, access=access, event_id=event_id, stand_id=stand_id, changes=body.changes()
    )
    return DataResponse(data=StandOut.from_view(view))


@organizer_router.put(
    "/{stand_id}/cashiers/{user_id}",
    summary="Let a member sell at the stand (a cashier, an admin or an owner)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def assign_cashier(
    event_id: EventId, stand_id: StandId, user_id: UserId, access: ManageAccess, session: SessionDep
) -> DataResponse[StandOut]:
    view = stands.assign_cashier(
        session, access=access, event_id=event_id, stand_id=stand_id, user_id=user_id
    )
    return DataResponse(data=StandOut.from_view(view))


@organizer_router.delete(
    "/{stand_id}/cashiers/{user_id}",
    status_code=204,
    summary="The member no longer sells at the stand",
    responses=error_responses(401, 403, 404, 422),
)
def unassign_cashier(
    event_id: EventId, stand_id: StandId, user_id: UserId, access: ManageAccess, session: SessionDep
) -> Response:
    stands.unassign_cashier(
        session, access=access, event_id=event_id, stand_id=stand_id, user_id=user_id
    )
    return Response(status_code=204)


@organizer_router.get(
    "/{stand_id}/products",
    summary="The stand's products (inactive ones too)",
    responses=error_responses(401, 403, 404, 422),
)
def list_products(
    event_id: EventId, stand_id: StandId, access: ViewAccess, session: SessionDep
) -> ListResponse[ProductOut]:
    found = stands.list_products(session, access=access, event_id=event_id, stand_id=stand_id)
    return ListResponse(data=[ProductOut.model_validate(product) for product in found])


@organizer_router.post(
    "/{stand_id}/products",
    status_code=201,
    summary="Add a product to the stand: its price includes VAT",
    responses=error_responses(401, 403, 404, 422),
)
def create_product(
    event_id: EventId,
    stand_id: StandId,
    body: ProductIn,
    access: ManageAccess,
    session: SessionDep,
) -> DataResponse[ProductOut]:
    product = stands.create_product(
        session, access=access, event_id=event_id, stand_id=stand_id, fields=body.model_dump()
    )
    return DataResponse(data=ProductOut.model_validate(product))


@organizer_router.patch(
    "/{stand_id}/products/{product_id}",
    summary="Change a product (the fields sent), set its stock or add to it",
    description="`stock` sets the count (null: unlimited); `stock_add` adds to it (negative: "
    "takes away) without losing a sale made meanwhile, and never below zero. Past sales keep "
    "the name, price and VAT they were sold at.",
    responses=error_responses(401, 403, 404, 422),
)
def update_product(
    event_id: EventId,
    stand_id: StandId,
    product_id: ProductId,
    body: ProductPatch,
    access: ManageAccess,
    session: SessionDep,
) -> DataResponse[ProductOut]:
    product = stands.update_product(
        session,
        access=access,
        event_id=event_id,
        stand_id=stand_id,
        product_id=product_id,
        changes=body.changes(),
        stock_added=body.stock_add,
    )
    return DataResponse(data=ProductOut.model_validate(product))


# --- the cashiers' point of sale -----------------------------------------------------------


async def required_idempotency_key(
    idempotency_key: Annotated[
        IdempotencyKey | None,
        Header(description="One per sale, top-up or close, the same when sending it again"),
    ] = None,
) -> str:
    """The ``Idempotency-Key`` every point-of-sale write carries (400 without one)."""
    if idempotency_key is None:
        raise IdempotencyKeyRequired()
    return idempotency_key


RequiredKey = Annotated[str, Depends(required_idempotency_key)]
REPLAY = (
    "Send an `Idempotency-Key` header: the same key with the same body answers the first "
    "call's answer again (200), never a second booking; with another body it is refused "
    "(422 `IDEMPOTENCY_KEY_REUSED`)."
)


def _answered(
    answer: pos.Answer, shape: type[ChargeOut | ReversalOut | RegisterOut | TopupOut]
) -> Response:
    code = status.HTTP_200_OK if answer.replayed else status.HTTP_201_CREATED
    return data_response(shape.model_validate(answer.data), status_code=code)


@router.post(
    "/charges",
    status_code=201,
    response_model=DataResponse[ChargeOut],
    summary="Charge a wallet for a sale at a stand (its cashiers, admins, owners)",
    description="Answers the entry, the amount, the wallet's new balance and a receipt; "
    "`402 INSUFFICIENT_FUNDS` says what is missing (`required_minor`, `available_minor`, "
    "`missing_minor`). A deposit item may have a negative quantity (a cup given back), "
    "but a sale comes to more than zero. " + REPLAY,
    responses=error_responses(400, 401, 402, 403, 404, 409, 422, 503),
)
def charge(
    body: ChargeIn,
    user: CurrentUser,
    key: RequiredKey,
    session: SessionDep,
    keys: KeyRingDep,
) -> Response:
    answer = pos.charge(
        session,
        user=user,
        keys=keys,
        stand_id=body.stand_id,
        shown_pass=body.shown_pass,
        lines=[pos.LineRequest(line.product_id, line.quantity) for line in body.lines],
        idempotency_key=key,
        now=utcnow(),
    )
    return _answered(answer, ChargeOut)


@router.post(
    "/charges/{entry_id}/reverse",
    status_code=201,
    response_model=DataResponse[ReversalOut],
    summary="Reverse a recent sale: the money back to the wallet, the stock back",
    description="By the stand's cashiers (or an admin, an owner), within "
    "`ADMITONE_POS_REVERSAL_MINUTES` of the sale; once per sale "
    "(409 `ENTRY_ALREADY_REVERSED`). " + REPLAY,
    responses=error_responses(400, 401, 403, 404, 409, 422, 503),
)
def reverse(
    entry_id: Annotated[uuid.UUID, Path(description="The sale's entry id")],
    user: CurrentUser,
    key: RequiredKey,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    answer = pos.reverse_sale(
        session,
        user=user,
        entry_id=entry_id,
        idempotency_key=key,
        now=utcnow(),
        window=timedelta(minutes=settings.pos_reversal_minutes),
    )
    return _answered(answer, ReversalOut)


@router.post(
    "/registers",
    status_code=201,
    response_model=DataResponse[RegisterOut],
    summary="Open the caller's cash register at a stand, with its float",
    description="One open register per cashier and stand: opening it again with the same "
    "float answers it (200), with another float is 409 `REGISTER_ALREADY_OPEN`. Takes an "
    "`Idempotency-Key` like every point-of-sale write; the register itself is the key.",
    responses=error_responses(400, 401, 403, 404, 409, 422, 503),
)
def open_register(
    body: RegisterIn,
    user: CurrentUser,
    key: RequiredKey,
    session: SessionDep,
) -> Response:
    answer = pos.open_register(
        session,
        user=user,
        stand_id=body.stand_id,
        opening_float_minor=body.opening_float_minor,
        now=utcnow(),
    )
    return _answered(answer, RegisterOut)


@router.post(
    "/registers/{register_id}/close",
    response_model=DataResponse[RegisterOut],
    summary="Close a cash register with the cash counted: expected, counted, difference",
    description="Books the cash taken to the vault and the difference to the imbalance "
    "account (docs/cashless.md). " + REPLAY,
    responses=error_responses(400, 401, 403, 404, 409, 422, 503),
)
def close_register(
    register_id: Annotated[uuid.UUID, Path(description="The register's id")],
    body: RegisterCloseIn,
    user: CurrentUser,
    key: RequiredKey,
    session: SessionDep,
) -> Response:
    answer = pos.close_register(
        session,
        user=user,
        register_id=register_id,
        counted_minor=body.counted_minor,
        idempotency_key=key,
        now=utcnow(),
    )
    return data_response(RegisterOut.model_validate(answer.data))


@router.post(
    "/topups",
    status_code=201,
    response_model=DataResponse[TopupOut],
    summary="Top up a wallet at a desk: cash into the cashier's register, or a card",
    description="Pays the wallet's debt first. Within the event's top-up minimum and "
    "maximum (422 `TOPUP_BELOW_MINIMUM`, `TOPUP_ABOVE_MAXIMUM`) and maximum balance (409 "
    "`BALANCE_LIMIT_REACHED`). " + REPLAY,
    responses=error_responses(400, 401, 403, 404, 409, 422, 503),
)
def desk_topup(
    body: TopupIn,
    user: CurrentUser,
    key: RequiredKey,
    session: SessionDep,
    keys: KeyRingDep,
) -> Response:
    answer = pos.desk_topup(
        session,
        user=user,
        keys=keys,
        stand_id=body.stand_id,
        shown_pass=body.shown_pass,
        amount_minor=body.amount_minor,
        method=TopupChannel(body.method),
        register_id=body.register_id,
        idempotency_key=key,
        now=utcnow(),
    )
    return _answered(answer, TopupOut)


# --- points of sale as devices: pairing, the bundle, offline sales -----------------------


@router.post(
    "/devices",
    status_code=201,
    summary="Pair a point of sale for a stand (who may sell there): its token, once",
    description="The device then sells with its own token: the bundle, offline sales "
    '(docs/cashless.md, "Offline sales"). It stops working when revoked (the event\'s '
    "devices page) or when its member may no longer sell at the stand.",
    responses=error_responses(401, 403, 404, 409, 422),
)
def pair_device(
    body: PosDeviceIn, user: CurrentUser, session: SessionDep
) -> DataResponse[PosDeviceOut]:
    seller = pos.seller_at(session, stand_id=body.stand_id, user=user)
    paired = pos_devices.pair_pos_device(session, seller=seller, user=user, name=body.name)
    return DataResponse(
        data=PosDeviceOut(
            id=paired.device.id,
            name=paired.device.name,
            stand_id=seller.stand.id,
            stand_name=seller.stand.name,
            created_at=paired.device.created_at,
            token=paired.token,
        )
    )


def pos_device_access(
    request: Request, session: SessionDep, credentials: BearerCredentials
) -> pos_devices.PosDeviceAccess:
    """The point of sale behind the bearer token (401 without one, or a bad one); its
    last contact is noted by the calls that write."""
    if credentials is None:
        raise NotAuthenticated()
    return pos_devices.resolve_pos_device(
        session, token=credentials.credentials, note_contact=request.method == "POST"
    )


PosDeviceCaller = Annotated[pos_devices.PosDeviceAccess, Depends(pos_device_access)]


@router.get(
    "/bundle",
    summary="What a point of sale needs to sell offline (device token)",
    description="The key, the caps, the stand's products and the passes to refuse "
    "offline; with `cursor` (from the last answer) only the passes that changed.",
    responses=error_responses(401, 409, 422),
)
def get_bundle(
    device: PosDeviceCaller,
    session: SessionDep,
    keys: KeyRingDep,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> DataResponse[PosBundleOut]:
    found = pos_devices.pos_bundle(session, device=device, keys=keys, cursor=cursor)
    return DataResponse(
        data=PosBundleOut(
            event_id=device.device.event.id,
            stand_id=device.stand.id,
            stand_name=device.stand.name,
            currency=found.currency,
            unit_name=found.settings.unit_name,
            public_key=found.key.public_key_base64,
            key_id=found.key.key_id,
            offline_wallet_cap_minor=found.settings.offline_wallet_cap_minor,
            offline_sale_cap_minor=found.settings.offline_sale_cap_minor,
            products=[BundleProductOut.model_validate(product) for product in found.products],
            full=found.full,
            passes=[BundlePassOut.model_validate(state) for state in found.passes],
            server_time=found.server_time,
            cursor=found.cursor,
        )
    )


@router.post(
    "/offline-batches",
    summary="Upload sales made offline (device token): each booked once, one result each",
    description="A sale that happened is booked even beyond the wallet's balance (the rest "
    "is the wallet's debt) or on a pass revoked before it (flagged); a sale whose key was "
    "booked before answers `duplicate`. Send a batch again, split or reordered: nothing is "
    'booked twice. docs/cashless.md, "Offline sales".',
    responses=error_responses(401, 409, 422),
)
def upload_offline_batch(
    body: OfflineBatchIn, device: PosDeviceCaller, session: SessionDep, keys: KeyRingDep
) -> DataResponse[OfflineBatchOut]:
    answer = offline.upload_sales(
        session,
        event_id=device.device.event.id,
        device_id=device.device.device.id,
        operator_id=device.device.user.id,
        keys=keys,
        device_time=body.device_time,
        sales=body.read_sales(stand_id=device.stand.id),
    )
    return DataResponse(data=OfflineBatchOut.from_answer(answer))
