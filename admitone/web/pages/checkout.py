"""Buying: the buyer's details, the hold with its countdown, payment, the confirmation.

The steps call the orders services (``buying.create_order``, ``paying.pay_order``,
``buyer_orders``) and the test provider's payments functions, exactly as the JSON API
does; prices, stock and the hold are decided there, never here.

A guest's orders are opened by their secret token. After checkout the token is kept
in the signed, HttpOnly ``admitone_orders`` cookie so the same browser comes back to the
order from the payment page, and the confirmation shows the secret link to bookmark.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import ValidationError
from starlette.datastructures import FormData

from admitone.authorization import ORDER_TOKEN_MAX_LENGTH, BuyerProof, hash_order_token
from admitone.cashless import topups
from admitone.checkin.queries import ticket_admitted
from admitone.config import Settings
from admitone.db import utcnow
from admitone.deps import KeyRingDep, SessionDep, SettingsDep, client_ip, rate_limit
from admitone.errors import DomainError, InvalidInput
from admitone.events import catalogue
from admitone.events.models import Event, TicketType
from admitone.orders import buyer_orders, buying, fulfilment, paying
from admitone.orders.details import OrderDetails
from admitone.orders.errors import SoldOut
from admitone.orders.models import Order, OrderStatus
from admitone.orders.schemas import BuyerIn
from admitone.orders.transitions import effective_status
from admitone.payments import checkout as payments_checkout
from admitone.payments import test_provider as test_payments
from admitone.payments.api import TEST_PROVIDER, require_test_provider
from admitone.payments.models import Payment, PaymentStatus
from admitone.tickets import queries as ticket_queries
from admitone.tickets import service as tickets
from admitone.tickets.models import Ticket, TicketStatus
from admitone.tickets.signing import KeyRing
from admitone.web.deps import Form, OptionalLogin, RequiredLogin, form_str, page_router
from admitone.web.i18n import _, current_locale
from admitone.web.messages import domain_error_text, field_errors
from admitone.web.pages.accounts import redirect
from admitone.web.pages.catalogue import event_page_context
from admitone.web.security import secure_cookies
from admitone.web.templating import render

router = page_router()

ORDERS_COOKIE = "admitone_orders"
REMEMBERED_ORDERS = 10
OrderId = Annotated[uuid.UUID, Path()]
# The order token of a guest's link (authorization.BuyerProof). Empty is allowed: the
# page then falls back to the token this browser remembered.
TokenQuery = Annotated[str | None, Query(alias="token", max_length=ORDER_TOKEN_MAX_LENGTH)]


# --- the guest's order tokens (signed cookie) ------------------------------------------


def _orders_serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key.get_secret_value(), salt="admitone.orders")


def _remembered(request: Request, settings: Settings) -> dict[str, str]:
    raw = request.cookies.get(ORDERS_COOKIE)
    if not raw:
        return {}
    try:
        data = _orders_serializer(settings).loads(raw)
    except BadSignature:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _remember(
    response: Response, request: Request, settings: Settings, order_id: uuid.UUID, token: str
) -> None:
    known = _remembered(request, settings)
    known.pop(str(order_id), None)
    known[str(order_id)] = token
    kept = dict(list(known.items())[-REMEMBERED_ORDERS:])
    response.set_cookie(
        ORDERS_COOKIE,
        _orders_serializer(settings).dumps(kept),
        max_age=90 * 86400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )


def remembered_order_token(
    request: Request, settings: Settings, order_id: uuid.UUID, token: str | None
) -> str | None:
    """The guest's secret for an order: from the link (``?token=``), else this browser's
    signed cookie of the orders it placed or opened."""
    return token or _remembered(request, settings).get(str(order_id))


# --- choosing tickets ----------------------------------------------------------------------


def _chosen(form: FormData, event: Event) -> list[tuple[TicketType, int]]:
    """(ticket type, quantity) for each active ticket type with a quantity above zero."""
    chosen = []
    for ticket_type in event.ticket_types:
        if not ticket_type.is_active:
            continue
        raw = form_str(form, f"qty-{ticket_type.id}")
        try:
            quantity = int(raw) if raw else 0
        except ValueError:
            quantity = 0
        if quantity > 0:
            chosen.append((ticket_type, min(quantity, 1000)))
    return chosen


def _event_page_again(
    request: Request,
    session: Any,
    slug: str,
    *,
    chosen: list[tuple[TicketType, int]],
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int,
) -> Response:
    """The event page again, the buyer's choice and details kept, with what went wrong."""
    settings: Settings = request.app.state.settings
    entry = catalogue.get_public_event(session, id_or_slug=slug)
    context = event_page_context(
        entry,
        settings,
        errors=errors,
        values=values,
        chosen={ticket_type.id: quantity for ticket_type, quantity in chosen},
    )
    return render(request, "catalogue/event.html", context, status_code=status_code)


