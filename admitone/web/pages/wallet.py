"""The attendee's wallets: the list, and "My wallet" for one festival (balance, the pass
to show at the stands, the history, a top-up through the payment provider).

The pages call the cashless services exactly as the JSON API does. Opening a wallet on
its first look is a write: ``wallets.my_wallet`` makes it in a short write unit of work
of its own, so the GET keeps its read-only unit of work (as a ticket page that signs
with a key made on first need). A top-up goes to the provider's checkout and comes back
here (``?payment=done``); a refused one comes back here too, with the refusal's code.

Once loaded, the pass works with no network (point 9): the wallet pages are an offline
app like the scanner and the till, with the same worker source
(``scanner_shell.worker_script``) served at ``/wallet-sw.js`` with scope ``/wallets``:
the last copy of each wallet page opens offline, its QR drawn in the page. A signed-out
page deletes those copies (``js/app.js``), so a shared phone keeps no one's pass.
"""

from __future__ import annotations

import base64
import functools
import io
import re
import uuid
from typing import Annotated
from urllib.parse import urlencode

import segno
from fastapi import Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from admitone.cashless import payouts, topups, wallets
from admitone.cashless.errors import WalletNotFound
from admitone.db import utcnow
from admitone.deps import DatabaseDep, KeyRingDep, SessionDep, SettingsDep, rate_limit
from admitone.errors import DomainError
from admitone.events import catalogue
from admitone.tickets.service import QR_BORDER, QR_ERROR, QR_SVG_SCALE
from admitone.web.deps import Form, RequiredLogin, form_str, page_router
from admitone.web.forms import FieldProblem, money_minor
from admitone.web.i18n import _
from admitone.web.messages import domain_error_text, error_text
from admitone.web.pages import scanner_shell
from admitone.web.pages.accounts import redirect
from admitone.web.templating import render

router = page_router()

EventId = Annotated[uuid.UUID, Path()]
HISTORY_PER_PAGE = 20
# A top-up form's idempotency key (drawn when the page is shown): printable ASCII, as
# the API's header (orders.schemas.IdempotencyKey). Anything else is not a key.
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
# The codes a refused top-up comes back with ("amount": not an amount at all).
_AMOUNT_PROBLEM = "amount"
_TOPUP_CODE = re.compile(r"^[A-Z_]{1,40}$")

SCOPE = "/wallets"
# Every static file the wallet pages load (tests/web/test_wallet_offline.py checks the
# page against this list): the worker precaches them, so a kept page opens offline.
SHELL_FILES = ("css/app.css", "js/app.js", "img/favicon.svg", "js/wallet.js")


@functools.cache
def service_worker_script() -> str:
    # Cached for the process's life: its files change only by a deploy.
    return scanner_shell.worker_script(
        name="wallet",
        scope=SCOPE,
        version=scanner_shell.app_version(SHELL_FILES),
        files=SHELL_FILES,
    )


@router.get("/wallet-sw.js")
def wallet_service_worker() -> Response:
    return scanner_shell.worker_response(service_worker_script(), SCOPE)


def pass_qr_data_uri(text: str) -> str:
    """The pass's QR as an SVG data URI (drawn as the tickets' are)."""
    buffer = io.BytesIO()
    segno.make(text, error=QR_ERROR, micro=False).save(
        buffer, kind="svg", scale=QR_SVG_SCALE, border=QR_BORDER, xmldecl=False, title="Wallet pass"
    )
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@router.get("/wallets")
def wallets_page(
    request: Request, session: SessionDep, database: DatabaseDep, login: RequiredLogin
) -> Response:
    found = wallets.my_wallets(session, database=database, user_id=login.user.id)
    return render(request, "wallet/list.html", {"wallets": found})


def _topup_problem(code: str | None) -> str | None:
    """The text of the refusal a top-up came back with (``?topup_error=``)."""
    if code == _AMOUNT_PROBLEM:
        return _("Enter an amount, such as 25.00.")
    if code and _TOPUP_CODE.match(code):
        return error_text(code, 409)
    return None


def _refund_problem(code: str | None) -> str | None:
    """The text of the refusal a refund request came back with (``?refund_error=``)."""
    if code and _TOPUP_CODE.match(code):
        return error_text(code, 409)
    return None


