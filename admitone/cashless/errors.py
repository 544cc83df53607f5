"""Cashless: the errors its services raise (codes are part of the POS devices' API)."""

from typing import ClassVar

from admitone.errors import Conflict, DomainError, InvalidInput, NotFound
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


class StandNotFound(NotFound):
    """No such stand at this event, or one the caller may not sell at."""

    code = "STAND_NOT_FOUND"
    message = "No such stand at this event."


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
