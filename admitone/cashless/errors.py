"""Cashless: the errors its services raise (codes are part of the POS devices' API)."""

from typing import ClassVar

from admitone.errors import BadRequest, Conflict, DomainError, InvalidInput, NotFound
from admitone.errors import IdempotencyKeyReused as IdempotencyKeyReused


class CashlessNotEnabled(Conflict):
    code = "CASHLESS_NOT_ENABLED"
    message = "Cashless is not turned on for this event."


class WalletNotFound(NotFound):
    code = "WALLET_NOT_FOUND"
    message = "No such wallet for this event."


class PassInvalid(InvalidInput):
    """Unreadable, forged, of another event, or a printed code nobody holds."""

    code = "PASS_INVALID"
    message = "This wallet pass cannot be read, or is not one of this event's."


class PassRevoked(Conflict):
    code = "PASS_REVOKED"
    message = "This wallet pass was blocked; its holder has a new one."


class WalletBlocked(Conflict):
    code = "WALLET_BLOCKED"
    message = "This wallet is blocked: it cannot spend."


class InsufficientFunds(DomainError):
    """A charge the wallet cannot pay: ``details`` say the amount, what is there and
    what is missing (minor units)."""

    code = "INSUFFICIENT_FUNDS"
    status: ClassVar[int] = 402
    message = "Not enough money in the wallet."


class AccountRefused(Conflict):
    """A transfer would take a wallet below zero or a debt above it: the ledger's own
    net under the services' checks (a bug if it ever reaches a client)."""

    code = "LEDGER_REFUSED"
    message = "This movement of money would break the ledger's rules."


class WalletClosed(Conflict):
    """A wallet whose leftover is being paid back, or closed: it takes no more money."""

    code = "WALLET_CLOSED"
    message = "This wallet is closed: its balance is being, or was, paid back."


class TopupBelowMinimum(InvalidInput):
    code = "TOPUP_BELOW_MINIMUM"
    message = "This top-up is below the event's minimum."


class TopupAboveMaximum(InvalidInput):
    code = "TOPUP_ABOVE_MAXIMUM"
    message = "This top-up is above the event's maximum."


class BalanceLimitReached(Conflict):
    """The top-up would take the wallet past the event's maximum balance: ``details`` say
    the maximum and how much the wallet may still take (minor units)."""

    code = "BALANCE_LIMIT_REACHED"
    message = "This top-up would take the wallet past the event's maximum balance."


# --- stands, products and the point of sale (stands.py, pos.py) ---------------------------


class StandNotFound(NotFound):
    """No such stand for this event, another organization's, or one the caller may not
    sell at."""

    code = "STAND_NOT_FOUND"
    message = "No such stand for this event."


class StandNameTaken(Conflict):
    code = "STAND_NAME_TAKEN"
    message = "Another stand of this event already has this name."


class StandInactive(Conflict):
    code = "STAND_INACTIVE"
    message = "This stand is closed: it does not sell or take top-ups now."


class StandNotTopupDesk(Conflict):
    code = "STAND_NOT_TOPUP_DESK"
    message = "Top-ups are taken at a top-up desk, not at this stand."


class ProductNotFound(NotFound):
    """No such product at this stand (a product of another stand included)."""

    code = "PRODUCT_NOT_FOUND"
    message = "No such product at this stand."


class ProductInactive(Conflict):
    code = "PRODUCT_INACTIVE"
    message = "This product is not on sale now."


class OutOfStock(Conflict):
    """Not enough of a product left: ``details`` name it and what is left."""

    code = "OUT_OF_STOCK"
    message = "Not enough of this product left."


class MemberCannotSell(Conflict):
    code = "MEMBER_CANNOT_SELL"
    message = "This member's role cannot sell at a stand: give them the cashier role first."


