"""Payments API: the built-in test provider's approve and decline (what its page posts).

They enter the same service functions a provider webhook will: approving twice is one
notification delivered twice, and changes nothing the second time.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Response

from admitone.db import utcnow
from admitone.deps import SessionDep, SettingsDep
from admitone.errors import NotFound, error_responses
from admitone.orders.api import data_response
from admitone.payments import service
from admitone.payments.providers import BuiltInTestProvider
from admitone.payments.schemas import PaymentResultOut
from admitone.schemas import DataResponse

TEST_PROVIDER = BuiltInTestProvider.name


def require_test_provider(settings: SettingsDep) -> None:
    """The test provider's routes exist only while it is the configured provider."""
    if settings.payment_provider != TEST_PROVIDER:
        raise NotFound()


router = APIRouter(
    prefix="/payments/test",
    tags=["payments (test provider)"],
    dependencies=[Depends(require_test_provider)],
)


@router.post(
    "/{payment_id}/approve",
    response_model=DataResponse[PaymentResultOut],
    summary="Approve a test payment (as its checkout page does): pays the order once",
    responses=error_responses(404, 409, 422, 503),
)
def approve_test_payment(
    payment_id: uuid.UUID, session: SessionDep, settings: SettingsDep
) -> Response:
    result = service.payment_succeeded(
        session,
        provider=TEST_PROVIDER,
        external_id=BuiltInTestProvider.notification_id(payment_id, "succeeded"),
        payment_id=payment_id,
        now=utcnow(),
        settings=settings,
    )
    return data_response(PaymentResultOut.build(result))


@router.post(
    "/{payment_id}/decline",
    response_model=DataResponse[PaymentResultOut],
    summary="Decline a test payment: it fails, the order stays pending",
    responses=error_responses(404, 409, 422, 503),
)
def decline_test_payment(payment_id: uuid.UUID, session: SessionDep) -> Response:
    result = service.payment_failed(
        session,
        provider=TEST_PROVIDER,
        external_id=BuiltInTestProvider.notification_id(payment_id, "failed"),
        payment_id=payment_id,
        now=utcnow(),
    )
    return data_response(PaymentResultOut.build(result))
