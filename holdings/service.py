"""Live availability for a union record: ask every holding member at once, never wait too long.

Each holding member gets its own task bounded by its timeout (``availability_timeout``, 2 s, or
the member's ``holdings.timeout``); the answer always has one entry per member in one of three
states — ``ok`` (items), ``unknown`` (timed out / unreachable) or ``error`` (answered garbage, a
diagnostic, a bad configuration). Good answers are cached in Redis for ``availability_cache_ttl``
seconds; a member failing ``BREAKER_THRESHOLD`` times in a row is not asked again for
``BREAKER_COOLDOWN`` seconds (circuit breaker, shared by every API process through Redis, see
:mod:`holdings.breaker`). Only the member's own failures count
towards it — timeouts, refused or reset connections, answers that are not the protocol — never a
record that has no id to look up at that member (:class:`NotLookedUp`). However many hits of a
page a member holds, it is never sent more than its ``max_connections`` requests at once (one
semaphore per member and event loop). When Redis is down the service still answers, without a
cache, and logs it.

Status words are read with the member's tables (:mod:`holdings.vocabulary`); a word no table
knows makes the item ``unknown`` and is counted in Redis per member (``unknown_status_words``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import weakref
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from catalog.context import Services
from holdings import breaker as breaker_mod
from holdings.config import HarvestedHoldings, HoldingsConfig
from holdings.connectors import ConnectorError, LookupContext, NotLookedUp, Unreachable, connector_for
from holdings.vocabulary import StatusReader, chain_for
from store.models import Member

log = logging.getLogger(__name__)

BREAKER_THRESHOLD = breaker_mod.THRESHOLD
BREAKER_COOLDOWN = breaker_mod.COOLDOWN
#: YAZ look-ups in flight at once (hung members hold a thread until YAZ's own timeout fires).
EXECUTOR_THREADS = 64
_REDIS_RETRY_AFTER = 30.0
_ADAPTER: TypeAdapter[Any] = TypeAdapter(HoldingsConfig)


def _harvested_detail(holding: dict[str, Any]) -> str:
    """The fallback shows what the member's feed said, and when (if the feed dated it)."""
    as_of = holding.get("as_of")
    return f"harvested holdings as of {as_of}" if as_of else "harvested holdings (date unknown)"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _executor(services: Services) -> ThreadPoolExecutor:
    pool = services.extras.get("holdings_executor")
    if not isinstance(pool, ThreadPoolExecutor):
        pool = ThreadPoolExecutor(max_workers=EXECUTOR_THREADS, thread_name_prefix="holdings-yaz")
        services.extras["holdings_executor"] = pool
    return pool


def _slots(services: Services, member: str, limit: int) -> asyncio.Semaphore:
    """The member's connection slots on the running loop (a semaphore belongs to one loop)."""
    by_loop = services.extras.setdefault("holdings_slots", weakref.WeakKeyDictionary())
    assert isinstance(by_loop, weakref.WeakKeyDictionary)
    mine = by_loop.setdefault(asyncio.get_running_loop(), {})
    key = (member, limit)
    if key not in mine:
        mine[key] = asyncio.Semaphore(limit)
    return mine[key]  # type: ignore[no-any-return]


def _breakers(services: Services) -> dict[str, breaker_mod.LocalBreaker]:
    found = services.extras.setdefault("holdings_breakers", {})
    assert isinstance(found, dict)
    return found


async def _redis(services: Services) -> Any | None:
    """The shared ``redis.asyncio`` client, created lazily for the running loop; None when down."""
    if time.monotonic() < float(services.extras.get("redis_down_until", 0.0)):  # type: ignore[arg-type]
        return None
    loop = asyncio.get_running_loop()
    client = services.extras.get("redis")
    if client is None or services.extras.get("redis_loop") is not loop:
        from redis import asyncio as aioredis

        client = aioredis.from_url(services.settings.redis_url, socket_connect_timeout=0.25, socket_timeout=0.25)
        services.extras["redis"], services.extras["redis_loop"] = client, loop
    return client


def _redis_failed(services: Services, exc: Exception) -> None:
    log.warning("availability cache off for %.0fs: Redis unreachable (%s)", _REDIS_RETRY_AFTER, exc)
    services.extras["redis_down_until"] = time.monotonic() + _REDIS_RETRY_AFTER


def _cache_key(services: Services, holding: dict[str, Any], config: Any) -> str:
    ident = json.dumps([sorted(holding.get("local_ids") or []), config.model_dump(mode="json")], sort_keys=True)
    digest = hashlib.sha1(ident.encode(), usedforsecurity=False).hexdigest()[:20]
    return f"{services.settings.index_prefix}:avail:{holding['member']}:{digest}"


