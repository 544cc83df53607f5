"""The organizer's side of the money: the connected account and the payout summary."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from admitone.events.models import Event
from admitone.organizations.models import Organization
from admitone.payments.models import Payment, PaymentStatus
from admitone.payments.purposes import registered_purposes


def set_stripe_account(
    session: Session, *, organization: Organization, stripe_account_id: str | None
) -> Organization:
    """Set (or clear) the Stripe connected account new payments of this organization go to.

    Payments already opened keep the destination they were created with.
    """
    organization.stripe_account_id = stripe_account_id
    session.flush()
    return organization


@dataclass(frozen=True)
class PayoutSummary:
    event_id: uuid.UUID
    currency: str
    payments: int
    gross_minor: int
    refunds_minor: int
    platform_fees_minor: int
    net_minor: int


def payout_summary(session: Session, *, event: Event) -> PayoutSummary:
    """What the organizer receives for one event, summed in SQL over its payments: those
    of every purpose for the things sold for the event (``PaymentPurpose.sold_for_event``).

    Gross: every payment that succeeded (also those refunded since). Refunds: all of
    their refunds. Platform fees: the fee of each payment less the share of it that
    was refunded, ``fee - fee x refunded / amount`` rounded down in the integer
    division (so a full refund returns the whole fee, as Stripe's
    ``refund_application_fee`` does). Net = gross - refunds - fees. Read-only.
    """
    kept_fee = Payment.application_fee_minor - case(
        (
            Payment.amount_minor > 0,
            (Payment.application_fee_minor * Payment.refunded_minor) / Payment.amount_minor,
        ),
        else_=0,
    )
    row = session.execute(
        select(
            func.count(Payment.id),
            func.coalesce(func.sum(Payment.amount_minor), 0),
            func.coalesce(func.sum(Payment.refunded_minor), 0),
            func.coalesce(func.sum(kept_fee), 0),
        ).where(
            or_(
                false(),
                *(
                    and_(
                        Payment.purpose == name,
                        Payment.purpose_id.in_(
                            handler.sold_for_event(
                                event_id=event.id, organization_id=event.organization_id
                            )
                        ),
                    )
                    for name, handler in registered_purposes().items()
                ),
            ),
            Payment.status.in_([PaymentStatus.succeeded, PaymentStatus.refunded]),
        )
    ).one()
    count, gross, refunds, fees = (int(value) for value in row)
    return PayoutSummary(
        event_id=event.id,
        currency=event.currency,
        payments=count,
        gross_minor=gross,
        refunds_minor=refunds,
        platform_fees_minor=fees,
        net_minor=gross - refunds - fees,
    )