# The event page's form holds the seats at once (the hold and its countdown start when
# the buyer leaves the event page): the buyer's name and e-mail are asked on that page,
# prefilled for an account. Counted with the API's orders: the same rate limit and hold
# limits per client.
@router.post("/checkout/reserve", dependencies=[Depends(rate_limit("order"))])
def checkout_reserve(
    request: Request,
    form: Form,
    session: SessionDep,
    settings: SettingsDep,
    login: OptionalLogin,
) -> Response:
    entry = catalogue.get_public_event(session, id_or_slug=form_str(form, "event")[:100])
    event = entry.event
    chosen = _chosen(form, event)
    values = {
        "buyer_name": form_str(form, "buyer_name"),
        "buyer_email": form_str(form, "buyer_email"),
    }
    errors: dict[str, str] = {}
    try:
        buyer = BuyerIn(name=values["buyer_name"], email=values["buyer_email"])
    except ValidationError as exc:
        errors = {f"buyer_{name}": text for name, text in field_errors(exc).items()}
    if not chosen:
        errors["__all__"] = _("Choose at least one ticket.")
    if errors:
        # Every problem at once: the choice and each field.
        return _event_page_again(
            request,
            session,
            event.slug,
            chosen=chosen,
            values=values,
            errors=errors,
            status_code=422,
        )
    try:
        created = buying.create_order(
            session,
            event_id=event.id,
            items=[buying.ItemRequest(ticket_type_id=t.id, quantity=q) for t, q in chosen],
            buyer_name=buyer.name,
            buyer_email=str(buyer.email),
            user_id=login.user.id if login else None,
            now=utcnow(),
            settings=settings,
            locale=current_locale(),  # the page's language: the order's mails use it
            client_ip=client_ip(request),
        )
    except SoldOut as exc:
        session.rollback()
        return _after_sold_out(request, session, event.slug, chosen, values, exc)
    except DomainError as exc:
        session.rollback()
        return _event_page_again(
            request,
            session,
            event.slug,
            chosen=chosen,
            values=values,
            errors={"__all__": domain_error_text(exc)},
            status_code=exc.status,
        )
    order = created.details.order
    response = redirect(f"/orders/{order.id}")
    _remember(response, request, settings, order.id, created.order_token)
    return response


def _after_sold_out(
    request: Request,
    session: Any,
    slug: str,
    chosen: list[tuple[TicketType, int]],
    values: dict[str, str],
    exc: SoldOut,
) -> Response:
    """Seats ran out while the buyer chose: they stay on the form, their name and e-mail
    kept, the choice cut down to what is left and the ticket types named; one click
    holds what remains."""
    left: dict[str, int] = exc.details.get("available", {})
    kept, short = [], []
    for ticket_type, quantity in chosen:
        available = left.get(str(ticket_type.id), quantity)
        if available < quantity:
            short.append(ticket_type.name)
        if min(quantity, available) >= max(ticket_type.min_per_order, 1):
            kept.append((ticket_type, min(quantity, available)))
    names = ", ".join(short)
    if kept:
        message = _(
            "Not enough left of %(types)s: your choice now holds what is left. Check it, "
            "then hold your tickets.",
            types=names,
        )
    else:
        message = _("Sold out while you were choosing: %(types)s.", types=names)
    return _event_page_again(
        request,
        session,
        slug,
        chosen=kept,
        values=values,
        errors={"__all__": message},
        status_code=exc.status,
    )


# --- the order: hold, payment, confirmation ----------------------------------------------


