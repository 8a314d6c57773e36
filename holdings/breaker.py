"""The availability circuit breaker, shared by every API process through Redis.

A member failing ``THRESHOLD`` times in a row — counted over all processes — is not asked again
by any of them for ``COOLDOWN`` seconds: with four API processes, a dead OPAC costs three
timeouts in all, not three per process, and every process stops calling it at the same moment.
One success anywhere closes the breaker. The state is a Redis hash per member
(``failures``, ``reason``, ``open_until`` as a Unix time, since processes share no monotonic clock)
that expires on its own, so a breaker left open by a process that died still closes.

Each process keeps its own breaker as well: it decides alone while Redis is unreachable, and an
open local breaker saves the Redis round trip.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

THRESHOLD = 3
COOLDOWN = 30.0
#: Longest wait for Redis before deciding without it.
REDIS_WAIT = 0.25


@dataclass
class LocalBreaker:
    failures: int = 0
    open_until: float = 0.0  # time.monotonic()
    last_reason: str = ""
    #: Whether Redis held failures for the member when last read (a success must clear them).
    shared_seen: bool = False


RedisGetter = Callable[[], Awaitable[Any | None]]
RedisFailed = Callable[[Exception], None]


def _key(prefix: str, member: str) -> str:
    return f"{prefix}:breaker:{member}"


async def open_reason(
    prefix: str, member: str, local: LocalBreaker, redis: RedisGetter, failed: RedisFailed
) -> str | None:
    """Why ``member`` must not be asked now (its breaker is open here or in another process)."""
    if local.open_until > time.monotonic():
        return f"failed {local.failures} times in a row ({local.last_reason})"
    client = await redis()
    if client is None:
        return None
    try:
        state = await asyncio.wait_for(client.hgetall(_key(prefix, member)), REDIS_WAIT)
    except TimeoutError:
        return None
    except Exception as exc:  # noqa: BLE001 - Redis down: this process decides alone
        failed(exc)
        return None
    local.shared_seen = bool(state)
    until = float(state.get(b"open_until") or 0)
    if until > time.time():
        reason = (state.get(b"reason") or b"").decode()
        return f"failed {int(state.get(b'failures') or 0)} times in a row ({reason})"
    return None


async def record(
    prefix: str, member: str, local: LocalBreaker, ok: bool, reason: str, redis: RedisGetter, failed: RedisFailed
) -> None:
    """Count one outcome of asking ``member``, here and in Redis."""
    if ok:
        local.failures, local.open_until = 0, 0.0
    else:
        local.failures += 1
        local.last_reason = reason
        if local.failures >= THRESHOLD:
            local.open_until = time.monotonic() + COOLDOWN
    if ok and not local.shared_seen:
        return  # nothing shared to clear: no Redis write on the common path
    client = await redis()
    if client is None:
        return
    key = _key(prefix, member)
    try:
        if ok:
            await asyncio.wait_for(client.delete(key), REDIS_WAIT)
            local.shared_seen = False
            return
        pipe = client.pipeline(transaction=True)
        pipe.hincrby(key, "failures", 1).hset(key, "reason", reason).expire(key, int(COOLDOWN * 4))
        failures = (await asyncio.wait_for(pipe.execute(), REDIS_WAIT))[0]
        local.shared_seen = True
        if failures >= THRESHOLD:
            await asyncio.wait_for(client.hset(key, "open_until", time.time() + COOLDOWN), REDIS_WAIT)
    except TimeoutError:
        return
    except Exception as exc:  # noqa: BLE001
        failed(exc)
