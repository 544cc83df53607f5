"""Wallet passes: what an attendee shows to pay (docs/cashless.md, "The pass").

A pass is a ``WalletPass`` row, shown two ways:

- a signed QR, made afresh each time the phone fetches it (online), payload v2, 109
  bytes, signed with the event's Ed25519 key (the tickets' key: the leading version byte
  keeps a pass from ever reading as a ticket, and the reverse)::

      offset  size  field
           0     1  version, 0x02 ("wallet pass, format 1")
           1    16  event id
          17    16  pass id
          33     4  not after (Unix seconds, big-endian): offline devices refuse it later
          37     4  offline cap for this pass, per device (minor units)
          41     4  offline cap per sale (minor units)
          45    64  Ed25519 signature over bytes 0..44

  encoded as base32 without padding (175 characters, a QR's alphanumeric mode);
- a short printed ``code`` (10 characters, no 0/1/I/O), for a wristband or a lost
  phone: looked up online only.
"""

from __future__ import annotations

import base64
import secrets
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from admitone.cashless.errors import PassInvalid, PassRevoked
from admitone.cashless.models import Wallet, WalletPass
from admitone.tickets.signing import EventKey, KeyRing

PASS_VERSION = 0x02
_BODY = struct.Struct(">B16s16sIII")
BODY_LENGTH = _BODY.size  # 45
PAYLOAD_LENGTH = BODY_LENGTH + 64  # 109
ENCODED_LENGTH = -(-PAYLOAD_LENGTH * 8 // 5)  # 175
_PADDING = "=" * (-ENCODED_LENGTH % 8)
_CAP_LIMIT = 2**32 - 1

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 10


@dataclass(frozen=True, slots=True)
class PassClaims:
    """What a well-formed pass QR says. Not yet trusted: check it with ``verify``."""

    event_id: uuid.UUID
    pass_id: uuid.UUID
    not_after: datetime
    wallet_cap_minor: int
    sale_cap_minor: int
    signed_body: bytes
    signature: bytes


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str | None:
    """A typed printed code as stored (upper case, without spaces or dashes), or None."""
    code = text.replace("-", "").replace(" ", "").upper()
    if len(code) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in code):
        return None
    return code


def display_code(code: str) -> str:
    """A code as printed: in groups a cashier can read out (``ABCD-EFGH-JK``)."""
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def sign_pass(
    keys: KeyRing,
    key: EventKey,
    *,
    pass_id: uuid.UUID,
    not_after: datetime,
    wallet_cap_minor: int,
    sale_cap_minor: int,
) -> str:
    body = _BODY.pack(
        PASS_VERSION,
        key.event_id.bytes,
        pass_id.bytes,
        int(not_after.timestamp()),
        min(max(wallet_cap_minor, 0), _CAP_LIMIT),
        min(max(sale_cap_minor, 0), _CAP_LIMIT),
    )
    raw = body + keys.signature(key, body)
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def parse_pass(text: object) -> PassClaims | None:
    """The claims of a scanned pass QR, or None if it is not a well-formed one (safe with
    any input; one spelling per payload, as tickets)."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if len(text) != ENCODED_LENGTH or not text.isascii():
        return None
    try:
        raw = base64.b32decode(text + _PADDING)
    except ValueError:
        return None
    if len(raw) != PAYLOAD_LENGTH or raw[0] != PASS_VERSION:
        return None
    if base64.b32encode(raw).decode("ascii").rstrip("=") != text:
        return None
    _version, event, pass_id, not_after, wallet_cap, sale_cap = _BODY.unpack(raw[:BODY_LENGTH])
    return PassClaims(
        event_id=uuid.UUID(bytes=event),
        pass_id=uuid.UUID(bytes=pass_id),
        not_after=datetime.fromtimestamp(not_after, UTC),
        wallet_cap_minor=wallet_cap,
        sale_cap_minor=sale_cap,
        signed_body=raw[:BODY_LENGTH],
        signature=raw[BODY_LENGTH:],
    )


def verify(public_key: Ed25519PublicKey, claims: PassClaims) -> bool:
    try:
        public_key.verify(claims.signature, claims.signed_body)
    except InvalidSignature:
        return False
    return True


def find_pass(
    session: Session, keys: KeyRing, *, event_id: uuid.UUID, shown: str
) -> tuple[WalletPass, Wallet]:
    """The pass (and its wallet) behind what a cashier scanned or typed: a QR of this
    event with a good signature, or a printed code. Online, the server is the truth: an
    expired QR still pays (its validity bounds offline use only), a revoked pass never.
    ``PassInvalid`` or ``PassRevoked`` otherwise."""
    claims = parse_pass(shown)
    if claims is not None:
        key = keys.find(session, event_id)
        if claims.event_id != event_id or key is None or not verify(key.public_key, claims):
            raise PassInvalid()
        condition = WalletPass.id == claims.pass_id
    else:
        code = normalize_code(shown) if isinstance(shown, str) else None
        if code is None:
            raise PassInvalid()
        condition = WalletPass.code == code
    row = session.execute(
        select(WalletPass, Wallet)
        .join(Wallet, Wallet.id == WalletPass.wallet_id)
        .where(WalletPass.event_id == event_id, condition)
    ).first()
    if row is None:
        raise PassInvalid()
    wallet_pass, wallet = row[0], row[1]
    if wallet_pass.revoked_at is not None:
        raise PassRevoked()
    return wallet_pass, wallet