def _qr_data_uri(view: tickets.TicketView) -> str:
    svg = tickets.qr_image(view, kind="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def order_tickets(
    session: Any, *, details: OrderDetails, login: Any, token: str | None, keys: KeyRing
) -> list[dict[str, Any]]:
    """The order's tickets with their QR, read through the tickets' scoped query."""
    # tickets.service has no "tickets of one order" yet: its scoped statement is used
    # with the same readers (buyer, token holder) and its public signing function.
    statement = (
        ticket_queries.readable_tickets(
            user=login.user if login else None,
            order_token_hash=hash_order_token(token) if token else None,
        )
        .where(Ticket.order_id == details.order.id)
        .order_by(Ticket.ticket_type_id, Ticket.created_at, Ticket.id)
    )
    views = []
    for ticket, order, event, ticket_type in session.execute(statement).all():
        payload = (
            tickets.ticket_payload(session, ticket=ticket, keys=keys)
            if ticket.status == TicketStatus.valid
            else None
        )
        view = tickets.TicketView(ticket, order, event, ticket_type, payload)
        views.append({"view": view, "qr": _qr_data_uri(view) if payload else None})
    return views


def _render_order(
    request: Request,
    session: Any,
    settings: Settings,
    login: Any,
    keys: KeyRing,
    *,
    order_id: uuid.UUID,
    order_token: str | None,
    name_values: dict[str, str] | None = None,
    name_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The buyer's order page. After refused attendee names (a write request, which must
    sign nothing: ``KeyRing.get_or_create``), the names form again with what the buyer
    typed and the errors next to the fields, without the tickets' QR codes."""
    details = buyer_orders.get_buyer_order(
        session,
        order_id=order_id,
        user_id=login.user.id if login else None,
        order_token=order_token,
    )
    order = details.order
    event = catalogue.get_public_event(session, id_or_slug=str(order.event_id)).event
    now = utcnow()
    status = effective_status(order, now=now)
    refused = name_errors is not None
    context: dict[str, Any] = {
        "order": order,
        "lines": details.lines,
        "event": event,
        "status": str(status),
        "tickets": [],
        "name_fields": [],
        "name_errors": name_errors or {},
        "secret_link": None,
    }
    if status == OrderStatus.paid and not refused:
        context["tickets"] = order_tickets(
            session, details=details, login=login, token=order_token, keys=keys
        )
    if status == OrderStatus.paid and event.ask_attendee_names:
        proof = BuyerProof(user_id=login.user.id if login else None, order_token=order_token)
        context["name_fields"] = _name_fields(
            tickets.buyer_order_tickets(
                session, order_id=order.id, proof=proof, admitted=ticket_admitted()
            ),
            now=now,
            values=name_values or {},
        )
    # A refusal for a ticket that has no field any more (admitted meanwhile, or names
    # not asked) is said above the form.
    shown = {field["name"] for field in context["name_fields"]}
    unshown = [text for name, text in (name_errors or {}).items() if name not in shown]
    if unshown:
        context["name_errors"] = {
            **context["name_errors"],
            "__all__": " ".join(dict.fromkeys(unshown)),
        }
    if order_token and order.user_id is None:
        context["secret_link"] = (
            f"{settings.public_url.rstrip('/')}/orders/{order.id}?token={order_token}"
        )
    return render(request, "checkout/order.html", context, status_code=status_code)


def _name_fields(
    rows: list[tuple[Ticket, Event, TicketType, bool]], *, now: Any, values: dict[str, str]
) -> list[dict[str, Any]]:
    """A field for each ticket whose attendee name the buyer may set now, numbered as the
    ticket list shows them, holding the current name (or what the buyer typed)."""
    return [
        {
            "name": f"holder_name-{ticket.id}",
            "number": number,
            "ticket_type": ticket_type,
            "value": values.get(str(ticket.id), ticket.holder_name),
        }
        for number, (ticket, event, ticket_type, admitted) in enumerate(rows, start=1)
        if tickets.holder_name_refusal(ticket, event, admitted=admitted, now=now) is None
    ]


@router.get("/orders/{order_id}")
def order_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: OptionalLogin,
    keys: KeyRingDep,
    order_id: OrderId,
    token: TokenQuery = None,
) -> Response:
    order_token = remembered_order_token(request, settings, order_id, token)
    response = _render_order(
        request, session, settings, login, keys, order_id=order_id, order_token=order_token
    )
    if token:
        # Opened from the secret link: remember it for the payment round trip.
        _remember(response, request, settings, order_id, token)
    return response


def _holder_name_problem(exc: InvalidInput) -> str:
    """The page's text for ``tickets.checked_holder_name``'s refusal."""
    kinds = {error.get("type") for error in exc.details.get("errors", [])}
    if "string_too_short" in kinds:
        return _("This field is required.")
    if "string_too_long" in kinds:
        return _("Use at most %(n)s characters.") % {"n": tickets.HOLDER_NAME_MAX}
    return _("Use one line, without line breaks.")


