"""The negative controls' non-atomic checks: the classic bugs, on purpose, in tests only.

Production code has no switch to turn its atomic checks off. A negative-control test
puts one of these in place of the real function (``monkeypatch``) for the app it serves
in a thread of the test process, and shows that the same crowd then really races; if it
stopped racing, the tests of the real checks would prove nothing.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from admitone.db import Database
from admitone.events import stock
from admitone.events.models import TicketType
from admitone.orders import hold_limits
from admitone.orders.sale_terms import TicketTypeOnSale


class NonAtomicStock:
    """``stock.take_seats`` done wrong: read the counters, decide, sleep, write back."""

    def __init__(self, *, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self.checks_passed = 0  # stock checks this let through
        self._lock = threading.Lock()

    def take_seats(
        self, session: Session, quantities: stock.Quantities, *, as_sold: bool = False
    ) -> uuid.UUID | None:
        taken: dict[uuid.UUID, int] = {}
        for ticket_type_id, quantity in sorted(quantities.items()):
            if not self._take(session, ticket_type_id, quantity, as_sold=as_sold):
                if taken:
                    (stock.release_sold if as_sold else stock.release_held)(session, taken)
                return ticket_type_id
            taken[ticket_type_id] = quantity
        return None

    def _take(
        self, session: Session, ticket_type_id: uuid.UUID, quantity: int, *, as_sold: bool
    ) -> bool:
        # Read the counters as an app checking stock before its transaction would (on a
        # connection of its own), decide, then write the value computed from the stale
        # read. Concurrent buyers all see the same free seats.
        bind = session.get_bind()
        with bind.connect().execution_options(sqlite_begin_immediate=False) as reader:
            capacity, sold, held = reader.execute(
                select(
                    TicketType.capacity, TicketType.quantity_sold, TicketType.quantity_held
                ).where(TicketType.id == ticket_type_id)
            ).one()
        if capacity - sold - held < quantity:
            return False
        with self._lock:
            self.checks_passed += 1
        time.sleep(self.window_seconds)
        values = (
            {"quantity_sold": sold + quantity} if as_sold else {"quantity_held": held + quantity}
        )
        session.execute(
            update(TicketType)
            .where(TicketType.id == ticket_type_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return True


@dataclasses.dataclass(frozen=True)
class _AlreadyCounted(hold_limits.HoldLimits):
    def apply_to(self, ticket_types: dict[uuid.UUID, TicketTypeOnSale]) -> bool:
        return False  # counted before any lock instead (below)


class CountBeforeAnyLock:
    """``hold_limits.for_order`` done wrong: count the client's seats at once, before the
    order's transaction takes any lock (on a connection of its own), then pause; the
    count under the seat locks is skipped. Concurrent orders of one client all pass."""

    def __init__(self, database: Database, *, window_seconds: float) -> None:
        self.database = database
        self.window_seconds = window_seconds
        self._for_order = hold_limits.for_order

    def for_order(self, **order: Any) -> hold_limits.HoldLimits:
        limits = self._for_order(**order)
        engine = self.database.engine
        with engine.connect().execution_options(sqlite_begin_immediate=False) as connection:
            # Every branch of the count, whatever the bounds: a test.
            rows = connection.execute(hold_limits.CLIENT_SEATS.statement, limits.parameters).all()
        hold_limits.check(
            rows,
            quantities=limits.quantities,
            ticket_types={},
            client=limits.client,
            settings=limits.settings,
        )
        time.sleep(self.window_seconds)
        fields = {field.name: getattr(limits, field.name) for field in dataclasses.fields(limits)}
        return _AlreadyCounted(**fields)


class BlindPresenceWrite:
    """``checkin.service._write_presence`` done wrong: look at the presence (on a
    connection of its own, as a cache would), pause, then write without a guard: an
    entry whatever the ticket's state now. Concurrent gates all see the ticket out."""

    def __init__(self, database: Database, *, window_seconds: float) -> None:
        self.database = database
        self.window_seconds = window_seconds

    def write_presence(self, session: Session, **scan: Any) -> bool:
        from admitone.checkin.models import CheckinPresence  # the domain under test
        from admitone.checkin.service import Write

        this = (CheckinPresence.list_id == scan["list_id"]) & (
            CheckinPresence.ticket_id == scan["ticket_id"]
        )
        with self.database.engine.connect().execution_options(
            sqlite_begin_immediate=False
        ) as reader:
            inside = reader.execute(select(CheckinPresence.inside).where(this)).scalar()
        if inside:
            return False
        time.sleep(self.window_seconds)
        if scan["write"] == Write.exit:
            session.execute(
                update(CheckinPresence)
                .where(this)
                .values(inside=False, exits=CheckinPresence.exits + 1, last_gate=scan["gate"])
                .execution_options(synchronize_session=False)
            )
            return True
        # An entry: insert, or add one to an existing row, whatever it says now.
        dialect = session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(CheckinPresence).values(
            list_id=scan["list_id"],
            ticket_id=scan["ticket_id"],
            inside=True,
            entries=1,
            exits=0,
            first_entry_at=scan["now"],
            last_entry_at=scan["now"],
            last_gate=scan["gate"],
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["list_id", "ticket_id"],
                set_={
                    "inside": True,
                    "entries": CheckinPresence.entries + 1,
                    "last_entry_at": scan["now"],
                },
            )
        )
        return True
