"""Building and sending the e-mails and their documents; the downloads use the same code.

Every message is sent at most once per (kind, order) *as recorded* (per refund for
refund notices): ``send_once`` checks the ``deliveries`` marker, sends, then records it.
A job killed before the send leaves no marker and its re-run sends; one killed between
the send and the marker would send again (at-least-once), but with the same Message-ID,
which the outbox (one file per id) and mail clients deduplicate. See docs/mail.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

import structlog
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import String, Uuid, bindparam, exists, func, select, tuple_
from sqlalchemy.orm import Session

from admitone.accounts.models import User
from admitone.authorization import OrgAccess, hash_order_token, order_access_token
from admitone.config import Settings
from admitone.db import Database, insert_once, utcnow
from admitone.events.models import Event, EventStatus, TicketType
from admitone.jobs import enqueue_after_commit
from admitone.languages import supported_language
from admitone.notifications import documents
from admitone.notifications.errors import DocumentNotFound
from admitone.notifications.mailer import attachment_part, get_mailer, header_text, new_message
from admitone.notifications.models import Delivery
from admitone.notifications.queries import readable_orders
from admitone.notifications.texts import LABELS
from admitone.orders.errors import OrderNotPaid
from admitone.orders.models import Order, OrderItem, OrderStatus
from admitone.orders.organizer_views import get_event_order
from admitone.organizations.models import Organization
from admitone.payments.models import Payment, Refund
from admitone.tickets.models import Ticket, TicketStatus
from admitone.tickets.service import TicketView, ticket_payload
from admitone.tickets.signing import KeyRing

log = structlog.get_logger(__name__)

TEMPLATES = Path(__file__).parent / "templates"


class Kind:
    order_confirmation = "order_confirmation"
    # The confirmation sent again at the organizer's request: one marker per request.
    order_confirmation_resent = "order_confirmation_resent"
    order_refunded = "order_refunded"
    payment_returned = "payment_returned"
    event_cancelled = "event_cancelled"
    event_reminder = "event_reminder"


def withheld(kind: str) -> str:
    """The marker kind of a message decided against (mail_permission): recorded like a
    delivery, so that no catch-up or re-run looks at it again."""
    return f"withheld.{kind}"


# How far back the daily bound on an unverified organizer's free-order mail looks.
STRANGER_MAIL_WINDOW = timedelta(days=1)


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class OrderBundle:
    """An order with everything its messages and documents print."""

    order: Order
    event: Event
    organizer: str
    lines: list[tuple[OrderItem, TicketType]]
    tickets: list[tuple[Ticket, TicketType]]
    locale: str
    # Verified by the platform: its own words (the event's title) may go in subjects.
    organizer_verified: bool = False


# The order with everything its messages print, in one statement (one round trip): the
# order, its event and organizer, the account's language, and a row per ticket with its
# line and type (a line without tickets has a row of its own). A ticket joins by its line
# (issue_tickets gives it the line's order and type; the index on order_item_id: by the
# type, the planners scan every ticket of the type). Built once: the job runs on every
# paid order, and building its three statements anew each time was a quarter of its
# database work (issue 15, docs/mail.md).
_ORDER_ROWS = (
    select(
        Order,
        Event,
        Organization.name,
        Organization.verified_at,
        User.locale,
        OrderItem,
        TicketType,
        Ticket,
    )
    .join(Event, Event.id == Order.event_id)
    .join(Organization, Organization.id == Order.organization_id)
    .outerjoin(User, User.id == Order.user_id)
    .outerjoin(OrderItem, OrderItem.order_id == Order.id)
    .outerjoin(TicketType, TicketType.id == OrderItem.ticket_type_id)
    .outerjoin(Ticket, Ticket.order_item_id == OrderItem.id)
    .where(Order.id == bindparam("order_id", type_=Uuid))
    .order_by(TicketType.position, TicketType.name, OrderItem.id)
)
# The same, and whether the message of ``kind`` about ``marker_id`` went out or was
# withheld (already_delivered), for send_once: its check and its load in one statement.
_ORDER_ROWS_UNLESS_DELIVERED = _ORDER_ROWS.add_columns(
    exists()
    .where(
        Delivery.kind.in_(
            (bindparam("kind", type_=String), bindparam("withheld_kind", type_=String))
        ),
        Delivery.object_id == bindparam("marker_id", type_=Uuid),
    )
    .label("delivered")
)


def load_order(session: Session, order_id: uuid.UUID) -> OrderBundle | None:
    return _bundle(session.execute(_ORDER_ROWS, {"order_id": order_id}).all())


def _load_order_unless_delivered(
    session: Session, order_id: uuid.UUID, *, kind: str, marker_id: uuid.UUID
) -> OrderBundle | None:
    """``load_order``, or None when the order is not found or the message of ``kind``
    about ``marker_id`` went out already (or was withheld)."""
    rows = session.execute(
        _ORDER_ROWS_UNLESS_DELIVERED,
        {
            "order_id": order_id,
            "kind": kind,
            "withheld_kind": withheld(kind),
            "marker_id": marker_id,
        },
    ).all()
    if rows and rows[0].delivered:
        return None
    return _bundle(rows)


def _bundle(rows: Sequence[Any]) -> OrderBundle | None:
    """The bundle from the rows of _ORDER_ROWS (and the columns added after them)."""
    if not rows:
        return None
    order, event, organizer, verified_at, user_locale = rows[0][:5]
    lines: list[tuple[OrderItem, TicketType]] = []
    tickets: list[tuple[Ticket, TicketType]] = []
    for row in rows:
        item, ticket_type, ticket = row[5:8]
        if item is None:
            continue  # an order without lines (none is made so)
        if not lines or lines[-1][0] is not item:
            lines.append((item, ticket_type))
        if ticket is not None:
            tickets.append((ticket, ticket_type))
    # The tickets by type position, then as issued (the rows come in the lines' order).
    tickets.sort(key=lambda pair: (pair[1].position, pair[0].created_at, pair[0].id))
    # The language recorded with the order (guests too); older orders: the account's.
    locale = supported_language(order.locale if order.locale is not None else user_locale)
    return OrderBundle(
        order, event, organizer, lines, tickets, locale, organizer_verified=verified_at is not None
    )


# --- documents -------------------------------------------------------------------------


def _venue(event: Event) -> str:
    return ", ".join(part for part in (event.venue_name, event.venue_address, event.city) if part)


def _ticket_sheet(
    event: Event, ticket: Ticket, ticket_type: TicketType, order: Order, payload: str, locale: str
) -> documents.TicketSheet:
    return documents.TicketSheet(
        ticket_id=ticket.id,
        event_title=event.title,
        starts_at=documents.local_time(event.starts_at, event.timezone, locale),
        venue=_venue(event),
        holder_name=ticket.holder_name,
        ticket_type=ticket_type.name,
        order_code=order.code,
        qr_payload=payload,
        labels=LABELS[locale],
    )


def ticket_document(
    event: Event, ticket: Ticket, ticket_type: TicketType, order: Order, payload: str, locale: str
) -> bytes:
    return documents.ticket_pdf(_ticket_sheet(event, ticket, ticket_type, order, payload, locale))


def order_tickets_pdf(views: list[TicketView], *, locale: str = "en") -> bytes:
    """All the valid tickets of one order in one PDF, a page each (the download of the
    order's page); TicketRevoked when none is valid any more."""
    valid = [(view, view.qr_payload) for view in views if view.qr_payload is not None]
    if not valid:
        from admitone.tickets.errors import TicketRevoked

        raise TicketRevoked()
    language = supported_language(locale)
    first = valid[0][0]
    return documents.tickets_pdf(
        [
            _ticket_sheet(view.event, view.ticket, view.ticket_type, view.order, payload, language)
            for view, payload in valid
        ],
        title=f"{first.event.title} - {first.order.code}",
    )


def ticket_view_pdf(view: TicketView, *, locale: str = "en") -> bytes:
    """The PDF of a ticket a caller may read (the download route); 409 once revoked."""
    if view.qr_payload is None:
        from admitone.tickets.errors import TicketRevoked

        raise TicketRevoked()
    return ticket_document(
        view.event,
        view.ticket,
        view.ticket_type,
        view.order,
        view.qr_payload,
        supported_language(locale),
    )


def receipt_document(bundle: OrderBundle) -> bytes:
    order, locale = bundle.order, bundle.locale
    paid_at = order.paid_at or order.created_at
    return documents.receipt_pdf(
        documents.Receipt(
            order_code=order.code,
            buyer_name=order.buyer_name,
            buyer_email=order.buyer_email,
            organizer=bundle.organizer,
            event_title=bundle.event.title,
            paid_at=documents.local_time(paid_at, bundle.event.timezone, locale, "medium"),
            currency=order.currency,
            lines=[
                documents.ReceiptLine(
                    name=ticket_type.name,
                    quantity=item.quantity,
                    unit_price_minor=item.unit_price_minor,
                    vat_rate_bp=ticket_type.vat_rate_bp,
                )
                for item, ticket_type in bundle.lines
            ],
            refunded_minor=order.refunded_minor,
            locale=locale,
            labels=LABELS[locale],
        )
    )


def calendar_document(bundle: OrderBundle, settings: Settings) -> bytes:
    return documents.calendar_ics(
        bundle.event,
        order_code=bundle.order.code,
        url=f"{settings.public_url.rstrip('/')}/events/{bundle.event.slug}",
    )


def readable_order(
    session: Session, *, order_id: uuid.UUID, user: User | None, order_token: str | None
) -> OrderBundle:
    """An order the caller may read (buyer, token holder, organizer), else 404."""
    found = session.scalar(
        readable_orders(
            user=user, order_token_hash=hash_order_token(order_token) if order_token else None
        ).where(Order.id == order_id)
    )
    bundle = load_order(session, found.id) if found is not None else None
    if bundle is None:
        raise DocumentNotFound()
    return bundle


def order_receipt(
    session: Session,
    *,
    order_id: uuid.UUID,
    user: User | None,
    order_token: str | None,
    locale: str | None = None,
) -> tuple[OrderBundle, bytes]:
    """The receipt PDF of a paid (or since refunded) order; 404 before payment.

    In ``locale`` when given (a page's language), else the order's (as mailed).
    """
    bundle = readable_order(session, order_id=order_id, user=user, order_token=order_token)
    if bundle.order.paid_at is None:
        raise DocumentNotFound("This order has not been paid.")
    if locale is not None:
        bundle = replace(bundle, locale=supported_language(locale))
    return bundle, receipt_document(bundle)


def order_calendar(
    session: Session,
    *,
    order_id: uuid.UUID,
    user: User | None,
    order_token: str | None,
    settings: Settings,
) -> tuple[OrderBundle, bytes]:
    bundle = readable_order(session, order_id=order_id, user=user, order_token=order_token)
    return bundle, calendar_document(bundle, settings)


# --- messages --------------------------------------------------------------------------


def _message_id(settings: Settings, kind: str, object_id: uuid.UUID) -> str:
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "admitone"
    return f"<{kind}.{object_id}@{domain}>"


def order_page_url(order: Order, settings: Settings) -> str:
    """The order's page, as its mails link to it: a guest's link carries the order's
    secret (authorization.order_access_token), an account's order opens after logging in.

    An order made before tokens were derived has a random one the server cannot give
    again: its link then has no token (the buyer opens it with the link they kept)."""
    url = f"{settings.public_url.rstrip('/')}/orders/{order.id}"
    if order.user_id is not None:
        return url
    token = order_access_token(settings.secret_key.get_secret_value(), order.id)
    if hash_order_token(token) != order.access_token_hash:
        return url
    return f"{url}?token={token}"


def _compose(
    *,
    settings: Settings,
    kind: str,
    bundle: OrderBundle,
    context: dict[str, object],
    object_id: uuid.UUID | None = None,
) -> EmailMessage:
    """Render ``kind`` for the order; the Message-ID names ``object_id`` (default: the
    order), the same object the delivery marker is keyed by."""
    environment = _templates()
    locale = bundle.locale
    event, order = bundle.event, bundle.order
    values = {
        "order": order,
        "event": event,
        "organizer": bundle.organizer,
        # Subjects name the event only for a verified organizer (docs/mail.md).
        "organizer_verified": bundle.organizer_verified,
        "locale": locale,
        "when": documents.local_time(event.starts_at, event.timezone, locale),
        "venue": _venue(event),
        "total": documents.money(order.total_minor, order.currency, locale),
        "refunded": documents.money(order.refunded_minor, order.currency, locale),
        "public_url": settings.public_url.rstrip("/"),
        "order_url": order_page_url(order, settings),
        **context,
    }
    text_template = environment.get_template(f"{locale}/{kind}.txt")
    html_template = environment.get_template(f"{locale}/{kind}.html")
    # The template sets its subject ({% set subject %}); Jinja exports it as an attribute
    # of the template's module, which Jinja's types cannot declare.
    module: Any = text_template.make_module(values)
    subject = str(module.subject)
    message = new_message()
    message["Subject"] = header_text(subject)
    message["From"] = settings.mail_from
    message["To"] = formataddr((header_text(order.buyer_name), order.buyer_email))
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = _message_id(settings, kind, object_id or order.id)
    # The module is the rendered template: its text is the body (rendered once, not twice).
    message.set_content(str(module))
    message.add_alternative(html_template.render(values), subtype="html")
    return message


def _attach(message: EmailMessage, data: bytes, filename: str, mime: str) -> None:
    maintype, subtype = mime.split("/")
    part = attachment_part(message, data, filename=filename, mime=mime)
    if part is None:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    else:
        if message.get_content_type() != "multipart/mixed":
            message.make_mixed()
        message.attach(part)


def confirmation_message(
    session: Session,
    bundle: OrderBundle,
    *,
    keys: KeyRing,
    settings: Settings,
    object_id: uuid.UUID | None = None,
) -> EmailMessage:
    """The tickets, the .ics and the receipt; ``object_id`` names a resend (its own
    Message-ID, so that mail clients do not take it for the first one)."""
    valid = [(t, tt) for t, tt in bundle.tickets if t.status == TicketStatus.valid]
    message = _compose(
        settings=settings,
        kind=Kind.order_confirmation,
        bundle=bundle,
        context={"tickets": valid},
        object_id=object_id,
    )
    for index, (ticket, ticket_type) in enumerate(valid, start=1):
        payload = ticket_payload(session, ticket=ticket, keys=keys)
        pdf = ticket_document(
            bundle.event, ticket, ticket_type, bundle.order, payload, bundle.locale
        )
        _attach(message, pdf, f"ticket-{bundle.order.code}-{index}.pdf", "application/pdf")
    _attach(message, calendar_document(bundle, settings), "event.ics", "text/calendar")
    _attach(
        message, receipt_document(bundle), f"receipt-{bundle.order.code}.pdf", "application/pdf"
    )
    return _finish(message, bundle.locale)


def _finish(message: EmailMessage, locale: str) -> EmailMessage:
    # Last: set_content and add_attachment move Content-* headers into the sub-parts.
    message["Content-Language"] = locale
    return message


def simple_message(bundle: OrderBundle, *, kind: str, settings: Settings) -> EmailMessage:
    message = _compose(settings=settings, kind=kind, bundle=bundle, context={})
    if kind == Kind.event_reminder:
        _attach(message, calendar_document(bundle, settings), "event.ics", "text/calendar")
    return _finish(message, bundle.locale)


@dataclass(frozen=True)
class RefundFacts:
    """One refund as its notice tells it: this refund's amount and what is still paid."""

    refund_id: uuid.UUID
    order_id: uuid.UUID
    amount_minor: int
    remaining_minor: int
    reason: str


def load_refund(session: Session, refund_id: uuid.UUID) -> RefundFacts | None:
    """A refund and what its payment still held right after it (refunds up to this one,
    in the order they were made), so a late or re-run notice tells the same numbers."""
    refund = session.get(Refund, refund_id)
    if refund is None:
        return None
    paid = session.scalar(select(Payment.amount_minor).where(Payment.id == refund.payment_id))
    refunded_so_far = session.scalar(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.payment_id == refund.payment_id,
            tuple_(Refund.created_at, Refund.id) <= tuple_(refund.created_at, refund.id),
        )
    )
    return RefundFacts(
        refund_id=refund.id,
        # Only the refunds of orders have notices (the orders domain asks for them).
        order_id=refund.purpose_id,
        amount_minor=refund.amount_minor,
        remaining_minor=max(0, (paid or 0) - int(refunded_so_far or 0)),
        reason=refund.reason,
    )


