"""API keys for third-party portals: issue, list, revoke, and look up the key of a request.

A key is ``uc_`` + 32 URL-safe random characters; the store keeps its SHA-256 only. A revoked key
keeps its row (for audit) and is refused from the next request on: look-ups read the store each
time, with no cache that could outlive a revocation.

Scopes say what a key is for: ``search`` (a portal's key, the default: its origins and its rate on
the search API, SRU and the widget), ``admin`` (the monitoring API, as a consortium administrator)
and ``admin:<member>`` (the monitoring API for one member, as that member's cataloguer).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from limits import parse
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.context import Services
from store.db import transaction
from store.models import ApiKey, Member, utcnow

KEY_PREFIX = "uc_"
SEARCH, ADMIN = "search", "admin"
MEMBER_ADMIN = "admin:"  # + a member code
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
    scopes: tuple[str, ...] = (SEARCH,)


#: Called inside the transaction that issues or revokes a key (``"create"``/``"revoke"``), so a
#: record of it (the audit log) commits with the change or not at all.
OnChange = Callable[[Session, str, KeyInfo], None]


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


def check_scopes(session: Session, scopes: list[str]) -> list[str]:
    """The scopes sorted and deduplicated (none given: ``search``), or :class:`ApiKeyError`."""
    cleaned = sorted({s.strip() for s in scopes if s.strip()}) or [SEARCH]
    for scope in cleaned:
        if scope in (SEARCH, ADMIN):
            continue
        code = scope.removeprefix(MEMBER_ADMIN)
        if not scope.startswith(MEMBER_ADMIN) or not code:
            raise ApiKeyError(f"scope {scope!r}: one of search, admin or admin:<member code>")
        if session.get(Member, code) is None:
            raise ApiKeyError(f"scope {scope!r}: there is no member {code!r}")
    members = [s for s in cleaned if s.startswith(MEMBER_ADMIN)]
    if members and ADMIN in cleaned:
        raise ApiKeyError("scope admin already covers every member: leave out admin:<member>")
    if len(members) > 1:
        raise ApiKeyError(f"a key acts for one member at most, not {', '.join(members)}")
    return cleaned


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.key_prefix, tuple(row.origins or []), row.rate, row.revoked_at is not None,
                   tuple(row.scopes or [SEARCH]))


def create_key(services: Services, name: str, origins: list[str], rate: str, scopes: list[str] | None = None,
               on_change: OnChange | None = None) -> tuple[str, KeyInfo]:
    """Issue a key; returns the key itself (shown once) and what is stored about it."""
    if not _NAME.match(name):
        raise ApiKeyError(f"name {name!r}: letters, digits, '.', '_' or '-', at most 64")
    cleaned = sorted({normalise_origin(o) for o in origins})
    rate = check_rate(rate)
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    with transaction(services.db) as session:
        allowed = check_scopes(session, scopes or [])
        if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
            raise ApiKeyError(f"a key named {name!r} exists already (revoke it or choose another name)")
        row = ApiKey(name=name, key_hash=hash_key(key), key_prefix=key[:8], origins=cleaned, rate=rate,
                     scopes=allowed)
        session.add(row)
        session.flush()
        info = _info(row)
        if on_change is not None:
            on_change(session, "create", info)
    return key, info


def list_keys(services: Services) -> list[KeyInfo]:
    with services.db() as session:
        return [_info(row) for row in session.scalars(select(ApiKey).order_by(ApiKey.name))]


def revoke_key(services: Services, name: str, on_change: OnChange | None = None) -> KeyInfo:
    with transaction(services.db) as session:
        row = session.scalar(select(ApiKey).where(ApiKey.name == name))
        if row is None:
            raise ApiKeyError(f"no key named {name!r}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            if on_change is not None:
                on_change(session, "revoke", _info(row))
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
