"""Rate limits on sensitive endpoints (login, register, payments), by the `limits` library.

In memory by default; ``ADMITONE_RATE_LIMIT_STORAGE_URL=redis://...`` shares the
counters between processes in production.
"""

from __future__ import annotations

import math
import time

from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from admitone.config import Settings
from admitone.errors import RateLimited


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        self._limits = {
            "login": parse_many(settings.rate_limit_login),
            "register": parse_many(settings.rate_limit_register),
            "refresh": parse_many(settings.rate_limit_refresh),
            "payment": parse_many(settings.rate_limit_payment),
            "order": parse_many(settings.rate_limit_order),
            "second_factor": parse_many(settings.rate_limit_second_factor),
        }
        self._limiter = MovingWindowRateLimiter(
            storage_from_string(settings.rate_limit_storage_url)
        )
        # In-memory counters are plain CPU work; a shared store (Redis) is network I/O.
        self.does_io = self.enabled and not settings.rate_limit_storage_url.startswith("memory")

    def hit(self, name: str, key: str) -> None:
        """Count one request of ``name`` for ``key``; RateLimited once a limit is spent."""
        if not self.enabled:
            return
        for limit in self._limits[name]:
            if not self._limiter.hit(limit, name, key):
                reset_at, _remaining = self._limiter.get_window_stats(limit, name, key)
                retry_after = max(1, math.ceil(reset_at - time.time()))
                raise RateLimited(retry_after=retry_after, limit=str(limit))

    def reset(self) -> None:
        self._limiter.storage.reset()