@router.get("/wallets/{event_id}")
def wallet_page(
    request: Request,
    session: SessionDep,
    database: DatabaseDep,
    keys: KeyRingDep,
    login: RequiredLogin,
    event_id: EventId,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    payment: Annotated[str | None, Query(max_length=20)] = None,
    topup_error: Annotated[str | None, Query(max_length=40)] = None,
    amount: Annotated[str | None, Query(max_length=20)] = None,
    refund_error: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    card = wallets.my_wallet(
        session,
        database=database,
        keys=keys,
        event_id=event_id,
        user_id=login.user.id,
        now=utcnow(),
    )
    history, total = wallets.wallet_history(
        session, event_id=event_id, user_id=login.user.id, page=page, per_page=HISTORY_PER_PAGE
    )
    shown = card.current_pass
    # The leftover refund: shown once the event has ended (the form, or the payout made).
    # (None on the very first look: the wallet was opened in a unit of work of its own,
    # which a SQLite read transaction begun before it does not see; it is empty anyway.)
    try:
        quote: payouts.RefundQuote | None = payouts.refund_quote(
            session, event_id=event_id, user_id=login.user.id, now=utcnow()
        )
    except DomainError:
        quote = None
    return render(
        request,
        "wallet/wallet.html",
        {
            "card": card,
            "summary": card.summary,
            "event": card.summary.event,
            "pass_qr": pass_qr_data_uri(shown.qr) if shown else None,
            "history": history,
            "page": page,
            "pages": max(1, -(-total // HISTORY_PER_PAGE)),
            "payment_back": payment if payment in ("done", "cancelled") else None,
            "topup_problem": _topup_problem(topup_error),
            "typed_amount": amount or "",
            "idempotency_key": uuid.uuid4().hex,
            "rendered_at": utcnow(),
            "refund": quote if quote and (quote.window_state != "before" or quote.payout) else None,
            "refund_problem": _refund_problem(refund_error),
            "refund_refusal": domain_error_text(quote.refusal) if quote and quote.refusal else None,
        },
    )


@router.post("/wallets/{event_id}/topups", dependencies=[Depends(rate_limit("payment"))])
def wallet_topup(
    request: Request,
    form: Form,
    session: SessionDep,
    settings: SettingsDep,
    login: RequiredLogin,
    event_id: EventId,
) -> Response:
    """Start a top-up (``topups.start_topup``, as the API) and go to the provider's
    checkout; a refusal goes back to the wallet page, which says why."""
    typed = form_str(form, "amount")[:20]
    back = f"/wallets/{event_id}"
    currency = catalogue.get_public_event(session, id_or_slug=str(event_id)).event.currency
    try:
        amount_minor = money_minor(form, "amount", currency)
    except FieldProblem:
        return redirect(f"{back}?{urlencode({'topup_error': _AMOUNT_PROBLEM, 'amount': typed})}")
    key = form_str(form, "idempotency_key")
    try:
        started = topups.start_topup(
            session,
            event_id=event_id,
            user_id=login.user.id,
            amount_minor=amount_minor,
            idempotency_key=key if _KEY.match(key) else None,
            now=utcnow(),
            settings=settings,
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        return redirect(f"{back}?{urlencode({'topup_error': exc.code, 'amount': typed})}")
    return RedirectResponse(started.payment.checkout_url or back, status_code=303)


@router.post("/wallets/{event_id}/refund", dependencies=[Depends(rate_limit("payment"))])
def wallet_refund(
    request: Request,
    form: Form,
    session: SessionDep,
    settings: SettingsDep,
    login: RequiredLogin,
    event_id: EventId,
) -> Response:
    """Ask for the wallet's leftover back (``payouts.request_refund``, as the API); back
    to the wallet page, which shows the payout, or says why it was refused."""
    back = f"/wallets/{event_id}"
    try:
        payouts.request_refund(
            session,
            event_id=event_id,
            user_id=login.user.id,
            holder=form_str(form, "account_holder")[:70] or None,
            iban=form_str(form, "iban")[:50] or None,
            bic=None,
            now=utcnow(),
            settings=settings,
        )
    except DomainError as exc:
        # An unknown event is not found; anything else (no wallet yet included) is said
        # on the wallet page.
        if exc.status == 404 and not isinstance(exc, WalletNotFound):
            raise
        session.rollback()
        return redirect(f"{back}?{urlencode({'refund_error': exc.code})}#refund")
    return redirect(f"{back}#refund")
