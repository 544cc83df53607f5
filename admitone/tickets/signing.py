"""Ed25519 ticket signatures: one key pair per event, compact QR payloads.

Payload v1, 113 bytes::

    offset  size  field
         0     1  version, 0x01 ("ticket, format 1")
         1    16  ticket id (UUID bytes)
        17    16  event id
        33    16  ticket type id
        49    64  Ed25519 signature over bytes 0..48

encoded as RFC 4648 base32, upper case, without padding: 181 characters from
``A-Z2-7``, which a QR code stores in its compact alphanumeric mode (version 8 at
error-correction level M). A scanner holding only the event's public key verifies it
offline. The signature covers the version byte, so another kind of payload signed with
the same key (a wallet pass, later) must start with another byte. See
docs/ticket-signing.md for the reasons behind each choice.

Keys: the private half is encrypted with AES-256-GCM under a key derived (HKDF-SHA256)
from ``ticket_key_secret``, or from ``secret_key`` under a different label; the
associated data binds each ciphertext to its event. Private keys never leave this
module except as signatures.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from admitone.config import Settings
from admitone.db import Database, utcnow
from admitone.tickets.errors import SigningKeyUnavailable
from admitone.tickets.models import EventSigningKey

ALGORITHM = "Ed25519"
PAYLOAD_FORMAT = "admitone-ticket-v1"
PAYLOAD_VERSION = 0x01
_ID = 16
BODY_LENGTH = 1 + 3 * _ID
SIGNATURE_LENGTH = 64
PAYLOAD_LENGTH = BODY_LENGTH + SIGNATURE_LENGTH  # 113 bytes
ENCODED_LENGTH = -(-PAYLOAD_LENGTH * 8 // 5)  # 181 characters
_PADDING = "=" * (-ENCODED_LENGTH % 8)

# Which secret encrypts a stored private key: the first byte of the ciphertext blob, so
# that setting ticket_key_secret later does not orphan keys made before it.
_KEK_TICKET_SECRET = 0x01
_KEK_FROM_SECRET_KEY = 0x02
_HKDF_SALT = b"admitone"
_HKDF_INFO = {
    _KEK_TICKET_SECRET: b"admitone/ticket-signing/key-encryption/v1",
    # A distinct label: this key is unrelated to anything else derived from secret_key.
    _KEK_FROM_SECRET_KEY: b"admitone/ticket-signing/key-encryption-from-secret-key/v1",
}
_NONCE = 12


@dataclass(frozen=True, slots=True)
class TicketClaims:
    """What a well-formed payload says. Not yet trusted: check it with ``verify``."""

    ticket_id: uuid.UUID
    event_id: uuid.UUID
    ticket_type_id: uuid.UUID
    signed_body: bytes
    signature: bytes


def _body(*, ticket_id: uuid.UUID, event_id: uuid.UUID, ticket_type_id: uuid.UUID) -> bytes:
    return bytes([PAYLOAD_VERSION]) + ticket_id.bytes + event_id.bytes + ticket_type_id.bytes


def _encode(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def parse_payload(text: object) -> TicketClaims | None:
    """The claims of a scanned QR text, or None if it is not a well-formed v1 payload.

    Safe with any untrusted input: it only ever returns None for bad input. Surrounding
    whitespace is ignored (keyboard-wedge scanners add a newline). Non-canonical base32
    (other trailing bits) is refused so that one payload has exactly one spelling.
    """
    if not isinstance(text, str):
        return None
    text = text.strip()
    # The length check comes first: a 10 kB string costs nothing.
    if len(text) != ENCODED_LENGTH or not text.isascii():
        return None
    try:
        raw = base64.b32decode(text + _PADDING)
    except ValueError:  # binascii.Error is a ValueError
        return None
    if len(raw) != PAYLOAD_LENGTH or raw[0] != PAYLOAD_VERSION or _encode(raw) != text:
        return None
    return TicketClaims(
        ticket_id=uuid.UUID(bytes=raw[1:17]),
        event_id=uuid.UUID(bytes=raw[17:33]),
        ticket_type_id=uuid.UUID(bytes=raw[33:49]),
        signed_body=raw[:BODY_LENGTH],
        signature=raw[BODY_LENGTH:],
    )


def verify(public_key: Ed25519PublicKey, claims: TicketClaims) -> bool:
    """True when ``claims`` were signed by the private half of ``public_key``."""
    try:
        public_key.verify(claims.signature, claims.signed_body)
    except InvalidSignature:
        return False
    return True


@lru_cache(maxsize=16_384)
def _public_key_object(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True, slots=True)
class EventKey:
    """An event's stored key pair (the private half still encrypted)."""

    event_id: uuid.UUID
    public_key_bytes: bytes
    encrypted_private_key: bytes
    created_at: datetime

    @property
    def key_id(self) -> str:
        """A short fingerprint of the public key, for scanners that hold several keys."""
        return hashlib.sha256(self.public_key_bytes).hexdigest()[:16]

    @property
    def public_key(self) -> Ed25519PublicKey:
        return _public_key_object(self.public_key_bytes)

    @property
    def public_key_base64(self) -> str:
        return base64.b64encode(self.public_key_bytes).decode("ascii")

    @property
    def public_key_pem(self) -> str:
        return (
            self.public_key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
            .strip()
        )