def refund_message(
    bundle: OrderBundle,
    *,
    refund: RefundFacts,
    revoked_ticket_ids: frozenset[uuid.UUID],
    settings: Settings,
) -> EmailMessage:
    """The notice of one refund: its amount, the tickets it revoked, what stays paid;
    the updated receipt attached. Its Message-ID names the refund, not the order."""
    order, locale = bundle.order, bundle.locale
    revoked = [(t, tt) for t, tt in bundle.tickets if t.id in revoked_ticket_ids]
    message = _compose(
        settings=settings,
        kind=Kind.order_refunded,
        bundle=bundle,
        object_id=refund.refund_id,
        context={
            "refund_amount": documents.money(refund.amount_minor, order.currency, locale),
            "remaining": documents.money(refund.remaining_minor, order.currency, locale),
            "fully_refunded": refund.remaining_minor == 0,
            "revoked": revoked,
        },
    )
    _attach(message, receipt_document(bundle), f"receipt-{order.code}.pdf", "application/pdf")
    return _finish(message, locale)


def payment_returned_message(
    bundle: OrderBundle, *, refund: RefundFacts, settings: Settings
) -> EmailMessage:
    """A payment that could not be used, refunded automatically, and why: the hold ran
    out and the seats were sold meanwhile, the event is off sale, the order had been
    cancelled, or the order was already paid by another payment. No receipt: nothing
    was bought with it."""
    order = bundle.order
    return _finish(
        _compose(
            settings=settings,
            kind=Kind.payment_returned,
            bundle=bundle,
            object_id=refund.refund_id,
            context={
                "refund_amount": documents.money(
                    refund.amount_minor, order.currency, bundle.locale
                ),
                "reason": refund.reason,
            },
        ),
        bundle.locale,
    )