@router.post("/orders/{order_id}/attendee-names")
def order_attendee_names(
    request: Request,
    form: Form,
    session: SessionDep,
    settings: SettingsDep,
    login: OptionalLogin,
    keys: KeyRingDep,
    order_id: OrderId,
) -> Response:
    """The attendee names of the order's tickets, one field each (``holder_name-<id>``),
    set through ``tickets.set_holder_name`` like the API; all or nothing: one refusal and
    none changes, the page shows it next to its field."""
    order_token = remembered_order_token(request, settings, order_id, None)
    proof = BuyerProof(user_id=login.user.id if login else None, order_token=order_token)
    # The buyer's alone: 404 for anyone else, organizers included (as the service says).
    buyer_orders.get_buyer_order(
        session, order_id=order_id, user_id=proof.user_id, order_token=order_token
    )
    now = utcnow()
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    status_code = 422
    for ticket, _event, _ticket_type, _admitted in tickets.buyer_order_tickets(
        session, order_id=order_id, proof=proof, admitted=ticket_admitted()
    ):
        field = f"holder_name-{ticket.id}"
        if field not in form:
            continue
        typed = form_str(form, field)
        values[str(ticket.id)] = typed
        if typed == ticket.holder_name:
            continue  # unchanged: nothing to ask
        try:
            tickets.set_holder_name(
                session,
                order_id=order_id,
                ticket_id=ticket.id,
                proof=proof,
                holder_name=typed,
                now=now,
                admitted=ticket_admitted(),
            )
        except InvalidInput as exc:
            errors[field] = _holder_name_problem(exc)
        except DomainError as exc:
            if exc.status == 404:
                raise
            errors[field] = domain_error_text(exc)
            status_code = exc.status
    if errors:
        session.rollback()
        return _render_order(
            request,
            session,
            settings,
            login,
            keys,
            order_id=order_id,
            order_token=order_token,
            name_values=values,
            name_errors=errors,
            status_code=status_code,
        )
    return redirect(f"/orders/{order_id}", flash="attendee_names_saved")


