"""Request rate limits per API key (and per client address without one), counted in Redis by the
kept ``limits`` library (moving window), so every API process shares the same counters."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    #: Seconds until a request would be accepted again (0 when allowed).
    retry_after: int


class RateLimiter:
    """``check(identity, rate)``: count one request of ``identity`` against ``rate`` ("600/minute")."""

    def __init__(self, storage_uri: str, namespace: str) -> None:
        self.storage = storage_from_string(storage_uri)
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.namespace = namespace

    def check(self, identity: str, rate: str) -> Decision:
        item = _item(rate)
        allowed = self.strategy.hit(item, self.namespace, identity)
        stats = self.strategy.get_window_stats(item, self.namespace, identity)
        retry = 0 if allowed else max(1, math.ceil(stats.reset_time - time.time()))
        return Decision(allowed, item.amount, max(0, stats.remaining), retry)

    def close(self) -> None:
        reset = getattr(self.storage, "close", None)
        if callable(reset):
            reset()


@lru_cache(maxsize=256)
def _item(rate: str) -> RateLimitItem:
    return parse(rate)


def limiter_for(storage: str, redis_url: str, namespace: str) -> RateLimiter:
    """A limiter on Redis (``storage="redis"``, the default) or in this process's memory."""
    return RateLimiter(redis_url if storage == "redis" else "memory://", namespace)
