"""API keys for third-party portals: issue, list, revoke, and look up the key of a request.

A key is ``uc_`` + 32 URL-safe random characters; the store keeps its SHA-256 only. A revoked key
keeps its row (for audit) and is refused from the next request on: look-ups read the store each
time, with no cache that could outlive a revocation.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from limits import parse
from sqlalchemy import select

from catalog.context import Services
from store.db import transaction
from store.models import ApiKey, utcnow

KEY_PREFIX = "uc_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ApiKeyError(ValueError):
    """A key cannot be issued or revoked as asked; the message says why."""


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    key_prefix: str
    origins: tuple[str, ...]
    rate: str
    revoked: bool


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def normalise_origin(origin: str) -> str:
    """``https://portal.example.edu`` (scheme, host, port; no path) or :class:`ApiKeyError`."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise ApiKeyError(f"origin {origin!r} must look like https://portal.example.edu (no path)")
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def check_rate(rate: str) -> str:
    try:
        parse(rate)
    except ValueError:
        raise ApiKeyError(f"rate {rate!r} must look like 600/minute, 10/second or 10000/day") from None
    return rate.strip()


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.key_prefix, tuple(row.origins or []), row.rate, row.revoked_at is not None)


def create_key(services: Services, name: str, origins: list[str], rate: str) -> tuple[str, KeyInfo]:
    """Issue a key; returns the key itself (shown once) and what is stored about it."""
    if not _NAME.match(name):
        raise ApiKeyError(f"name {name!r}: letters, digits, '.', '_' or '-', at most 64")
    cleaned = sorted({normalise_origin(o) for o in origins})
    rate = check_rate(rate)
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    with transaction(services.db) as session:
        if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
            raise ApiKeyError(f"a key named {name!r} exists already (revoke it or choose another name)")
        row = ApiKey(name=name, key_hash=hash_key(key), key_prefix=key[:8], origins=cleaned, rate=rate)
        session.add(row)
        session.flush()
        info = _info(row)
    return key, info


def list_keys(services: Services) -> list[KeyInfo]:
    with services.db() as session:
        return [_info(row) for row in session.scalars(select(ApiKey).order_by(ApiKey.name))]


def revoke_key(services: Services, name: str) -> KeyInfo:
    with transaction(services.db) as session:
        row = session.scalar(select(ApiKey).where(ApiKey.name == name))
        if row is None:
            raise ApiKeyError(f"no key named {name!r}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        return _info(row)


def lookup(services: Services, key: str) -> KeyInfo | None:
    """The stored key of a presented key (revoked ones included, so callers can say so)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    with services.db() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
        return _info(row) if row is not None else None


def known_origins(services: Services) -> set[str]:
    """Origins of every live key (answers CORS preflights, which carry no key)."""
    with services.db() as session:
        rows = session.scalars(select(ApiKey.origins).where(ApiKey.revoked_at.is_(None)))
        return {origin for origins in rows for origin in origins or []}
