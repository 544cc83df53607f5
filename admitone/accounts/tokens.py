"""Access tokens (short-lived JWT) and opaque refresh tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
import uuid
from datetime import datetime, timedelta

import jwt

from admitone.errors import InvalidToken

ALGORITHM = "HS256"
ISSUER = "admitone"


def encode_access_token(
    *, user_id: uuid.UUID, session_id: uuid.UUID, secret: str, now: datetime, minutes: int
) -> str:
    claims = {
        "iss": ISSUER,
        "sub": str(user_id),
        "sid": str(session_id),
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(token: str, *, secret: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The (user id, session id) of a valid, unexpired access token; InvalidToken otherwise."""
    user_id, session_id, expires_at = _verified_claims(token, secret)
    if expires_at <= time.time():
        raise InvalidToken()
    return user_id, session_id


# A client sends the same token with every request for 15 minutes: its signature is
# checked once per process, its expiry on every use (above). Failures are not cached.
@functools.lru_cache(maxsize=4096)
def _verified_claims(token: str, secret: str) -> tuple[uuid.UUID, uuid.UUID, int]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "sid", "iss"]},
        )
        if claims.get("typ") != "access":
            raise InvalidToken()
        return uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), int(claims["exp"])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken() from exc


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
