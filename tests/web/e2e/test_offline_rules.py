"""The offline scanner's rules in the browser mirror the server's (js/scanner-offline.js
against admitone/tickets/signing.py and admitone/checkin/service.py): the QR payload's
parsing and its Ed25519 signature through WebCrypto, the typed ticket code, and the
decision on every combination of ticket, list, window, presence and kind."""

from __future__ import annotations

import base64
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Page

from admitone.checkin.models import CheckinKind
from admitone.checkin.service import (
    ListRules,
    Presence,
    ScannedTicket,
    ScanState,
    decide,
    parse_ticket_code,
)
from admitone.tickets import signing
from admitone.tickets.models import TicketStatus
from admitone.web.templating import static_url


def _load(page: Page) -> None:
    # Any page of the app: a secure context (127.0.0.1) with the app's CSP.
    page.goto("/healthz")
    # The page's order: the shared pieces (base32, Ed25519, IndexedDB), then the scanner's.
    page.add_script_tag(url=static_url("js/offline-core.js"))
    page.add_script_tag(url=static_url("js/scanner-offline.js"))
    page.wait_for_function("window.AdmitOneOffline !== undefined")


def _payload(
    key: Ed25519PrivateKey, *, ticket: uuid.UUID, event: uuid.UUID, type_: uuid.UUID
) -> str:
    body = bytes([signing.PAYLOAD_VERSION]) + ticket.bytes + event.bytes + type_.bytes
    return base64.b32encode(body + key.sign(body)).decode().rstrip("=")


def _raw_public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def test_payloads_parse_and_verify_as_on_the_server(page: Page) -> None:
    _load(page)
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    ticket, event, type_ = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    good = _payload(key, ticket=ticket, event=event, type_=type_)
    assert signing.parse_payload(good) is not None
    parsed = page.evaluate("code => AdmitOneOffline.parsePayload(code)", good)
    assert (parsed["ticketId"], parsed["eventId"], parsed["typeId"]) == (
        str(ticket),
        str(event),
        str(type_),
    )
    # A flipped signature bit, a flipped body bit (the ticket id), another key.
    raw = bytearray(base64.b32decode(good + "==="))
    forged_signature = raw.copy()
    forged_signature[80] ^= 0x01
    forged_body = raw.copy()
    forged_body[5] ^= 0x01

    def encode(data: bytearray) -> str:
        return base64.b32encode(bytes(data)).decode().rstrip("=")

    cases = {
        good: True,
        f"  {good}\n": True,  # a keyboard-wedge scanner's newline
        encode(forged_signature): False,
        encode(forged_body): False,
        _payload(other, ticket=ticket, event=event, type_=type_): False,
    }
    for code, expected in cases.items():
        assert (
            page.evaluate("([k, c]) => AdmitOneOffline.verify(k, c)", [_raw_public(key), code])
            is expected
        ), code
    # Not payloads at all, for the browser as for the server: truncated, one character
    # too many, lower case, non-canonical (the spare bit set), another version, junk.
    version_two = raw.copy()
    version_two[0] = 0x02
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    non_canonical = good[:-1] + alphabet[alphabet.index(good[-1]) | 1]
    malformed = [
        good[:-1],
        good[:120],
        good + "A",
        good.lower(),
        non_canonical,
        encode(version_two),
        "",
        "é" * 181,
    ]
    for code in malformed:
        assert signing.parse_payload(code) is None, code
        assert page.evaluate("code => AdmitOneOffline.parsePayload(code)", code) is None, code


def test_typed_codes_parse_as_on_the_server(page: Page) -> None:
    _load(page)
    ticket = uuid.uuid4()
    codes = [
        str(ticket),
        ticket.hex,
        ticket.hex.upper(),
        f"Ticket {ticket}",
        f"billet: {ticket.hex[:8]} {ticket.hex[8:16]} {ticket.hex[16:]}",
        f"TICKET#{ticket}",
        f"{ticket.hex[:16]}.{ticket.hex[16:]}",
        ticket.hex[:31],
        ticket.hex + "0",
        "g" * 32,
        "Tickets " + ticket.hex,
        " " * 70 + ticket.hex,
        "",
    ]
    for code in codes:
        expected = parse_ticket_code(code)
        got = page.evaluate("code => AdmitOneOffline.parseTypedCode(code)", code)
        assert got == (str(expected) if expected else None), code


