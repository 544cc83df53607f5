"""The negative control's relay: the classic read-then-write race, on purpose, in tests
only. Each scan reads on a connection of its own (outside its transaction), pauses, then
writes whatever it decided with a blind upsert, in a transaction begun deferred (no
``BEGIN IMMEDIATE``): the write lock is taken only at the first write, after the
decision, so gates at the same instant all decide from "not inside"."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from admitone.checkin.service import Presence, Write
from admitone.relay.models import RelayPresence
from admitone.relay.store import RelayStore, Seen

WINDOW_SECONDS = 0.05


class UnlockedRelayStore(RelayStore):
    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self.database.session(write=False) as session:  # deferred BEGIN
            yield session

    def _read(self, session: Session, **scan: Any) -> Seen:
        with self.database.session(write=False) as look:  # a connection of its own
            seen = super()._read(look, **scan)
        time.sleep(WINDOW_SECONDS)
        return seen

    def _write_presence(
        self,
        session: Session,
        *,
        write: Write,
        list_id: uuid.UUID,
        ticket_id: uuid.UUID,
        seen: Presence | None,
        gate: str | None,
        now: datetime,
    ) -> Presence:
        seq = self._next_seq(session)
        inside = write != Write.exit
        statement = sqlite_insert(RelayPresence).values(
            list_id=list_id,
            ticket_id=ticket_id,
            inside=inside,
            entries=1,
            exits=0,
            first_entry_at=now,
            last_entry_at=now,
            last_gate=gate,
            seq=seq,
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[RelayPresence.list_id, RelayPresence.ticket_id],
                set_={
                    "inside": inside,
                    "entries": RelayPresence.entries + (1 if inside else 0),
                    "exits": RelayPresence.exits + (0 if inside else 1),
                    "seq": seq,
                },
            )
        )
        return Presence(inside, 1, 0, now, now, None, gate)
