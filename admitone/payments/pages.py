"""The built-in test provider's checkout page: Approve or Decline, then a confirmation.

Deliberately bare, self-contained HTML (no inline style or script, so the default CSP
holds); the web front restyles it. The buttons call the same service functions as the
API routes in ``payments/api.py``, with the same inbox keys, and like them answer only
the order's own buyer: this bare page knows no login, so the buyer opens it with the
order's secret (``?token=``), which the buttons carry on; anyone else gets 404.
"""

from __future__ import annotations

import uuid
from html import escape
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import HTMLResponse, RedirectResponse

from admitone.db import utcnow
from admitone.deps import SessionDep, SettingsDep
from admitone.payments import service
from admitone.payments.api import TEST_PROVIDER, require_test_provider
from admitone.payments.models import PaymentStatus

router = APIRouter(
    prefix="/pay/test",
    include_in_schema=False,
    dependencies=[Depends(require_test_provider)],
)

# ISO 4217 currencies without minor units (the others shown here have two).
ZERO_DECIMAL_CURRENCIES = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW"})

# The order's secret access token (orders: the guest's key to their order).
TokenQuery = Annotated[str | None, Query(min_length=1, max_length=128)]


def _buyer(token: str | None) -> service.BuyerProof:
    return service.BuyerProof(user_id=None, access_token=token)


def _with_token(path: str, token: str | None) -> str:
    return f"{path}?token={quote(token, safe='')}" if token else path


def format_amount(amount_minor: int, currency: str) -> str:
    if currency in ZERO_DECIMAL_CURRENCIES:
        return f"{amount_minor} {currency}"
    return f"{amount_minor // 100}.{amount_minor % 100:02d} {currency}"


def _page(title: str, body: str, *, status_code: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} · Admit One</title>\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(title)}</h1>\n{body}</main>\n</body>\n</html>\n"
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


@router.get("/{payment_id}", response_class=HTMLResponse)
def checkout_page(
    payment_id: uuid.UUID, session: SessionDep, token: TokenQuery = None
) -> HTMLResponse:
    result = service.get_buyer_payment(
        session, payment_id=payment_id, provider=TEST_PROVIDER, buyer=_buyer(token)
    )
    payment, order = result.payment, result.order
    summary = (
        "<p>This is the built-in test payment provider: no money moves.</p>\n"
        f"<p>Order <strong>{escape(order.code)}</strong>, amount "
        f"<strong>{escape(format_amount(payment.amount_minor, payment.currency))}</strong>.</p>\n"
    )
    if payment.status not in (PaymentStatus.pending, PaymentStatus.failed):
        return _page(
            "Test payment", summary + f"<p>This payment is {escape(payment.status)}.</p>\n"
        )
    approve_url = escape(_with_token(f"/pay/test/{payment.id}/approve", token))
    decline_url = escape(_with_token(f"/pay/test/{payment.id}/decline", token))
    buttons = (
        f'<form method="post" action="{approve_url}">'
        '<button type="submit">Approve payment</button></form>\n'
        f'<form method="post" action="{decline_url}">'
        '<button type="submit">Decline payment</button></form>\n'
    )
    return _page("Test payment", summary + buttons)


@router.post("/{payment_id}/approve")
def approve(
    payment_id: uuid.UUID, session: SessionDep, settings: SettingsDep, token: TokenQuery = None
) -> RedirectResponse:
    service.approve_test_payment(
        session, payment_id=payment_id, buyer=_buyer(token), now=utcnow(), settings=settings
    )
    # Post/redirect/get: a reload of the confirmation does not post again.
    return RedirectResponse(
        _with_token(f"/pay/test/{payment_id}/done", token), status.HTTP_303_SEE_OTHER
    )


@router.post("/{payment_id}/decline")
def decline(
    payment_id: uuid.UUID, session: SessionDep, token: TokenQuery = None
) -> RedirectResponse:
    service.decline_test_payment(session, payment_id=payment_id, buyer=_buyer(token), now=utcnow())
    return RedirectResponse(
        _with_token(f"/pay/test/{payment_id}/done", token), status.HTTP_303_SEE_OTHER
    )


@router.get("/{payment_id}/done", response_class=HTMLResponse)
def confirmation(
    payment_id: uuid.UUID, session: SessionDep, token: TokenQuery = None
) -> HTMLResponse:
    result = service.get_buyer_payment(
        session, payment_id=payment_id, provider=TEST_PROVIDER, buyer=_buyer(token)
    )
    payment, order = result.payment, result.order
    code = escape(order.code)
    messages = {
        PaymentStatus.succeeded: ("Payment approved", f"Order {code} is paid."),
        PaymentStatus.failed: (
            "Payment declined",
            f"Order {code} is still waiting for payment until its hold expires.",
        ),
        PaymentStatus.refunded: (
            "Payment refunded",
            f"The payment for order {code} was refunded: the order could not be honoured.",
        ),
        PaymentStatus.pending: ("Payment pending", f"Order {code} is waiting for payment."),
    }
    title, text = messages[payment.status]
    return _page(title, f"<p>{text}</p>\n")
