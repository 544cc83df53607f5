"""Orders API: buy (hold seats), read, pay, cancel; the organizer's order list and refunds."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from admitone.authorization import OrgAccess, Permission
from admitone.db import utcnow
from admitone.deps import (
    Buyer,
    CurrentUser,
    OptionalUser,
    SessionDep,
    SettingsDep,
    client_ip,
    org_access,
    rate_limit,
)
from admitone.errors import error_responses
from admitone.hot_routes import hot_route
from admitone.languages import buyer_language
from admitone.orders import buyer_orders, buying, organizer_views, paying, refunds
from admitone.orders.models import OrderStatus
from admitone.orders.schemas import (
    CreatedOrderOut,
    IdempotencyKey,
    OrderIn,
    OrderOut,
    RefundIn,
    SearchText,
)
from admitone.payments.schemas import PaymentOut
from admitone.schemas import DataResponse, ListResponse, data_response, page_meta

router = APIRouter(tags=["orders"])
organizer_router = APIRouter(prefix="/organizations", tags=["orders (organizer)"])

Page = Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1")]
PerPage = Annotated[int, Query(ge=1, le=100, description="Items per page (at most 100)")]


OrdersAccess = Annotated[OrgAccess, Depends(org_access(Permission.view_orders))]
RefundAccess = Annotated[OrgAccess, Depends(org_access(Permission.refund_orders))]


@hot_route(
    router.post,
    "/orders",
    status_code=status.HTTP_201_CREATED,
    summary="Order tickets: the seats are held until expires_at",
    description=(
        "Creates a pending order holding the seats. Send an `Idempotency-Key` header to "
        "retry safely: the same key with the same body answers the same order (200); the "
        "same key with another body is refused (422 `IDEMPOTENCY_KEY_REUSED`)."
    ),
    responses=error_responses(400, 401, 404, 409, 422, 429, 503),
    # A bot must not hold the whole stock (ADMITONE_RATE_LIMIT_ORDER, and the hold limits:
    # 409 HOLD_LIMIT_REACHED, BUYER_LIMIT_REACHED).
    dependencies=[Depends(rate_limit("order"))],
)
def create_order(
    body: OrderIn,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: Annotated[IdempotencyKey | None, Header()] = None,
) -> DataResponse[CreatedOrderOut]:
    scope = f"orders.create:user:{user.id}" if user else f"orders.create:anon:{client_ip(request)}"
    now = utcnow()
    created = buying.create_order(
        session,
        event_id=body.event_id,
        items=[
            buying.ItemRequest(ticket_type_id=item.ticket_type_id, quantity=item.quantity)
            for item in body.items
        ],
        buyer_name=body.buyer.name,
        buyer_email=str(body.buyer.email),
        user_id=user.id if user else None,
        now=now,
        settings=settings,
        idempotency_scope=scope,
        idempotency_key=idempotency_key,
        locale=buyer_language(
            accept_language=request.headers.get("accept-language"),
            account_locale=user.locale if user else None,
        ),
        client_ip=client_ip(request),
    )
    if created.replayed:
        response.status_code = status.HTTP_200_OK
    return DataResponse(
        data=CreatedOrderOut.build(created.details, now=now, access_token=created.order_token)
    )


@router.get(
    "/orders/{order_id}",
    summary="One order (its buyer, or the holder of its order token)",
    responses=error_responses(401, 404, 422),
)
def get_order(order_id: uuid.UUID, buyer: Buyer, session: SessionDep) -> DataResponse[OrderOut]:
    details = buyer_orders.get_buyer_order(
        session, order_id=order_id, user_id=buyer.user_id, order_token=buyer.order_token
    )
    return DataResponse(data=OrderOut.build(details, now=utcnow()))


@router.post(
    "/orders/{order_id}/cancel",
    response_model=DataResponse[OrderOut],
    summary="Cancel a pending order: its seats go back on sale",
    responses=error_responses(401, 404, 409, 422, 503),
)
def cancel_order(order_id: uuid.UUID, buyer: Buyer, session: SessionDep) -> Response:
    now = utcnow()
    details = buyer_orders.cancel_order(
        session,
        order_id=order_id,
        user_id=buyer.user_id,
        order_token=buyer.order_token,
        now=now,
    )
    return data_response(OrderOut.build(details, now=now))


@hot_route(
    router.post,
    "/orders/{order_id}/pay",
    status_code=status.HTTP_201_CREATED,
    summary="Start paying a pending order: answers a payment with its checkout_url",
    description="An open checkout for the order is answered again (200) rather than doubled.",
    responses=error_responses(401, 404, 409, 422, 429, 502, 503),
    dependencies=[Depends(rate_limit("payment"))],
)
def pay_order(
    order_id: uuid.UUID,
    buyer: Buyer,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> DataResponse[PaymentOut]:
    payment, created = paying.pay_order(
        session,
        order_id=order_id,
        user_id=buyer.user_id,
        order_token=buyer.order_token,
        now=utcnow(),
        settings=settings,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return DataResponse(data=PaymentOut.model_validate(payment))


@router.get(
    "/me/orders",
    summary="My orders, newest first",
    responses=error_responses(401, 422),
)
def list_my_orders(
    user: CurrentUser, session: SessionDep, page: Page = 1, per_page: PerPage = 20
) -> ListResponse[OrderOut]:
    orders, total = buyer_orders.list_user_orders(
        session, user_id=user.id, page=page, per_page=per_page
    )
    now = utcnow()
    return ListResponse(
        data=[OrderOut.build(details, now=now) for details in orders],
        meta=page_meta(page=page, per_page=per_page, total=total),
    )


# --- organizer -------------------------------------------------------------------------


@organizer_router.get(
    "/{org}/events/{event_id}/orders",
    summary="An event's orders, newest first; search by buyer name, e-mail or order code",
    responses=error_responses(401, 403, 404, 422),
)
def list_event_orders(
    event_id: uuid.UUID,
    access: OrdersAccess,
    session: SessionDep,
    q: Annotated[
        SearchText | None, Query(description="Part of the buyer's name, e-mail or order code")
    ] = None,
    status_filter: Annotated[
        OrderStatus | None, Query(alias="status", description="Only orders in this status")
    ] = None,
    page: Page = 1,
    per_page: PerPage = 20,
) -> ListResponse[OrderOut]:
    now = utcnow()
    orders, total = organizer_views.list_event_orders(
        session,
        access=access,
        event_id=event_id,
        now=now,
        text=q,
        status=status_filter,
        page=page,
        per_page=per_page,
    )
    return ListResponse(
        data=[OrderOut.build(details, now=now) for details in orders],
        meta=page_meta(page=page, per_page=per_page, total=total),
    )


@organizer_router.get(
    "/{org}/events/{event_id}/orders/{order_id}",
    summary="One order of the event",
    responses=error_responses(401, 403, 404, 422),
)
def get_event_order(
    event_id: uuid.UUID, order_id: uuid.UUID, access: OrdersAccess, session: SessionDep
) -> DataResponse[OrderOut]:
    details = organizer_views.get_event_order(
        session, access=access, event_id=event_id, order_id=order_id
    )
    return DataResponse(data=OrderOut.build(details, now=utcnow()))


@organizer_router.post(
    "/{org}/events/{event_id}/orders/{order_id}/refund",
    response_model=DataResponse[OrderOut],
    summary="Refund a paid order, in full or some of its tickets: revoked, seats back on sale",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503),
)
def refund_order(
    event_id: uuid.UUID,
    order_id: uuid.UUID,
    access: RefundAccess,
    session: SessionDep,
    settings: SettingsDep,
    body: RefundIn | None = None,
) -> Response:
    now = utcnow()
    details = refunds.refund_order(
        session,
        access=access,
        event_id=event_id,
        order_id=order_id,
        reason=body.reason if body else "",
        now=now,
        settings=settings,
        ticket_ids=body.ticket_ids if body else None,
    )
    return data_response(OrderOut.build(details, now=now))