@pytest.mark.parametrize("allow_reentry", [False, True])
def test_the_decision_mirrors_the_server_on_every_state(page: Page, allow_reentry: bool) -> None:
    _load(page)
    now = datetime(2026, 7, 1, 20, 0, tzinfo=UTC)
    hour = timedelta(hours=1)
    on_list, off_list = uuid.uuid4(), uuid.uuid4()
    windows = {
        "open": (None, None),
        "inside": (now - hour, now + hour),
        "before": (now + hour, None),
        "after": (None, now - hour),
    }
    presences = {
        "none": None,
        "inside": (True, 1),
        "out": (False, 1),
        "back in": (True, 2),
    }
    cases = []
    for status, type_id, all_types, window, presence, kind in itertools.product(
        [None, TicketStatus.valid, TicketStatus.revoked],
        [on_list, off_list],
        [True, False],
        windows,
        presences,
        [CheckinKind.entry, CheckinKind.exit],
    ):
        valid_from, valid_until = windows[window]
        rules = ListRules(
            id=uuid.uuid4(),
            name="Gate",
            all_ticket_types=all_types,
            allow_reentry=allow_reentry,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        ticket = (
            None
            if status is None
            else ScannedTicket(
                id=uuid.uuid4(),
                holder_name="Ada",
                status=status,
                ticket_type_id=type_id,
                ticket_type_name="Standard",
            )
        )
        seen = presences[presence]
        state = ScanState(
            checkin_list=rules,
            ticket=ticket,
            presence=None
            if seen is None
            else Presence(
                inside=seen[0],
                entries=seen[1],
                exits=seen[1] - (1 if seen[0] else 0),
                first_entry_at=now - hour,
                last_entry_at=now - hour,
                last_exit_at=None,
                last_gate=None,
            ),
            type_on_list=all_types or type_id == on_list,
        )
        result, _write = decide(state, kind=kind, now=now)
        cases.append(
            {
                "state": {
                    "ticket": None if status is None else {"status": status, "type": str(type_id)},
                    "list": {
                        "all_ticket_types": all_types,
                        "ticket_type_ids": None if all_types else [str(on_list)],
                        "allow_reentry": allow_reentry,
                        "valid_from": valid_from.isoformat() if valid_from else None,
                        "valid_until": valid_until.isoformat() if valid_until else None,
                    },
                    "presence": None
                    if seen is None
                    else {"inside": seen[0], "entries": seen[1], "last_entry_at": None},
                },
                "kind": kind.value,
                "expected": result.value,
            }
        )
    got = page.evaluate(
        """([cases, now]) => cases.map(c =>
            AdmitOneOffline.decide(c.state, c.kind, new Date(now)))""",
        [cases, now.isoformat()],
    )
    mismatches = [(c, g) for c, g in zip(cases, got, strict=True) if c["expected"] != g]
    assert not mismatches, mismatches[:3]
    # The grid reaches every result the rules can give.
    assert {c["expected"] for c in cases} >= {
        "admitted",
        "already_admitted",
        "revoked",
        "wrong_list",
        "outside_window",
        "not_found",
        "exited",
        "not_inside",
    }


def test_own_scans_count_until_a_sync_has_seen_them(page: Page) -> None:
    """The device's state of a ticket: the server's presence at the last sync, then its own
    accepted scans that sync had not seen (not acknowledged before it began)."""
    _load(page)
    got = page.evaluate(
        """() => {
            const combine = AdmitOneOffline.combinePresence;
            const entry = (at, acked) => ({kind: 'entry', accepted: true, scanned_at: at, acked_at: acked});
            const exit = (at, acked) => ({kind: 'exit', accepted: true, scanned_at: at, acked_at: acked});
            const refused = {kind: 'entry', accepted: false, scanned_at: '2026-07-01T20:00:00Z', acked_at: null};
            const server = {inside: true, entries: 1, last_entry_at: '2026-07-01T19:00:00Z'};
            return {
                nothing: combine(null, [refused], null),
                queued: combine(null, [entry('2026-07-01T20:00:00Z', null)], null),
                seen: combine({inside: false, entries: 1}, [entry('2026-07-01T20:00:00Z', '2026-07-01T20:01:00Z')], '2026-07-01T20:02:00Z'),
                unseen: combine({inside: false, entries: 1}, [entry('2026-07-01T20:00:00Z', '2026-07-01T20:03:00Z')], '2026-07-01T20:02:00Z'),
                out: combine(server, [exit('2026-07-01T20:05:00Z', null)], '2026-07-01T20:02:00Z'),
                undone: combine({inside: false, entries: 0}, [], '2026-07-01T20:02:00Z'),
            };
        }"""
    )
    assert got["nothing"] is None
    assert got["queued"]["inside"] is True and got["queued"]["entries"] == 1
    assert got["seen"]["inside"] is False and got["seen"]["entries"] == 1
    assert got["unseen"]["inside"] is True and got["unseen"]["entries"] == 2
    assert got["out"]["inside"] is False and got["out"]["entries"] == 1
    assert got["undone"] is None