class IdempotencyKeyRequired(BadRequest):
    code = "IDEMPOTENCY_KEY_REQUIRED"
    message = (
        "Send an Idempotency-Key header with every point-of-sale write: a new key for each "
        "sale, the same key when sending it again."
    )


class ReturnNotDeposit(InvalidInput):
    """A negative quantity (something given back) of a product that is not a deposit."""

    code = "RETURN_NOT_DEPOSIT"
    message = "Only a deposit item (a returnable cup) can be given back in a sale."


class SaleTotalNotPositive(InvalidInput):
    """A sale whose returned deposits make up all of it or more: no charge to make."""

    code = "SALE_TOTAL_NOT_POSITIVE"
    message = (
        "A sale must come to more than zero. Returned cups alone are not a sale: give the "
        "deposit back with a sale, or at a top-up desk."
    )


class SaleNotFound(NotFound):
    code = "SALE_NOT_FOUND"
    message = "No such sale."


class EntryAlreadyReversed(Conflict):
    code = "ENTRY_ALREADY_REVERSED"
    message = "This sale was already reversed."


class ReversalWindowClosed(Conflict):
    code = "REVERSAL_WINDOW_CLOSED"
    message = "This sale is too old to be reversed at the stand; ask the organizer."


class RegisterNotFound(NotFound):
    """No such register, or not one the caller may use (a cashier uses their own)."""

    code = "REGISTER_NOT_FOUND"
    message = "No such cash register of yours at this stand."


class RegisterAlreadyOpen(Conflict):
    code = "REGISTER_ALREADY_OPEN"
    message = "You already have a register open at this stand, with another opening float."


class RegisterClosed(Conflict):
    code = "REGISTER_CLOSED"
    message = "This cash register is closed."


# --- leftover refunds and the close (payouts.py) -------------------------------------------


class RefundWindowNotOpen(Conflict):
    """The event has not ended: ``details.opens_at`` says when refunds may be asked."""

    code = "REFUND_WINDOW_NOT_OPEN"
    message = "Refunds of wallets open when the event ends."


class RefundWindowClosed(Conflict):
    """Past the event's refund window: ``details.closed_at``."""

    code = "REFUND_WINDOW_CLOSED"
    message = "The refund window of this event is closed."


class NothingToRefund(Conflict):
    code = "NOTHING_TO_REFUND"
    message = "This wallet has nothing left to pay back."


class RefundBelowMinimum(Conflict):
    """What would be paid back (the balance less debt and fee) is below the event's
    minimum: ``details`` say both and the fee."""

    code = "REFUND_BELOW_MINIMUM"
    message = "What is left in this wallet is below the smallest refund the event makes."


class BankAccountRequired(InvalidInput):
    """Part of the leftover goes by bank transfer: an IBAN and its holder are needed
    (``details.field`` names the one missing, ``details.bank_minor`` that part)."""

    code = "BANK_ACCOUNT_REQUIRED"
    message = "Part of this refund goes by bank transfer: give an IBAN and its holder's name."


class IbanInvalid(InvalidInput):
    """``details.field`` names the field, ``details.reason`` what is wrong with it."""

    code = "IBAN_INVALID"
    message = "This IBAN is not valid."


class BicInvalid(InvalidInput):
    code = "BIC_INVALID"
    message = "This BIC is not valid."


class NothingToExport(Conflict):
    code = "NOTHING_TO_EXPORT"
    message = "No bank payout is waiting to be exported."


class SepaEuroOnly(Conflict):
    code = "SEPA_EURO_ONLY"
    message = "A SEPA credit transfer is in euros only: this event's currency is another."


class PayoutExportNotFound(NotFound):
    code = "PAYOUT_EXPORT_NOT_FOUND"
    message = "No such export of payouts for this event."


class CashlessCloseTooEarly(Conflict):
    """The refund window is still open: ``details.closes_at``."""

    code = "CASHLESS_CLOSE_TOO_EARLY"
    message = "The event's cashless can be closed only once its refund window has ended."