def _member_configs(services: Services, codes: list[str]) -> dict[str, dict[str, Any]]:
    with services.db() as session:
        rows = session.execute(select(Member.code, Member.config).where(Member.code.in_(codes)))
        return {code: (config or {}).get("holdings") or {} for code, config in rows}


def _config(raw: dict[str, Any] | None) -> Any:
    return _ADAPTER.validate_python(raw) if raw else HarvestedHoldings(type="harvested")


async def availability_for_record(services: Services, record: dict[str, Any],
                                  http: httpx.AsyncClient | None = None) -> list[dict[str, Any]]:
    """One entry per holding member (see module docstring); never raises for a member's fault.

    A holding entry may carry its member's holdings table as ``holdings_config``; otherwise it is
    read from the ``member`` table. ``http``: a client shared by a page of look-ups (one is made
    otherwise — building a client costs an SSL context, tens of milliseconds of CPU).
    """
    holdings = list(record.get("holdings") or [])
    if not holdings:
        return []
    missing = [h["member"] for h in holdings if "holdings_config" not in h]
    stored = await asyncio.to_thread(_member_configs, services, missing) if missing else {}
    timeout = float(services.settings.availability_timeout)
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        if http is None:
            http = await stack.enter_async_context(_client(timeout))
        tasks = [
            _one_member(services, h, h["holdings_config"] if "holdings_config" in h else stored.get(h["member"]),
                        http, timeout, started)
            for h in holdings
        ]
        return list(await asyncio.gather(*tasks))


def _client(timeout: float) -> httpx.AsyncClient:
    # the per-member semaphores bound connections; the pool must not be the tighter limit
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout + 1.0), follow_redirects=True,
                             limits=httpx.Limits(max_connections=None, max_keepalive_connections=32))


async def _one_member(services: Services, holding: dict[str, Any], raw_config: dict[str, Any] | None,
                      http: httpx.AsyncClient, default_timeout: float, started: float) -> dict[str, Any]:
    """Everything for one member — cache, connector — within its timeout counted from ``started``."""
    member = holding["member"]
    entry: dict[str, Any] = {
        "member": member, "member_name": holding.get("member_name"), "region": holding.get("region"),
        "state": "error", "detail": None, "checked_at": _now(), "cached": False, "items": [], "source": None,
    }
    try:
        config = _config(raw_config)
    except ValidationError as exc:
        entry["detail"] = f"bad holdings configuration: {exc.errors()[0]['msg']}"
        return entry
    entry["source"] = config.type
    if config.type == "harvested":
        entry["as_of"] = holding.get("as_of")
    breaker = _breakers(services).setdefault(member, breaker_mod.LocalBreaker())
    prefix = services.settings.index_prefix
    reason = await breaker_mod.open_reason(prefix, member, breaker, lambda: _redis(services),
                                           lambda exc: _redis_failed(services, exc))
    if reason is not None:
        entry.update(state="unknown", detail=f"not asked: {reason}")
        return entry
    key = _cache_key(services, holding, config)
    cached = await _cache_get(services, key, started + (config.timeout or default_timeout))
    if cached is not None:
        return {**entry, **cached, "cached": True}
    timeout = config.timeout or default_timeout
    reader = await _ask(services, config, holding, entry, http, timeout, started)
    entry["checked_at"] = _now()
    entry["elapsed_ms"] = round((time.monotonic() - started) * 1000)
    if reader.unknown:
        entry["unknown_words"] = sorted(reader.unknown)
        await _count_unknown(services, member, reader.unknown)
    if not entry.pop("not_asked", False):  # no id to look up is the record's fault, not the member's
        await breaker_mod.record(prefix, member, breaker, entry["state"] == "ok", str(entry["detail"]),
                                 lambda: _redis(services), lambda exc: _redis_failed(services, exc))
    if entry["state"] == "ok":
        await _cache_set(services, key, {k: entry[k] for k in ("state", "detail", "checked_at", "items")})
    return entry


