"""The organizer's cashless reports and reconciliation, through the API (JSON and CSV)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.cashless import ledger
from admitone.cashless.models import (
    CashRegister,
    EntryKind,
    EntryOrigin,
    LedgerAccount,
    LedgerTransfer,
    TopupChannel,
    TopupStatus,
    WalletTopup,
)
from admitone.config import Settings
from admitone.db import Database, utcnow
from admitone.payments.models import Payment, PaymentStatus
from tests.cashless.conftest import BEER, Festival, make_festival
from tests.helpers import add_member, register


def _url(festival: Festival, path: str) -> str:
    return f"/api/v1/organizations/{festival.org_slug}/events/{festival.event_id}/cashless/{path}"


def _reverse(festival: Festival, entry_id: uuid.UUID) -> None:
    """A sale reversed: the same transfers backwards, in an entry naming it."""
    with festival.database.session() as session:
        transfers = session.scalars(
            select(LedgerTransfer).where(LedgerTransfer.entry_id == entry_id)
        ).all()
        reversal = ledger.begin_entry(
            session,
            event_id=festival.event_id,
            idempotency_key=f"reverse:{entry_id}",
            kind=EntryKind.reversal,
            origin=EntryOrigin.online,
            amount_minor=BEER,
            reverses_entry_id=entry_id,
        )
        assert isinstance(reversal, uuid.UUID)
        kinds = {
            row.id: row.kind
            for row in session.execute(select(LedgerAccount.id, LedgerAccount.kind))
        }
        ledger.post(
            session,
            entry_id=reversal,
            moves=[
                ledger.Move(
                    ledger.AccountRef(t.target_account_id, kinds[t.target_account_id]),
                    ledger.AccountRef(t.source_account_id, kinds[t.source_account_id]),
                    t.amount_minor,
                )
                for t in transfers
            ],
        )


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_sales_reports_are_net_of_reversals_and_exported_as_csv(
    client: TestClient, clean_database: Database, settings: Settings
) -> None:
    owner = register(client)
    festival = make_festival(clean_database, settings, owner_id=owner["user"]["id"])
    _wallet_id, qr = festival.wallet(funded=5000)
    answer = festival.upload(
        [festival.sale(qr, seq=1, beers=2), festival.sale(qr, seq=2), festival.sale(qr, seq=3)]
    )
    _reverse(festival, answer.results[2].entry_id)  # type: ignore[arg-type]

    by_stand = client.get(_url(festival, "reports/sales"), headers=owner["headers"])
    assert by_stand.status_code == 200, by_stand.text
    assert by_stand.json()["data"] == [
        {"label": "Main bar", "sales": 2, "quantity": 3, "total_minor": 1500, "vat_minor": 250}
    ]
    assert by_stand.json()["meta"] == {"currency": "EUR", "by": "stand"}
    by_rate = client.get(
        _url(festival, "reports/sales"), params={"by": "vat_rate"}, headers=owner["headers"]
    ).json()["data"]
    assert [(row["label"], row["total_minor"]) for row in by_rate] == [("20.00 %", 1500)]
    by_hour = client.get(
        _url(festival, "reports/sales"), params={"by": "hour"}, headers=owner["headers"]
    ).json()["data"]
    # The sales happened ten minutes ago: the hour is the event's local one (Paris).
    sale_hour = festival.sale(qr, seq=1).occurred_at.astimezone(ZoneInfo("Europe/Paris"))
    assert [row["label"] for row in by_hour] in (
        [sale_hour.strftime("%Y-%m-%d %H:00")],
        # Two sales a second apart may straddle the hour.
        [
            sale_hour.strftime("%Y-%m-%d %H:00"),
            (sale_hour + timedelta(hours=1)).strftime("%Y-%m-%d %H:00"),
        ],
    )
    exported = client.get(
        _url(festival, "reports/sales"),
        params={"by": "product", "format": "csv"},
        headers=owner["headers"],
    )
    assert exported.headers["content-type"].startswith("text/csv")
    assert _rows(exported.text) == [
        ["product", "sales", "quantity", "total_minor", "vat_minor"],
        ["Beer", "2", "3", "1500", "250"],
    ]
    bad = client.get(
        _url(festival, "reports/sales"), params={"by": "weather"}, headers=owner["headers"]
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_ERROR"


def test_the_reconciliation_checks_the_ledger_the_devices_and_the_provider(
    client: TestClient, clean_database: Database, settings: Settings
) -> None:
    owner = register(client)
    festival = make_festival(clean_database, settings, owner_id=owner["user"]["id"])
    wallet_id, qr = festival.wallet(funded=800)
    sales = [festival.sale(qr, seq=seq) for seq in (1, 2, 4)]  # number 3 never arrived
    festival.upload(sales, device=1)
    festival.upload(sales[:1], device=1)  # one duplicate
    with clean_database.session() as session:
        topups = [
            WalletTopup(
                wallet_id=wallet_id,
                event_id=festival.event_id,
                channel=channel,
                status=TopupStatus.credited,
                amount_minor=amount,
                currency="EUR",
            )
            for channel, amount in (
                (TopupChannel.online, 2000),
                (TopupChannel.online, 700),
                (TopupChannel.cash, 1000),
            )
        ]
        session.add_all(topups)
        session.flush()
        paid = Payment(
            purpose="wallet_topup",
            purpose_id=topups[0].id,
            provider="test",
            status=PaymentStatus.succeeded,
            amount_minor=2000,
            currency="EUR",
        )
        session.add(paid)
        # Paid at the provider, never credited (its confirmation lost): found.
        stuck = WalletTopup(
            wallet_id=wallet_id,
            event_id=festival.event_id,
            channel=TopupChannel.online,
            status=TopupStatus.pending,
            amount_minor=500,
            currency="EUR",
        )
        session.add(stuck)
        session.flush()
        lost = Payment(
            purpose="wallet_topup",
            purpose_id=stuck.id,
            provider="test",
            status=PaymentStatus.succeeded,
            amount_minor=500,
            currency="EUR",
        )
        session.add(lost)
        session.add(
            CashRegister(
                event_id=festival.event_id,
                stand_id=festival.stand_id,
                opening_float_minor=5000,
                closed_at=utcnow(),
                expected_minor=12000,
                counted_minor=11950,
            )
        )
        session.flush()
        unpaid_id, lost_id = topups[1].id, lost.id

    answer = client.get(_url(festival, "reconciliation"), headers=owner["headers"])
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["currency"] == "EUR"
    assert data["trial_balance"]["balanced"] is True
    assert data["trial_balance"]["mismatches"] == []
    # 8.00 in the wallet, three beers of 5.00: 8.00 paid, 7.00 owed.
    assert data["liability"]["wallets_minor"] == 0
    assert data["liability"]["debt_minor"] == 700
    assert data["liability"]["sales_minor"] == 1500
    till = next(d for d in data["devices"] if d["device_id"] == str(festival.devices[1]))
    assert till["sales_received"] == 3 and till["duplicates"] == 1 and till["refused"] == 0
    assert till["sequence_gaps"] == 1
    assert till["debts_created"] == 2 and till["debt_created_minor"] == 700
    assert till["clock_offset_ms"] is not None and till["last_upload_at"] is not None
    idle = next(d for d in data["devices"] if d["device_id"] == str(festival.devices[2]))
    assert (idle["sales_received"], idle["sequence_gaps"], idle["last_upload_at"]) == (0, 0, None)
    assert data["provider"] == {
        "matches": False,
        "paid_minor": 2500,
        "credited_minor": 2700,
        "paid_not_credited": [str(lost_id)],
        "credited_not_paid": [str(unpaid_id)],
    }

    channels = client.get(_url(festival, "reports/topups"), headers=owner["headers"]).json()
    assert {row["channel"]: row["total_minor"] for row in channels["data"]} == {
        "online": 2700,
        "cash": 1000,
        "card": 0,
    }
    registers = client.get(
        _url(festival, "reports/registers"), params={"format": "csv"}, headers=owner["headers"]
    )
    header, row = _rows(registers.text)
    assert dict(zip(header, row, strict=True))["difference_minor"] == "-50"
    devices = _rows(
        client.get(
            _url(festival, "reports/devices"), params={"format": "csv"}, headers=owner["headers"]
        ).text
    )
    assert devices[0][:4] == ["device_id", "name", "stand", "sales_received"]
    assert len(devices) == 4


def test_money_figures_are_for_those_who_see_the_orders(
    client: TestClient, clean_database: Database, settings: Settings
) -> None:
    owner = register(client)
    festival = make_festival(clean_database, settings, owner_id=owner["user"]["id"])
    staff = register(client)
    add_member(client, owner["headers"], festival.org_slug, staff["email"], "staff")
    refused = client.get(_url(festival, "reconciliation"), headers=staff["headers"])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "PERMISSION_DENIED"