# --- sending once ----------------------------------------------------------------------


def already_delivered(session: Session, *, kind: str, object_id: uuid.UUID) -> bool:
    """Whether the ``kind`` message about ``object_id`` went out, or was withheld."""
    return (
        session.scalar(
            select(Delivery.id).where(
                Delivery.kind.in_((kind, withheld(kind))), Delivery.object_id == object_id
            )
        )
        is not None
    )


def _buyer_owns_address(session: Session, order: Order) -> bool:
    """The order was placed from an account whose own, verified address it is mailed to."""
    if order.user_id is None:
        return False
    email = session.scalar(
        select(User.email).where(User.id == order.user_id, User.email_verified_at.is_not(None))
    )
    return email is not None and email == order.buyer_email.strip().lower()


def mail_permission(
    session: Session, bundle: OrderBundle, *, kind: str, settings: Settings, now: datetime
) -> bool:
    """May this message about an order go to its buyer's address?

    Anyone can place a free order with any e-mail address, so an organizer the platform
    does not know could make it mail strangers. A message goes out when the organizer is
    verified, when money was paid (the order has a total), or when the buyer mails
    themself (an account ordering for its own verified address). Otherwise: a free order's
    confirmation goes out while the organizer has mailed fewer than
    ``unverified_organizer_free_mails_per_day`` such confirmations in the last 24 hours,
    and later messages about that order only if its confirmation went out. Two jobs
    running at the same instant may each take the last place (a bound, not a quota).
    """
    order = bundle.order
    if bundle.organizer_verified or order.total_minor > 0 or _buyer_owns_address(session, order):
        return True
    if kind != Kind.order_confirmation:
        return (
            session.scalar(
                select(Delivery.id).where(
                    Delivery.kind == Kind.order_confirmation, Delivery.object_id == order.id
                )
            )
            is not None
        )
    sent = session.scalar(
        select(func.count())
        .select_from(Delivery)
        .join(Order, Order.id == Delivery.object_id)
        .where(
            Delivery.kind == Kind.order_confirmation,
            Delivery.sent_at >= now - STRANGER_MAIL_WINDOW,
            Order.organization_id == order.organization_id,
            Order.total_minor == 0,
        )
    )
    return (sent or 0) < settings.unverified_organizer_free_mails_per_day


