"""Two-factor test helpers: codes computed with pyotp from the secret the server shows."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pyotp


@dataclass
class Authenticator:
    """An authenticator app: the secret, and the last 30-second step it gave a code of.

    The server accepts the current step and its neighbours but never a step twice, so
    each code given is of a later step than the previous one (at most three per 30 s).
    """

    secret: str
    last_step: int = -1
    recovery_codes: list[str] = field(default_factory=list)

    def code(self) -> str:
        now_step = int(time.time()) // 30
        step = max(self.last_step + 1, now_step - 1)
        assert step <= now_step + 1, "three codes within 30 s already given"
        self.last_step = step
        return pyotp.TOTP(self.secret).generate_otp(step)

    def wrong_code(self) -> str:
        now_step = int(time.time()) // 30
        valid = {pyotp.TOTP(self.secret).generate_otp(s) for s in range(now_step - 2, now_step + 3)}
        return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in valid)


def enable_totp(client: Any, headers: dict[str, str]) -> Authenticator:
    started = client.post("/api/v1/me/two-factor/totp", headers=headers)
    assert started.status_code == 200, started.text
    app = Authenticator(secret=started.json()["data"]["secret"])
    confirmed = client.post(
        "/api/v1/me/two-factor/totp/confirm", json={"code": app.code()}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    app.recovery_codes = confirmed.json()["data"]["recovery_codes"]
    return app


def password_login(client: Any, email: str, password: str) -> Any:
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})
