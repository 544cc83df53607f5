"""Every table, imported in one place so metadata is complete (Alembic, tests)."""

from admitone.accounts.models import AccountToken, AuthSession, RefreshToken, User
from admitone.accounts.oidc.models import IdentityLink
from admitone.cashless.models import (
    CashlessSettings,
    CashRegister,
    JournalEntry,
    LedgerAccount,
    LedgerTransfer,
    PayoutExport,
    PosDevice,
    Product,
    SaleLine,
    Stand,
    StandCashier,
    Wallet,
    WalletPass,
    WalletPayout,
    WalletTopup,
)
from admitone.checkin.models import (
    CheckIn,
    CheckinList,
    CheckinListTicketType,
    CheckinPresence,
    CheckinUndo,
)
from admitone.db import Base
from admitone.events.models import Event, TicketType
from admitone.lineup.models import Artist, ScheduleStar, Slot, SlotChange, Stage
from admitone.notifications.models import Delivery
from admitone.orders.models import IdempotencyRecord, Order, OrderItem
from admitone.organizations.models import Membership, Organization
from admitone.payments.models import Payment, PaymentNotification, Refund
from admitone.tickets.models import EventSigningKey, Ticket
from admitone.twofactor.models import Passkey, RecoveryCode, TotpCredential, WebAuthnChallenge

__all__ = [
    "AccountToken",
    "Artist",
    "AuthSession",
    "Base",
    "CashRegister",
    "CashlessSettings",
    "CheckIn",
    "CheckinList",
    "CheckinListTicketType",
    "CheckinPresence",
    "CheckinUndo",
    "Delivery",
    "Event",
    "EventSigningKey",
    "IdempotencyRecord",
    "IdentityLink",
    "JournalEntry",
    "LedgerAccount",
    "LedgerTransfer",
    "Membership",
    "Order",
    "OrderItem",
    "Organization",
    "Passkey",
    "Payment",
    "PaymentNotification",
    "PayoutExport",
    "PosDevice",
    "Product",
    "RecoveryCode",
    "RefreshToken",
    "Refund",
    "SaleLine",
    "ScheduleStar",
    "Slot",
    "SlotChange",
    "Stage",
    "Stand",
    "StandCashier",
    "Ticket",
    "TicketType",
    "TotpCredential",
    "User",
    "Wallet",
    "WalletPass",
    "WalletPayout",
    "WalletTopup",
    "WebAuthnChallenge",
]