def _record_withheld(
    database: Database, *, kind: str, marker_id: uuid.UUID, bundle: OrderBundle
) -> None:
    record_delivery(
        database,
        kind=withheld(kind),
        object_id=marker_id,
        recipient=bundle.order.buyer_email,
        message_id="",
    )
    log.warning(
        "mail withheld: an unverified organizer's free order",
        kind=kind,
        order_id=str(bundle.order.id),
        organization_id=str(bundle.order.organization_id),
    )


def send_once(
    database: Database,
    settings: Settings,
    *,
    kind: str,
    order_id: uuid.UUID,
    build: Callable[[Session, OrderBundle], EmailMessage | None],
    before_send: Callable[[], None] | None = None,
    object_id: uuid.UUID | None = None,
) -> bool:
    """Build and send the ``kind`` message of an order unless it went out already.

    The marker is keyed by ``object_id``: the order (one message of this kind per
    order), or another object when an order has several (a refund notice per refund).
    ``build`` re-checks the state and may return None (nothing to send). A message that
    ``mail_permission`` refuses is not built; its refusal is recorded instead. Returns
    True when this call sent it. The marker is written after the send (module doc).
    """
    marker_id = object_id or order_id
    with database.session(write=False) as session:
        # The marker's check and the order in one statement (already_delivered).
        bundle = _load_order_unless_delivered(session, order_id, kind=kind, marker_id=marker_id)
        if bundle is None:
            return False
        permitted = mail_permission(session, bundle, kind=kind, settings=settings, now=utcnow())
        message = build(session, bundle) if permitted else None
    if not permitted:
        _record_withheld(database, kind=kind, marker_id=marker_id, bundle=bundle)
        return False
    if message is None:
        return False
    if before_send is not None:
        before_send()
    get_mailer(settings).send(message)
    recorded = record_delivery(
        database,
        kind=kind,
        object_id=marker_id,
        recipient=bundle.order.buyer_email,
        message_id=str(message["Message-ID"]),
    )
    if not recorded:
        log.warning("mail sent twice (a concurrent run)", kind=kind, object_id=str(marker_id))
    return True