async def _ask(services: Services, config: Any, holding: dict[str, Any], entry: dict[str, Any],
               http: httpx.AsyncClient, timeout: float, started: float) -> StatusReader:
    """Run the member's connector within what is left of its timeout; the outcome goes into ``entry``."""
    member = holding["member"]
    reader = StatusReader(chain_for(config.ils, config.type, config.status_words))
    ctx = LookupContext(http=http, executor=_executor(services), timeout=timeout, reader=reader,
                        slots=_slots(services, member, config.max_connections))
    try:
        remaining = max(0.0, started + timeout - time.monotonic())
        items = await asyncio.wait_for(connector_for(config).items(holding, ctx), remaining)
    except TimeoutError:
        entry.update(state="unknown", detail=f"unknown: timed out after {timeout:g} s")
    except Unreachable as exc:
        entry.update(state="unknown", detail=f"unknown: unreachable ({exc})")
    except NotLookedUp as exc:
        entry.update(state="unknown", detail=f"not asked: {exc}", not_asked=True)
    except ConnectorError as exc:
        entry.update(state="error", detail=str(exc))
    except Exception as exc:  # a connector bug must not sink the whole answer
        log.exception("availability connector %s failed for %s", config.type, member)
        entry.update(state="error", detail=f"{type(exc).__name__}: {exc}")
    else:
        entry.update(state="ok", items=[i.to_dict() for i in items],
                     detail=_harvested_detail(holding) if config.type == "harvested" else None)
    return reader


async def _cache_get(services: Services, key: str, deadline: float) -> dict[str, Any] | None:
    client = await _redis(services)
    if client is None:
        return None
    try:
        raw = await asyncio.wait_for(client.get(key), max(0.01, min(0.25, deadline - time.monotonic())))
    except TimeoutError:
        return None  # slow cache: ask the member instead
    except Exception as exc:  # noqa: BLE001 - any Redis fault means "no cache", never a failed answer
        _redis_failed(services, exc)
        return None
    return json.loads(raw) if raw else None


async def _cache_set(services: Services, key: str, value: dict[str, Any]) -> None:
    client = await _redis(services)
    if client is None:
        return
    try:
        await client.set(key, json.dumps(value), ex=int(services.settings.availability_cache_ttl))
    except Exception as exc:  # noqa: BLE001
        _redis_failed(services, exc)


def _unknown_key(services: Services, member: str) -> str:
    return f"{services.settings.index_prefix}:status-unknown:{member}"


async def _count_unknown(services: Services, member: str, words: Counter[str]) -> None:
    client = await _redis(services)
    if client is None:
        log.info("unknown status words from %s (not counted, Redis down): %s", member, dict(words))
        return
    try:
        pipe = client.pipeline(transaction=False)
        for word, n in words.items():
            pipe.hincrby(_unknown_key(services, member), word, n)
        pipe.sadd(f"{services.settings.index_prefix}:status-unknown-members", member)
        await pipe.execute()
    except Exception as exc:  # noqa: BLE001 - counting must never fail an answer
        _redis_failed(services, exc)


def unknown_status_words(services: Services, member: str | None = None) -> dict[str, dict[str, int]]:
    """Member → {word: times seen} for the status words no table could read (from Redis, blocking)."""
    import redis

    client = redis.Redis.from_url(services.settings.redis_url, socket_connect_timeout=1, socket_timeout=2)
    try:
        prefix = services.settings.index_prefix
        seen = client.smembers(f"{prefix}:status-unknown-members")
        members = [member] if member else sorted(m.decode() for m in seen)
        out: dict[str, dict[str, int]] = {}
        for code in members:
            raw = client.hgetall(_unknown_key(services, code))
            if raw:
                out[code] = dict(sorted(((k.decode(), int(v)) for k, v in raw.items()), key=lambda kv: -kv[1]))
        return out
    finally:
        client.close()


def summarise(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """``available_somewhere``: True when a member answered live with an available item; False when
    every member answered and none has one; None (unknown) otherwise. Harvested data is not "now"."""
    live_ok = [e for e in entries if e["state"] == "ok" and e.get("source") != "harvested"]
    available = sum(1 for e in live_ok for i in e["items"] if i["status"] == "available")
    silent = [e["member"] for e in entries if e["state"] != "ok"]
    if available:
        somewhere: bool | None = True
    elif entries and not silent and live_ok:
        somewhere = False
    else:
        somewhere = None
    return {
        "available_somewhere": somewhere,
        "available_items": available,
        "requestable_somewhere": any(i["requestable"] for e in entries if e["state"] == "ok" for i in e["items"]),
        "members": len(entries),
        "members_ok": sum(1 for e in entries if e["state"] == "ok"),
        "members_unknown": [e["member"] for e in entries if e["state"] == "unknown"],
        "members_error": [e["member"] for e in entries if e["state"] == "error"],
    }


async def available_somewhere(services: Services, records: list[dict[str, Any]]) -> dict[str, bool | None]:
    """For a page of hits: union id → available now somewhere (True / False / None = unknown)."""
    async with _client(float(services.settings.availability_timeout)) as http:
        answers = await asyncio.gather(*(availability_for_record(services, r, http) for r in records))
    return {str(r.get("id") or r.get("union_id")): summarise(a)["available_somewhere"]
            for r, a in zip(records, answers, strict=True)}
