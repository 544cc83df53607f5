"""API shapes of the cashless reports and the reconciliation (minor units throughout)."""

from __future__ import annotations

import uuid
from datetime import datetime

from admitone.cashless import ledger, reports
from admitone.cashless.models import TopupChannel
from admitone.schemas import OutputModel


class SalesRowOut(OutputModel):
    label: str
    sales: int
    quantity: int
    total_minor: int
    vat_minor: int


class TopupRowOut(OutputModel):
    channel: TopupChannel
    count: int
    total_minor: int


class RegisterRowOut(OutputModel):
    register_id: uuid.UUID
    stand: str
    opened_at: datetime
    closed_at: datetime | None
    opening_float_minor: int
    expected_minor: int | None
    counted_minor: int | None
    difference_minor: int | None


class LiabilityOut(OutputModel):
    wallets_minor: int
    debt_minor: int
    written_off_minor: int
    sales_minor: int
    paid_back_minor: int
    fees_minor: int
    unclaimed_minor: int
    cash_imbalance_minor: int


class MismatchOut(OutputModel):
    account_id: uuid.UUID
    key: str
    cached_minor: int
    transfers_minor: int


class TrialBalanceOut(OutputModel):
    balanced: bool
    accounts: int
    total_minor: int
    mismatches: list[MismatchOut]

    @classmethod
    def from_trial(cls, trial: ledger.TrialBalance) -> TrialBalanceOut:
        return cls(
            balanced=trial.balanced,
            accounts=trial.accounts,
            total_minor=trial.total_minor,
            mismatches=[MismatchOut.model_validate(item) for item in trial.mismatches],
        )


class DeviceFiguresOut(OutputModel):
    device_id: uuid.UUID
    name: str
    stand: str
    sales_received: int
    duplicates: int
    refused: int
    debts_created: int
    debt_created_minor: int
    sequence_gaps: int
    clock_offset_ms: int | None
    last_upload_at: datetime | None
    revoked: bool


class ProviderCheckOut(OutputModel):
    matches: bool
    paid_minor: int
    credited_minor: int
    paid_not_credited: list[uuid.UUID]
    credited_not_paid: list[uuid.UUID]


class ReconciliationOut(OutputModel):
    currency: str
    checked_at: datetime
    trial_balance: TrialBalanceOut
    liability: LiabilityOut
    devices: list[DeviceFiguresOut]
    provider: ProviderCheckOut

    @classmethod
    def from_reconciliation(
        cls, found: reports.Reconciliation, *, currency: str
    ) -> ReconciliationOut:
        return cls(
            currency=currency,
            checked_at=found.checked_at,
            trial_balance=TrialBalanceOut.from_trial(found.trial_balance),
            liability=LiabilityOut.model_validate(found.liability),
            devices=[DeviceFiguresOut.model_validate(item) for item in found.devices],
            provider=ProviderCheckOut(
                matches=found.provider.matches,
                paid_minor=found.provider.paid_minor,
                credited_minor=found.provider.credited_minor,
                paid_not_credited=list(found.provider.paid_not_credited),
                credited_not_paid=list(found.provider.credited_not_paid),
            ),
        )