def record_delivery(
    database: Database, *, kind: str, object_id: uuid.UUID, recipient: str, message_id: str
) -> bool:
    """Write the (kind, object) marker in a unit of work of its own; False when a
    concurrent run wrote it first (its unique key)."""
    with database.session() as session:
        return insert_once(
            session,
            Delivery,
            {
                "id": uuid.uuid4(),
                "kind": kind,
                "object_id": object_id,
                "recipient": recipient,
                "message_id": message_id,
                "sent_at": utcnow(),
            },
        )


def reminder_orders(session: Session, *, now: datetime, within: timedelta) -> list[uuid.UUID]:
    """Paid orders of published events starting in (now, now + within] not yet reminded."""
    return list(
        session.scalars(
            select(Order.id)
            .join(Event, Event.id == Order.event_id)
            .where(
                Event.status == EventStatus.published,
                Event.starts_at > now,
                Event.starts_at <= now + within,
                Order.status == OrderStatus.paid,
                ~select(Delivery.id)
                .where(
                    Delivery.kind.in_((Kind.event_reminder, withheld(Kind.event_reminder))),
                    Delivery.object_id == Order.id,
                )
                .exists(),
            )
            .order_by(Order.id)
        )
    )


def unconfirmed_orders(
    session: Session, *, now: datetime, settled_for: timedelta, within: timedelta, limit: int
) -> list[uuid.UUID]:
    """Paid orders whose confirmation went out to no one: paid in [now - within,
    now - settled_for] (long enough ago that their own job would have sent it) and
    without the confirmation's delivery marker. Oldest first."""
    return list(
        session.scalars(
            select(Order.id)
            .where(
                Order.status == OrderStatus.paid,
                Order.paid_at >= now - within,
                Order.paid_at <= now - settled_for,
                ~select(Delivery.id)
                .where(
                    Delivery.kind.in_((Kind.order_confirmation, withheld(Kind.order_confirmation))),
                    Delivery.object_id == Order.id,
                )
                .exists(),
            )
            .order_by(Order.paid_at, Order.id)
            .limit(limit)
        )
    )


