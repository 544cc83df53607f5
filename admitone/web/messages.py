"""User-facing texts that come from codes: flash notices, domain errors, field errors.

Services speak English with a stable ``code``; the pages show the reader's language by
looking the code up here and fall back to a generic sentence for a code they do not
know (never to an English sentence on a French page).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from admitone.errors import DomainError
from admitone.web.i18n import _

FLASH: Mapping[str, Callable[[], str]] = {
    "welcome": lambda: _("Welcome! Your account is ready."),
    "logged_in": lambda: _("You are logged in."),
    "logged_out": lambda: _("You are logged out."),
    "language": lambda: _("Language changed."),
    "event_created": lambda: _("Event created. Add ticket types, then publish it."),
    "event_saved": lambda: _("Event saved."),
    "event_published": lambda: _("Event published: it is now in the catalogue."),
    "event_cancelled": lambda: _("Event cancelled."),
    "event_duplicated": lambda: _(
        "This is a new draft copy of the event, with its ticket types. Change what differs, "
        "then publish it."
    ),
    "ticket_type_saved": lambda: _("Ticket type saved."),
    "ticket_type_deleted": lambda: _("Ticket type deleted."),
    "checkin_list_saved": lambda: _("Check-in list saved."),
    "checkin_list_deleted": lambda: _("Check-in list deleted."),
    "device_revoked": lambda: _("Device revoked: its next scan or upload is refused."),
    "image_saved": lambda: _("Image saved: the catalogue shows it now."),
    "image_removed": lambda: _("Image removed."),
    "refunded": lambda: _("The order was refunded and its tickets revoked."),
    "refunded_tickets": lambda: _("The ticked tickets were refunded and revoked."),
    "tickets_resent": lambda: _("The tickets are on their way to the buyer again."),
    "member_added": lambda: _("Member added."),
    "member_updated": lambda: _("Role changed."),
    "member_removed": lambda: _("Member removed."),
    "org_created": lambda: _("Organization created."),
    "order_cancelled": lambda: _("Order cancelled; the seats are released."),
    "attendee_names_saved": lambda: _("Names saved: the tickets show them now."),
    "publish_needs_ticket_type": lambda: _(
        "Not published yet: add at least one ticket type, then publish again."
    ),
    "publish_starts_in_the_past": lambda: _(
        "Not published yet: the event starts in the past. Change its date, then publish again."
    ),
    "password_reset": lambda: _("Your password is changed. Log in with the new one."),
    "password_changed": lambda: _("Your password is changed. Your other logins are ended."),
    "email_verified": lambda: _("Your e-mail address is confirmed."),
    "email_changed": lambda: _(
        "Your e-mail address is changed. Open the link we sent to it to confirm it."
    ),
    "verification_sent": lambda: _("We sent you a new link. Check your mailbox."),
    "verification_limited": lambda: _(
        "We already sent several links in the last hour. Check your mailbox (and spam)."
    ),
    "login_ended": lambda: _("That login is ended."),
    "logged_out_everywhere": lambda: _("You are logged out on every device."),
    "two_factor_admin": lambda: _(
        "Platform administrators must set up two-factor authentication before anything else."
    ),
    "second_factor_expired": lambda: _(
        "The sign-in step has expired; log in again with your password."
    ),
    "totp_disabled": lambda: _("The authenticator app is turned off."),
    "passkey_added": lambda: _("Passkey added."),
    "passkey_removed": lambda: _("Passkey removed."),
    "two_factor_requirement_saved": lambda: _("Two-factor requirement saved."),
    "cashless_saved": lambda: _("Cashless settings saved."),
    "stand_saved": lambda: _("Stand saved."),
    "lineup_saved": lambda: _("Lineup saved."),
    "slot_cancelled": lambda: _("Slot cancelled."),
    "artist_picture_saved": lambda: _("Picture saved."),
    "product_saved": lambda: _("Product saved."),
    "cashier_assigned": lambda: _("Cashier assigned: they may sell at this stand now."),
    "cashier_removed": lambda: _("Cashier removed from this stand."),
    "wallet_blocked": lambda: _("Wallet blocked: it cannot spend until it is unblocked."),
    "wallet_unblocked": lambda: _("Wallet unblocked."),
    "wallet_pass_replaced": lambda: _(
        "Pass replaced: the old one is refused from now on; the money stays in the wallet."
    ),
}


# Flash messages that tell of something not done: shown as warnings, not as successes.
WARNING_FLASHES = frozenset({"publish_needs_ticket_type", "publish_starts_in_the_past"})


def flash_text(key: str) -> str:
    factory = FLASH.get(key)
    return factory() if factory else ""


def flash_is_warning(key: str) -> bool:
    return key in WARNING_FLASHES


# The page's text for each error code that can be raised (the codes of the error classes
# in admitone/, tests/web/test_error_texts.py checks both ways), grouped by domain. A
# code missing here would fall back to its HTTP status's text (STATUS_TEXT).
ERROR_CODES: Mapping[str, Callable[[], str]] = {
    # admitone/errors.py: the families every domain shares.
    "BAD_REQUEST": lambda: _("The request could not be processed."),
    "VALIDATION_ERROR": lambda: _("Some fields are invalid."),
    "NOT_AUTHENTICATED": lambda: _("Please log in to see this page."),
    "INVALID_TOKEN": lambda: _("Your login has ended; please log in again."),
    "PERMISSION_DENIED": lambda: _("Your role does not allow this."),
    "NOT_FOUND": lambda: _("We could not find what you are looking for."),
    "CONFLICT": lambda: _("This changed in the meantime; reload the page and try again."),
    "PAYLOAD_TOO_LARGE": lambda: _("This file is too large."),
    "UNSUPPORTED_MEDIA_TYPE": lambda: _("This file type is not accepted."),
    "RATE_LIMITED": lambda: _("Too many attempts; wait a minute and try again."),
    "BUSY": lambda: _("We are very busy right now; please try again in a moment."),
    "SERVICE_UNAVAILABLE": lambda: _(
        "The service is briefly unavailable; please try again in a few seconds."
    ),
    # web/security.py: the pages' own.
    "CSRF_FAILED": lambda: _(
        "This form has expired or did not come from this site. Reload the page and try again."
    ),
    "LOGIN_REQUIRED": lambda: _("Please log in to see this page."),
    # accounts/
    "EMAIL_TAKEN": lambda: _("An account with this e-mail already exists."),
    "WEAK_PASSWORD": lambda: _("This password is too weak."),
    "INVALID_CREDENTIALS": lambda: _("E-mail or password is incorrect."),
    "REFRESH_TOKEN_REUSED": lambda: _("Your login has ended; please log in again."),
    "RESET_TOKEN_INVALID": lambda: _(
        "This link is invalid, already used or expired. Ask for a new one below."
    ),
    "VERIFICATION_TOKEN_INVALID": lambda: _(
        "This link is invalid, already used or expired. Log in and ask for a new one on your "
        "account page."
    ),
    "EMAIL_NOT_VERIFIED": lambda: _(
        "Confirm your e-mail address first: open the link we sent you, or ask for a new one."
    ),
    "EMAIL_ALREADY_VERIFIED": lambda: _("Your e-mail address is confirmed."),
    "LOGIN_NOT_FOUND": lambda: _("We could not find what you are looking for."),
    # accounts/oidc/: signing in with an identity provider.
    "IDENTITY_PROVIDER_UNKNOWN": lambda: _("This sign-in method is not available."),
    "IDENTITY_PROVIDER_UNAVAILABLE": lambda: _(
        "We cannot reach the identity provider right now. Try again in a few minutes, "
        "or log in with your e-mail and password."
    ),
    "IDENTITY_PROVIDER_INVALID_RESPONSE": lambda: _(
        "The identity provider's answer could not be verified, so we did not sign you in. "
        "Try again."
    ),
    "IDENTITY_LOGIN_STATE_INVALID": lambda: _(
        "This sign-in link is invalid or has expired (it must be used in the browser "
        "that started the sign-in, within 10 minutes). Start again from the login page."
    ),
    "IDENTITY_LOGIN_CANCELLED": lambda: _(
        "The sign-in was cancelled or refused at the identity provider. You are not logged in."
    ),
    "IDENTITY_EMAIL_MISSING": lambda: _(
        "The identity provider did not give us a usable e-mail address, which your "
        "account needs. Allow access to your e-mail address, or sign up with a password."
    ),
    "IDENTITY_EMAIL_NOT_VERIFIED": lambda: _(
        "The identity provider has not verified your e-mail address, so we cannot use "
        "it to sign you in: that would let anyone claim an address that is not theirs. "
        "Verify the address with the provider and try again, or log in with your "
        "password."
    ),
    "IDENTITY_ACCOUNT_DISABLED": lambda: _("This account is disabled."),
    # twofactor/
    "SECOND_FACTOR_INVALID": lambda: _("The code is incorrect or was already used."),
    "SECOND_FACTOR_TOKEN_INVALID": lambda: _(
        "The sign-in step has expired; log in again with your password."
    ),
    "TOTP_ALREADY_ENABLED": lambda: _("An authenticator app is already set up."),
    "TOTP_NOT_STARTED": lambda: _("Start the authenticator app setup first."),
    "TOTP_NOT_ENABLED": lambda: _("No authenticator app is set up."),
    "VERIFICATION_REQUIRED": lambda: _(
        "Give a code from your authenticator app, a recovery code or your password."
    ),
    "PASSKEY_INVALID": lambda: _("The passkey could not be verified."),
    "PASSKEY_CHALLENGE_INVALID": lambda: _("This passkey request has expired; try again."),
    "PASSKEY_ALREADY_REGISTERED": lambda: _("This passkey is already registered."),
    "TWO_FACTOR_SETUP_REQUIRED": lambda: _(
        "Platform administrators must set up two-factor authentication before anything else."
    ),
    "TWO_FACTOR_REQUIRED": lambda: _(
        "This organization requires two-factor authentication of its members. "
        "Set it up on your account's security page, then come back."
    ),
    # organizations/
    "OWNER_REQUIRED": lambda: _("Only an owner can grant, change or remove the owner role."),
    "LAST_OWNER": lambda: _("An organization must keep at least one owner."),
    "ALREADY_MEMBER": lambda: _("This person is already a member."),
    "USER_NOT_FOUND": lambda: _("No account uses this e-mail; ask the person to register first."),
    "SLUG_TAKEN": lambda: _("This address is already taken."),
    "PLATFORM_ADMIN_REQUIRED": lambda: _("Only a platform administrator can do this."),
    # events/
    "EVENT_HAS_SALES": lambda: _(
        "This event has orders or tickets on hold; cancel it instead of deleting it."
    ),
    "EVENT_CANCELLED": lambda: _("This event was cancelled."),
    "EVENT_ALREADY_CANCELLED": lambda: _("This event is already cancelled."),
    "EVENT_NOT_DRAFT": lambda: _("Only a draft event can be changed this way."),
    "EVENT_NOT_PUBLISHABLE": lambda: _("This event cannot be published yet."),
    "CAPACITY_BELOW_SOLD": lambda: _("The capacity cannot be lower than the tickets already sold."),
    "TICKET_TYPE_HAS_SALES": lambda: _(
        "This ticket type has sales; deactivate it instead of deleting it."
    ),
    # orders/
    "EVENT_NOT_PUBLISHED": lambda: _("This event is not on sale."),
    "TICKET_TYPE_INACTIVE": lambda: _("This ticket type is not on sale."),
    "SALES_NOT_OPEN": lambda: _("Sales have not started yet for this ticket type."),
    "SALES_CLOSED": lambda: _("Sales are closed for this ticket type."),
    "LIMIT_EXCEEDED": lambda: _("This quantity is not allowed for this ticket type."),
    "HOLD_LIMIT_REACHED": lambda: _(
        "You already hold as many unpaid tickets for this event as allowed at once. "
        "Pay or cancel your pending order first, or wait a few minutes."
    ),
    "BUYER_LIMIT_REACHED": lambda: _(
        "This would go beyond the number of tickets of this type allowed per buyer."
    ),
    "SOLD_OUT": lambda: _("Sorry, there are not enough tickets left."),
    "IDEMPOTENCY_KEY_REUSED": lambda: _(
        "This request was already sent with other details; start again."
    ),
    "ORDER_NOT_PENDING": lambda: _("This order can no longer be changed."),
    "HOLD_EXPIRED": lambda: _("Your reservation has expired; please start again."),
    "ORDER_NOT_PAID": lambda: _("This order is not paid."),
    # payments/
    "PAYMENT_NOT_PENDING": lambda: _("This payment can no longer be changed."),
    "PAYMENT_PROVIDER_ERROR": lambda: _(
        "The payment service could not complete the request; please try again in a moment."
    ),
    "REFUND_TOO_LARGE": lambda: _("The refund is larger than what was paid."),
    "TICKETS_NOT_REFUNDABLE": lambda: _(
        "Some of these tickets cannot be refunded: they are no longer valid tickets of this order."
    ),
    "INVALID_SIGNATURE": lambda: _("The signature of this request is invalid."),
    # tickets/
    "TICKET_NOT_FOUND": lambda: _("We could not find what you are looking for."),
    "TICKET_REVOKED": lambda: _("This ticket is no longer valid."),
    "SIGNING_KEY_UNAVAILABLE": lambda: _(
        "Tickets cannot be shown right now; we have been told. Please try again later."
    ),
    "ATTENDEE_NAMES_NOT_ASKED": lambda: _(
        "This event does not ask for attendee names: the tickets carry the buyer's name."
    ),
    "TICKET_ALREADY_ADMITTED": lambda: _(
        "This ticket was already admitted at the entrance; its name can no longer change."
    ),
    "EVENT_ENDED": lambda: _("This event has ended; its tickets can no longer change."),
    # checkin/
    "EVENT_NOT_FOUND": lambda: _("We could not find what you are looking for."),
    "NONCE_REUSED": lambda: _(
        "This scan was already sent with other details; scan the ticket again."
    ),
    "SCAN_IN_PROGRESS": lambda: _("This scan is still being processed; try again in a moment."),
    "TICKET_NOT_ADMITTED": lambda: _("This ticket is not admitted: there is no admission to undo."),
    "SEARCH_TOO_SHORT": lambda: _(
        "Type at least two characters of a name, an e-mail or an order code."
    ),
    "CHECKIN_LIST_NOT_FOUND": lambda: _("This check-in list does not exist for this event."),
    "DEFAULT_LIST_NOT_DELETABLE": lambda: _("The event's default check-in list cannot be deleted."),
    "CHECKIN_LIST_HAS_SCANS": lambda: _(
        "This check-in list already has scans; it can no longer be deleted."
    ),
    "CHECKIN_LIST_TICKET_TYPE_UNKNOWN": lambda: _(
        "Every ticket type of a check-in list must be one of the event's ticket types."
    ),
    "CHECKIN_LIST_WINDOW_INVALID": lambda: _(
        "A check-in list's time window must end after it starts."
    ),
    "DEVICE_TOKEN_INVALID": lambda: _(
        "This device is not paired, or its pairing was revoked: pair it again."
    ),
    "DEVICE_NOT_FOUND": lambda: _("This device does not exist for this event."),
    "BUNDLE_CURSOR_INVALID": lambda: _(
        "This download cannot be resumed; the device starts it again."
    ),
    "STAND_NOT_FOUND": lambda: _("No such stand at this event."),
    "OFFLINE_PRODUCT_UNKNOWN": lambda: _("A sale names a product this stand does not have."),
    "OFFLINE_SALE_EMPTY": lambda: _("A sale must have at least one line and a total above zero."),
    "SCAN_RESULT_MISMATCH": lambda: _(
        "This scan's result does not match its kind (an entry or an exit)."
    ),
    # relay/ (the site relay answers in JSON only; the texts serve a scanner showing them)
    "RELAY_NOT_READY": lambda: _(
        "The site relay has not downloaded the event's tickets yet: it cannot check tickets."
    ),
    "UPSTREAM_UNAVAILABLE": lambda: _(
        "The ticketing server cannot be reached now; pair devices while the link is up."
    ),
    "RELAY_EVENT_MISMATCH": lambda: _(
        "The site relay's device belongs to another event than the one it serves."
    ),
    "NOT_RELAYED": lambda: _("The site relay does not serve this."),
    # cashless/
    "CASHLESS_NOT_ENABLED": lambda: _("Cashless payment is not available for this event."),
    "WALLET_NOT_FOUND": lambda: _("This wallet does not exist for this event."),
    "WALLET_BLOCKED": lambda: _(
        "This wallet is blocked: it cannot pay. Ask at the information desk."
    ),
    "WALLET_CLOSED": lambda: _("This wallet is closed: its balance is being, or was, paid back."),
    "PASS_INVALID": lambda: _("This wallet pass cannot be read, or is not one of this event's."),
    "PASS_REVOKED": lambda: _("This wallet pass was blocked; its holder has a new one."),
    "LEDGER_REFUSED": lambda: _("This movement of money was refused; nothing was booked."),
    "TOPUP_BELOW_MINIMUM": lambda: _("This amount is below the minimum top-up."),
    "TOPUP_ABOVE_MAXIMUM": lambda: _("This amount is above the maximum top-up."),
    "BALANCE_LIMIT_REACHED": lambda: _(
        "This top-up would take your wallet past the highest balance allowed."
    ),
    "REFUND_WINDOW_NOT_OPEN": lambda: _(
        "You can ask for your wallet's leftover back once the event has ended."
    ),
    "REFUND_WINDOW_CLOSED": lambda: _("The time to ask for your wallet's leftover back is over."),
    "NOTHING_TO_REFUND": lambda: _("Your wallet has nothing left to pay back."),
    "REFUND_BELOW_MINIMUM": lambda: _(
        "What is left in your wallet is below the smallest refund this event makes."
    ),
    "BANK_ACCOUNT_REQUIRED": lambda: _(
        "Part of your refund goes by bank transfer: enter an IBAN and the account holder's name."
    ),
    "IBAN_INVALID": lambda: _("This IBAN is not valid: check it on your bank card or statement."),
    "BIC_INVALID": lambda: _("This BIC is not valid."),
    "NOTHING_TO_EXPORT": lambda: _("No bank payout is waiting to be exported."),
    "SEPA_EURO_ONLY": lambda: _(
        "A SEPA transfer is in euros only: this event's currency is another."
    ),
    "PAYOUT_EXPORT_NOT_FOUND": lambda: _("This export of payouts does not exist for this event."),
    "CASHLESS_CLOSE_TOO_EARLY": lambda: _(
        "The event's cashless can be closed only once its refund window has ended."
    ),
    # notifications/
    "DOCUMENT_NOT_FOUND": lambda: _("We could not find what you are looking for."),
    # cashless/
    "INSUFFICIENT_FUNDS": lambda: _(
        "There is not enough money in the wallet for this sale: top it up first."
    ),
    "STAND_NAME_TAKEN": lambda: _("Another stand of this event already has this name."),
    "STAND_INACTIVE": lambda: _("This stand is closed: it does not sell or take top-ups now."),
    "STAND_NOT_TOPUP_DESK": lambda: _("Top-ups are taken at a top-up desk, not at this stand."),
    "PRODUCT_NOT_FOUND": lambda: _("This product is not sold at this stand."),
    "PRODUCT_INACTIVE": lambda: _("This product is not on sale now."),
    "OUT_OF_STOCK": lambda: _("There is not enough of this product left."),
    "MEMBER_CANNOT_SELL": lambda: _(
        "This member's role cannot sell at a stand: give them the cashier role first."
    ),
    "IDEMPOTENCY_KEY_REQUIRED": lambda: _(
        "This request is missing its retry key; reload the point of sale and try again."
    ),
    "RETURN_NOT_DEPOSIT": lambda: _("Only a deposit item, such as a cup, can be given back."),
    "SALE_TOTAL_NOT_POSITIVE": lambda: _(
        "A sale must come to more than zero: returned cups alone are not a sale."
    ),
    "SALE_NOT_FOUND": lambda: _("This sale does not exist, or is not one of your stands'."),
    "ENTRY_ALREADY_REVERSED": lambda: _("This sale was already reversed."),
    "REVERSAL_WINDOW_CLOSED": lambda: _(
        "This sale is too old to be reversed at the stand; ask the organizer."
    ),
    "REGISTER_NOT_FOUND": lambda: _("This cash register does not exist, or is not yours."),
    "REGISTER_ALREADY_OPEN": lambda: _(
        "You already have a cash register open at this stand, with another opening float."
    ),
    "REGISTER_CLOSED": lambda: _("This cash register is closed: open a new one."),
    # lineup/
    "STAGE_NOT_FOUND": lambda: _("No such stage at this event."),
    "ARTIST_NOT_FOUND": lambda: _("No such artist at this event."),
    "SLOT_NOT_FOUND": lambda: _("No such slot on the programme."),
    "STAGE_NAME_TAKEN": lambda: _("Another stage of this event already has this name."),
    "STAGE_HAS_SLOTS": lambda: _("This stage has slots: move or delete them first."),
    "ARTIST_HAS_SLOTS": lambda: _("This artist has slots: delete them first."),
    "SLOT_OVERLAP": lambda: _("Another confirmed slot takes this stage at that time."),
    "SLOT_CONFIRMED": lambda: _(
        "A confirmed slot cannot be deleted: cancel it, so those who starred it are told."
    ),
}

STATUS_TEXT: Mapping[int, Callable[[], str]] = {
    400: lambda: _("The request could not be processed."),
    401: lambda: _("Please log in to see this page."),
    403: lambda: _("You are not allowed to see this page."),
    404: lambda: _("We could not find what you are looking for."),
    409: lambda: _("This changed in the meantime; reload the page and try again."),
    422: lambda: _("Some fields are invalid."),
    429: lambda: _("Too many attempts; wait a minute and try again."),
    500: lambda: _("Something went wrong on our side. We have been told; please try again."),
    503: lambda: _("We are very busy right now; please try again in a moment."),
}


def error_text(code: str, status: int) -> str:
    factory = ERROR_CODES.get(code) or STATUS_TEXT.get(status) or STATUS_TEXT[400]
    return factory()


def domain_error_text(exc: DomainError) -> str:
    return error_text(exc.code, exc.status)


def _pydantic_message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind in ("missing", "string_too_short") and ctx.get("min_length", 1) <= 1:
        return _("This field is required.")
    if kind == "string_too_short":
        return _("Use at least %(n)s characters.") % {"n": ctx.get("min_length")}
    if kind == "string_too_long":
        return _("Use at most %(n)s characters.") % {"n": ctx.get("max_length")}
    if kind == "string_pattern_mismatch":
        return _("Use lower-case letters, digits and dashes only.")
    if kind in ("int_parsing", "int_type", "float_parsing", "decimal_parsing", "int_from_float"):
        return _("Enter a whole number.")
    if kind in ("greater_than_equal", "greater_than"):
        return _("Enter a number of at least %(n)s.") % {"n": ctx.get("ge", ctx.get("gt", 0))}
    if kind in ("less_than_equal", "less_than"):
        return _("Enter a number of at most %(n)s.") % {"n": ctx.get("le", ctx.get("lt", 0))}
    message = str(error.get("msg", "")).lower()
    if kind == "value_error" and "one line" in message:
        return _("Use one line, without line breaks.")
    if kind == "value_error" and "time zone" in message:
        return _("Choose a valid time zone, such as Europe/Paris.")
    if kind == "value_error" and "currency" in message:
        return _("Use a 3-letter currency code, such as EUR.")
    if kind == "value_error" and "country" in message:
        return _("Use a 2-letter country code, such as FR.")
    if kind == "value_error" and "slug" in message:
        return _("Use lower-case letters, digits and dashes only.")
    if kind == "value_error" and "must be after" in str(error.get("msg", "")):
        return _("The end must be after the start.")
    if kind == "value_error" and "max_per_order" in str(error.get("msg", "")):
        return _("The maximum must be at least the minimum.")
    if kind in (
        "datetime_parsing",
        "datetime_type",
        "datetime_from_date_parsing",
        "timezone_aware",
    ):
        return _("Enter a date and time.")
    if kind in ("enum", "literal_error"):
        return _("Choose one of the options.")
    if kind == "value_error" and "email" in str(error.get("msg", "")).lower():
        return _("Enter a valid e-mail address.")
    if kind == "timezone":
        return _("Choose a valid time zone.")
    return _("This value is not valid.")


def field_errors(
    exc: ValidationError, location_map: Callable[[tuple[Any, ...], str], str] | None = None
) -> dict[str, str]:
    """``{form field: translated message}``, the first error of each field.

    ``location_map`` turns a pydantic location (and the English message, for model-level
    checks that have no location) into the form's field name; by default the first part.
    """
    errors: dict[str, str] = {}
    for error in exc.errors():
        location = tuple(error.get("loc") or ())
        if location_map is not None:
            name = location_map(location, str(error.get("msg", "")))
        else:
            name = str(location[0]) if location else "__all__"
        errors.setdefault(name, _pydantic_message(error))
    return errors


def domain_field_errors(exc: DomainError, default_field: str = "__all__") -> dict[str, str]:
    """Field errors carried by a domain error's details, or one form-level error."""
    details = exc.details or {}
    field = details.get("field")
    if isinstance(field, str):
        return {field: domain_error_text(exc)}
    errors = details.get("errors")
    if isinstance(errors, list):
        found: dict[str, str] = {}
        for item in errors:
            if isinstance(item, dict) and isinstance(item.get("field"), str):
                name = item["field"].split(".")[-1]
                found.setdefault(name, _("This value is not valid."))
        if found:
            return found
    return {default_field: domain_error_text(exc)}


CATEGORY_LABELS: Mapping[str, Callable[[], str]] = {
    "concert": lambda: _("Concert"),
    "festival": lambda: _("Festival"),
    "theatre": lambda: _("Theatre"),
    "comedy": lambda: _("Comedy"),
    "sport": lambda: _("Sport"),
    "conference": lambda: _("Conference"),
    "workshop": lambda: _("Workshop"),
    "exhibition": lambda: _("Exhibition"),
    "family": lambda: _("Family"),
    "other": lambda: _("Other"),
}


def category_label(value: object) -> str:
    factory = CATEGORY_LABELS.get(str(value))
    return factory() if factory else str(value)


def category_options() -> list[tuple[str, str]]:
    return [(value, factory()) for value, factory in CATEGORY_LABELS.items()]
