"""Payments API: the built-in test provider's approve and decline (what its page posts).

They enter the same service functions a provider webhook will: approving twice is one
notification delivered twice, and changes nothing the second time. Only the order's own
buyer may press them: its account (bearer token) or its secret (``X-Order-Token`` or
``?token=``), as for reading the order; anyone else gets 404.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated

import stripe
from fastapi import APIRouter, Depends, Header, Request, Response

from admitone.authorization import OrgAccess, Permission
from admitone.db import utcnow
from admitone.deps import Buyer, SessionDep, SettingsDep, org_access
from admitone.errors import BadRequest, NotFound, error_responses
from admitone.events import service as events
from admitone.hot_routes import hot_route
from admitone.payments import payouts, stripe_provider, stripe_webhooks, test_provider
from admitone.payments.errors import WebhookSignatureInvalid
from admitone.payments.providers import BuiltInTestProvider
from admitone.payments.schemas import (
    PaymentResultOut,
    PayoutSummaryOut,
    StripeAccountIn,
    StripeAccountOut,
    WebhookReceivedOut,
)
from admitone.schemas import DataResponse, data_response

TEST_PROVIDER = BuiltInTestProvider.name


async def require_test_provider(settings: SettingsDep) -> None:
    """The test provider's routes exist only while it is the configured provider."""
    if settings.payment_provider != TEST_PROVIDER:
        raise NotFound()


test_router = APIRouter(
    prefix="/payments/test",
    tags=["payments (test provider)"],
    dependencies=[Depends(require_test_provider)],
)


@hot_route(
    test_router.post,
    "/{payment_id}/approve",
    summary="Approve a test payment (as its checkout page does): pays the order once",
    description="The order's buyer only: logged in, or with the order token.",
    responses=error_responses(401, 404, 409, 422, 503),
)
def approve_test_payment(
    payment_id: uuid.UUID, buyer: Buyer, session: SessionDep, settings: SettingsDep
) -> DataResponse[PaymentResultOut]:
    # The buyer is checked on the order row the payment is loaded with: a token costs
    # no query of its own.
    result = test_provider.approve_test_payment(
        session, payment_id=payment_id, payer=buyer, now=utcnow(), settings=settings
    )
    return DataResponse(data=PaymentResultOut.build(result))


@test_router.post(
    "/{payment_id}/decline",
    response_model=DataResponse[PaymentResultOut],
    summary="Decline a test payment: it fails, the order stays pending",
    description="The order's buyer only: logged in, or with the order token.",
    responses=error_responses(401, 404, 409, 422, 503),
)
def decline_test_payment(payment_id: uuid.UUID, session: SessionDep, buyer: Buyer) -> Response:
    result = test_provider.decline_test_payment(
        session,
        payment_id=payment_id,
        payer=buyer,
        now=utcnow(),
    )
    return data_response(PaymentResultOut.build(result))


# --- Stripe ----------------------------------------------------------------------------

stripe_router = APIRouter(prefix="/payments/stripe", tags=["payments (Stripe)"])
# Stripe's own events are small; anything much larger is not one of them.
MAX_WEBHOOK_BYTES = 512 * 1024


async def raw_body(request: Request) -> bytes:
    """The body exactly as sent: the signature is computed over these bytes."""
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise BadRequest("The body is too large for a Stripe event.")
    return body


@hot_route(
    stripe_router.post,
    "/webhook",
    summary="Stripe webhook: verified by its Stripe-Signature, each event processed once",
    description=(
        "Answers 400 `INVALID_SIGNATURE` when the signature is missing, wrong or older "
        "than 5 minutes (nothing is changed), and 200 for every verified event, also a "
        "duplicate or an unknown type (`outcome` says what happened)."
    ),
    responses=error_responses(400, 503),
)
def stripe_webhook(
    payload: Annotated[bytes, Depends(raw_body)],
    session: SessionDep,
    settings: SettingsDep,
    stripe_signature: Annotated[str | None, Header(max_length=2000)] = None,
) -> DataResponse[WebhookReceivedOut]:
    # A hot route: with Stripe, every paid order arrives here (payment_succeeded).
    if not stripe_signature:
        raise WebhookSignatureInvalid(reason="missing header")
    try:
        stripe_provider.verify_event(payload, stripe_signature, settings=settings)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise WebhookSignatureInvalid() from exc
    if not isinstance(event, dict):
        raise WebhookSignatureInvalid("The body is not a Stripe event.")
    outcome = stripe_webhooks.handle_event(session, event=event, now=utcnow(), settings=settings)
    return DataResponse(
        data=WebhookReceivedOut(received=True, outcome=outcome, event_type=str(event.get("type")))
    )


# --- the organizer: connected account and payouts ------------------------------------

organizer_router = APIRouter(prefix="/organizations", tags=["payouts (organizer)"])


@organizer_router.put(
    "/{org}/stripe-account",
    response_model=DataResponse[StripeAccountOut],
    summary="Set the Stripe connected account that receives this organization's sales",
    description="The owner only. New payments then carry the platform fee and the "
    "transfer to this account.",
    responses=error_responses(401, 403, 404, 422),
)
def set_stripe_account(
    body: StripeAccountIn,
    session: SessionDep,
    access: Annotated[OrgAccess, Depends(org_access(Permission.manage_payouts))],
) -> Response:
    organization = payouts.set_stripe_account(
        session, organization=access.organization, stripe_account_id=body.stripe_account_id
    )
    return data_response(
        StripeAccountOut(
            organization_id=organization.id, stripe_account_id=organization.stripe_account_id
        )
    )


@organizer_router.get(
    "/{org}/events/{event_id}/payout",
    response_model=DataResponse[PayoutSummaryOut],
    summary="Payout summary of an event: gross sales, refunds, platform fees, net",
    responses=error_responses(401, 403, 404, 422),
)
def event_payout(
    event_id: uuid.UUID,
    session: SessionDep,
    access: Annotated[OrgAccess, Depends(org_access(Permission.view_orders))],
) -> DataResponse[PayoutSummaryOut]:
    event = events.get_event(session, access=access, event_id=event_id)
    summary = payouts.payout_summary(session, event=event)
    return DataResponse(data=PayoutSummaryOut.model_validate(summary, from_attributes=True))


router = APIRouter()
router.include_router(test_router)
router.include_router(stripe_router)
router.include_router(organizer_router)