def orders_to_tell_of_cancellation(session: Session, event_id: uuid.UUID) -> list[uuid.UUID]:
    """Orders of an event that held tickets and are refunded: the message says so. An
    order whose refund is still to come hears of it once refunded (the refund job asks
    again)."""
    return list(
        session.scalars(
            select(Order.id)
            .where(
                Order.event_id == event_id,
                Order.status == OrderStatus.refunded,
                Order.paid_at.is_not(None),
            )
            .order_by(Order.id)
        )
    )


def resend_order_confirmation(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, order_id: uuid.UUID
) -> uuid.UUID:
    """Ask for the order's confirmation (its valid tickets, .ics, receipt) to be sent to
    its buyer again, once this unit of work commits; returns the resend's id, which is
    its delivery marker (so a re-run of the job sends it once, and each request once).

    Only a paid order (``OrderNotPaid`` otherwise); the same mail permission as the first
    confirmation applies when the job runs. No lock: nothing changes but the job queue.
    """
    details = get_event_order(session, access=access, event_id=event_id, order_id=order_id)
    if details.order.status != OrderStatus.paid:
        raise OrderNotPaid(status=str(details.order.status))
    resend_id = uuid.uuid4()
    enqueue_after_commit(
        session,
        "notifications.resend_order_confirmation",
        order_id=str(details.order.id),
        resend_id=str(resend_id),
    )
    return resend_id