@router.post("/orders/{order_id}/pay", dependencies=[Depends(rate_limit("payment"))])
def order_pay(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: OptionalLogin,
    order_id: OrderId,
) -> Response:
    try:
        payment, _created = paying.pay_order(
            session,
            order_id=order_id,
            user_id=login.user.id if login else None,
            order_token=remembered_order_token(request, settings, order_id, None),
            now=utcnow(),
            settings=settings,
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        return redirect(f"/orders/{order_id}")
    return RedirectResponse(payment.checkout_url or f"/orders/{order_id}", status_code=303)


@router.post("/orders/{order_id}/cancel")
def order_cancel(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: OptionalLogin,
    order_id: OrderId,
) -> Response:
    try:
        buyer_orders.cancel_order(
            session,
            order_id=order_id,
            user_id=login.user.id if login else None,
            order_token=remembered_order_token(request, settings, order_id, None),
            now=utcnow(),
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        return redirect(f"/orders/{order_id}")
    return redirect(f"/orders/{order_id}", flash="order_cancelled")


# --- the built-in test provider's checkout page, in the site's style -------------------

test_provider = page_router()
test_provider.dependencies.append(Depends(require_test_provider))


PaymentId = Annotated[uuid.UUID, Path()]


def _buyers_test_payment(
    request: Request,
    session: Any,
    settings: Settings,
    login: Any,
    payment_id: uuid.UUID,
    token: str | None,
) -> tuple[Payment, Order, BuyerProof]:
    """The test payment of an order, the order, and the proof that the caller is its
    buyer (their login, the order's secret from ``?token=`` or this browser's cookie);
    404 for anyone else."""
    payment, order = fulfilment.order_payment(
        session, payment_id=payment_id, provider=TEST_PROVIDER
    )
    payer = BuyerProof(
        user_id=login.user.id if login else None,
        order_token=remembered_order_token(request, settings, order.id, token),
    )
    fulfilment.require_buyer(order, payer)
    return payment, order, payer


@dataclass(frozen=True)
class _TestCheckout:
    """A test payment as its page shows it: what it pays for (an order, or a wallet's
    top-up), the payer's proof, and the page the payer goes back to."""

    payment: Payment
    payer: BuyerProof
    back: str
    order: Order | None = None
    topup: topups.TopupCheckout | None = None

    def context(self, *, payable: bool, done: bool) -> dict[str, Any]:
        return {
            "payment": self.payment,
            "order": self.order,
            "topup": self.topup,
            "back": self.back,
            "payable": payable,
            "done": done,
        }


def _test_checkout(
    request: Request,
    session: Any,
    settings: Settings,
    login: Any,
    payment_id: uuid.UUID,
    token: str | None,
) -> _TestCheckout:
    """The test payment for its payer only (404 for anyone else): an order's buyer, or a
    wallet's holder for a top-up (their login alone)."""
    payment = payments_checkout.get_payment(session, payment_id=payment_id, provider=TEST_PROVIDER)
    if payment.purpose == topups.TOPUP_PURPOSE:
        payer = BuyerProof(user_id=login.user.id if login else None, order_token=None)
        topup = topups.topup_checkout(session, payment=payment, payer=payer)
        return _TestCheckout(payment, payer, f"/wallets/{topup.event_id}", topup=topup)
    payment, order, payer = _buyers_test_payment(
        request, session, settings, login, payment_id, token
    )
    return _TestCheckout(payment, payer, f"/orders/{order.id}", order=order)


@test_provider.get("/pay/test/{payment_id}")
def test_payment_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: OptionalLogin,
    payment_id: PaymentId,
    token: TokenQuery = None,
) -> Response:
    found = _test_checkout(request, session, settings, login, payment_id, token)
    payable = found.payment.status in (PaymentStatus.pending, PaymentStatus.failed)
    response = render(
        request, "checkout/test_provider.html", found.context(payable=payable, done=False)
    )
    if token and found.order is not None:
        # Opened with the order's secret (an API client's checkout_url): the buttons post
        # from this browser, which now remembers it.
        _remember(response, request, settings, found.order.id, token)
    return response


@test_provider.post("/pay/test/{payment_id}/approve")
def test_payment_approve(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: OptionalLogin,
    payment_id: PaymentId,
) -> Response:
    found = _test_checkout(request, session, settings, login, payment_id, None)
    test_payments.approve_test_payment(
        session, payment_id=payment_id, payer=found.payer, now=utcnow(), settings=settings
    )
    # Straight back: the order's page says whether it is paid (or refunded, if its seats
    # were gone), the wallet's shows the new balance; no page in between.
    return redirect(found.back)


@test_provider.post("/pay/test/{payment_id}/decline")
def test_payment_decline(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: OptionalLogin,
    payment_id: PaymentId,
) -> Response:
    found = _test_checkout(request, session, settings, login, payment_id, None)
    test_payments.decline_test_payment(
        session, payment_id=payment_id, payer=found.payer, now=utcnow()
    )
    return RedirectResponse(f"/pay/test/{payment_id}/done", status_code=303)


@test_provider.get("/pay/test/{payment_id}/done")
def test_payment_done(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: OptionalLogin,
    payment_id: PaymentId,
) -> Response:
    found = _test_checkout(request, session, settings, login, payment_id, None)
    return render(request, "checkout/test_provider.html", found.context(payable=False, done=True))


# --- my orders and my tickets -------------------------------------------------------------


@router.get("/account/orders")
def my_orders(
    request: Request,
    session: SessionDep,
    login: RequiredLogin,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    found, total = buyer_orders.list_user_orders(
        session, user_id=login.user.id, page=page, per_page=20
    )
    now = utcnow()
    rows = [
        {"details": details, "status": str(effective_status(details.order, now=now))}
        for details in found
    ]
    return render(
        request,
        "account/orders.html",
        {"rows": rows, "total": total, "page": page, "pages": max(1, -(-total // 20))},
    )


@router.get("/account/tickets")
def my_tickets(
    request: Request,
    session: SessionDep,
    login: RequiredLogin,
    keys: KeyRingDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    views, total = tickets.list_user_tickets(
        session, user=login.user, keys=keys, page=page, per_page=20
    )
    items = [
        {"view": view, "qr": _qr_data_uri(view) if view.qr_payload else None} for view in views
    ]
    return render(
        request,
        "account/tickets.html",
        {"tickets": items, "total": total, "page": page, "pages": max(1, -(-total // 20))},
    )
