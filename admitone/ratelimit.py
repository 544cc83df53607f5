"""Rate limits on sensitive endpoints (login, register, payments), by the `limits` library.

In memory in the embedded mode; on the Redis of ``ADMITONE_REDIS_URL`` when there is one,
or on ``ADMITONE_RATE_LIMIT_STORAGE_URL``, so that every process of a deployment counts
against the same limits (docs/operations.md).
"""

from __future__ import annotations

import math
import time

import redis.exceptions
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from admitone.config import Settings
from admitone.errors import RateLimited, ServiceUnavailable

# The shared store cannot be reached: the request is refused as "retry shortly" rather
# than let through uncounted (a login limit that vanishes with Redis protects nothing).
_STORE_UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        self._limits = {
            "login": parse_many(settings.rate_limit_login),
            "register": parse_many(settings.rate_limit_register),
            "refresh": parse_many(settings.rate_limit_refresh),
            "account_mail": parse_many(settings.rate_limit_account_mail),
            "account_token": parse_many(settings.rate_limit_account_token),
            "payment": parse_many(settings.rate_limit_payment),
            "order": parse_many(settings.rate_limit_order),
            "second_factor": parse_many(settings.rate_limit_second_factor),
        }
        storage_url = settings.rate_limit_storage
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_url))
        # In-memory counters are plain CPU work; a shared store (Redis) is network I/O.
        self.does_io = self.enabled and not storage_url.startswith("memory")

    def hit(self, name: str, key: str) -> None:
        """Count one request of ``name`` for ``key``; RateLimited once a limit is spent."""
        if not self.enabled:
            return
        for limit in self._limits[name]:
            try:
                allowed = self._limiter.hit(limit, name, key)
            except _STORE_UNREACHABLE as exc:
                raise ServiceUnavailable(retry_after=2) from exc
            if not allowed:
                reset_at, _remaining = self._limiter.get_window_stats(limit, name, key)
                retry_after = max(1, math.ceil(reset_at - time.time()))
                raise RateLimited(retry_after=retry_after, limit=str(limit))

    def reset(self) -> None:
        self._limiter.storage.reset()