class _CommittedKeys:
    """Process cache of committed event keys (bounded LRU, thread-safe).

    Keys never change once committed, so a cached key is never stale. Only keys known to
    be committed go in: read from the database by a session that never inserts keys, or
    created by ``KeyRing`` in a unit of work that has already committed.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[uuid.UUID, EventKey] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, event_id: uuid.UUID) -> EventKey | None:
        with self._lock:
            key = self._items.get(event_id)
            if key is not None:
                self._items.move_to_end(event_id)
            return key

    def put(self, key: EventKey) -> None:
        with self._lock:
            self._items[key.event_id] = key
            self._items.move_to_end(key.event_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_committed_keys = _CommittedKeys(size=16_384)


@lru_cache(maxsize=16)
def _derive_kek(secret: str, kek_id: int) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO[kek_id])
    return hkdf.derive(secret.encode("utf-8"))


def _associated_data(event_id: uuid.UUID) -> bytes:
    # Binds a ciphertext to its event: a row copied onto another event does not decrypt.
    return b"admitone/event-signing-key/" + event_id.bytes


@lru_cache(maxsize=4096)
def _decrypt_private_key(event_id: uuid.UUID, blob: bytes, kek: bytes) -> Ed25519PrivateKey:
    # Cached by (event, ciphertext, key-encryption key): a changed secret misses the cache
    # and fails to decrypt instead of silently signing with a stale key.
    try:
        nonce, ciphertext = blob[1 : 1 + _NONCE], blob[1 + _NONCE :]
        raw = AESGCM(kek).decrypt(nonce, ciphertext, _associated_data(event_id))
        return Ed25519PrivateKey.from_private_bytes(raw)
    except (InvalidTag, ValueError) as exc:
        raise SigningKeyUnavailable(event_id=str(event_id)) from exc


def clear_caches() -> None:
    """Forget cached keys (tests that wipe the database or change secrets)."""
    _committed_keys.clear()
    _decrypt_private_key.cache_clear()


class KeyRing:
    """The event keys as one app sees them: its settings (for the key-encryption
    secret) and its database (to create a missing key in a unit of work of its own).
    """

    def __init__(self, *, settings: Settings, database: Database) -> None:
        self._settings = settings
        self._database = database

    def _kek(self, kek_id: int, event_id: uuid.UUID) -> bytes:
        if kek_id == _KEK_TICKET_SECRET:
            if self._settings.ticket_key_secret is None:
                raise SigningKeyUnavailable(
                    "This event's key was encrypted with ADMITONE_TICKET_KEY_SECRET, which is not set.",
                    event_id=str(event_id),
                )
            return _derive_kek(self._settings.ticket_key_secret.get_secret_value(), kek_id)
        if kek_id == _KEK_FROM_SECRET_KEY:
            return _derive_kek(self._settings.secret_key.get_secret_value(), kek_id)
        raise SigningKeyUnavailable(event_id=str(event_id))

    def find(self, session: Session, event_id: uuid.UUID) -> EventKey | None:
        """The event's key, from the process cache or the database; None if it has none.

        Never creates one: the check-in path uses this, and a ticket can only be valid if
        its event's key was created before the ticket's payload was shown.
        """
        key = _committed_keys.get(event_id)
        if key is not None:
            return key
        row = session.execute(
            select(
                EventSigningKey.public_key,
                EventSigningKey.encrypted_private_key,
                EventSigningKey.created_at,
            ).where(EventSigningKey.event_id == event_id)
        ).first()
        if row is None:
            return None
        # Keys are inserted by their own unit of work (get_or_create) or by publishing,
        # which signs nothing before it commits; so a row seen here is committed.
        key = EventKey(
            event_id=event_id,
            public_key_bytes=bytes(row.public_key),
            encrypted_private_key=bytes(row.encrypted_private_key),
            created_at=row.created_at,
        )
        _committed_keys.put(key)
        return key

    def get_or_create(self, session: Session, event_id: uuid.UUID) -> EventKey:
        """The event's key, created on first need.

        Invariant: one key pair per event, for ever (primary key on ``event_id``). A new
        key is written and committed in a unit of work of its own, so it is durable
        before any signature made with it leaves the server, whatever happens to the
        caller's transaction. Lock: that short write transaction only (SQLite's write
        lock, or PostgreSQL's unique-index wait when two processes race; the loser reads
        the winner's key). So never call this while holding a SQLite write transaction:
        read-only requests and jobs may, write requests get their keys beforehand.
        """
        key = self.find(session, event_id)
        if key is not None:
            return key
        return self._create(event_id)

    def _new_key_row(self, event_id: uuid.UUID) -> EventSigningKey:
        """A fresh key pair for the event, its private half encrypted."""
        private_key = Ed25519PrivateKey.generate()
        kek_id = (
            _KEK_TICKET_SECRET
            if self._settings.ticket_key_secret is not None
            else _KEK_FROM_SECRET_KEY
        )
        nonce = os.urandom(_NONCE)
        raw_private = private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        blob = (
            bytes([kek_id])
            + nonce
            + AESGCM(self._kek(kek_id, event_id)).encrypt(
                nonce, raw_private, _associated_data(event_id)
            )
        )
        public = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return EventSigningKey(
            event_id=event_id, public_key=public, encrypted_private_key=blob, created_at=utcnow()
        )

    def add_key(self, session: Session, event_id: uuid.UUID) -> None:
        """Give the event its key inside the caller's unit of work (publishing does this).

        Safe because nothing is signed with the key before that unit of work commits: the
        event is not on sale until then. Creating keys up front keeps the lazy path of
        ``get_or_create`` (a second connection per request) off busy sale days.
        """
        if self.find(session, event_id) is None:
            session.add(self._new_key_row(event_id))
            session.flush()

    def _create(self, event_id: uuid.UUID) -> EventKey:
        row = self._new_key_row(event_id)
        public = row.public_key
        blob = row.encrypted_private_key
        try:
            with self._database.session() as write:
                write.add(row)
        except IntegrityError:
            # Another process created this event's key first: theirs is the one.
            with self._database.session(write=False) as read:
                existing = self.find(read, event_id)
            if existing is None:
                raise  # not a duplicate key: the event itself is missing
            return existing
        key = EventKey(
            event_id=event_id,
            public_key_bytes=public,
            encrypted_private_key=blob,
            created_at=row.created_at,
        )
        _committed_keys.put(key)
        return key

    def sign_ticket(self, key: EventKey, *, ticket_id: uuid.UUID, ticket_type_id: uuid.UUID) -> str:
        """The QR payload of a ticket of ``key``'s event.

        Ed25519 signatures are deterministic, so a ticket's payload is the same every time
        it is computed: it need not be stored.
        """
        body = _body(ticket_id=ticket_id, event_id=key.event_id, ticket_type_id=ticket_type_id)
        return _encode(body + self.signature(key, body))

    def signature(self, key: EventKey, body: bytes) -> bytes:
        """``body`` signed with ``key``'s private half. Each kind of payload starts with its
        own version byte (a ticket 0x01, a wallet pass 0x02), so one never passes for
        another."""
        blob = key.encrypted_private_key
        if not blob:
            raise SigningKeyUnavailable(event_id=str(key.event_id))
        private_key = _decrypt_private_key(key.event_id, blob, self._kek(blob[0], key.event_id))
        return private_key.sign(body)
