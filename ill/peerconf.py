"""ISO 18626 peers as configured: address, agency id, schema version, authentication (both ways).

A peer is a member (or another network) running its own ILL system. It is declared in the members
file, in the member's ``iso18626`` table — no lending-policy row is needed first::

    [[member]]
    code = "rs-lib"
    name = { zh = "ReShare 成员馆", en = "A ReShare member" }
    region = "east"
    iso18626 = { url = "https://rs.example.org/iso18626", agency_id = "US-RSLIB", agency_type = "ISIL",
                 version = "1.2", auth = { type = "basic", username = "unicat", password_env = "RS_PW" } }

``version`` is ``1.2``, ``2021`` or ``auto`` (the default: learned from the peer's first message, and
until then the 1.2 schema most peers speak). ``auth.type`` is one of:

* ``bearer`` — ``Authorization: Bearer <token>`` both ways;
* ``basic`` — HTTP Basic with ``username``/``password`` both ways;
* ``header`` — a shared secret in a named header (``header = "X-Okapi-Token"``, ``value = …``);
* ``mtls`` — outbound: our client certificate (``cert``, ``key``) and the peer's CA (``ca``); inbound:
  the TLS terminator in front of unicat verifies the peer's certificate and passes its subject in
  ``client_dn_header`` (default ``X-SSL-Client-S-DN``), which must equal ``client_dn``; the header is
  only believed from ``trusted_proxies``;
* ``ip`` — inbound only from the addresses or networks in ``allow_ips``;
* ``none`` — no credential at all; allowed only for loopback peers or with ``allow_ips``.

Every secret may be given as ``<name>_env`` (the name of an environment variable) instead of inline.
Legacy ``ill_policy.iso18626_url``/``iso18626_token`` still work and mean ``bearer``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ill import iso18626 as iso
from ill.models import IllPolicy, PeerState
from store.models import Member

AUTH_TYPES = ("bearer", "basic", "header", "mtls", "ip", "none")


class PeerAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["bearer", "basic", "header", "mtls", "ip", "none"]
    token: str | None = None
    token_env: str | None = None
    username: str | None = None
    password: str | None = None
    password_env: str | None = None
    header: str | None = None
    value: str | None = None
    value_env: str | None = None
    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    client_dn: str | None = None
    client_dn_header: str = "X-SSL-Client-S-DN"
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    allow_ips: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _complete(self) -> PeerAuth:
        needs = {"bearer": ("token",), "basic": ("username", "password"), "header": ("header", "value"),
                 "mtls": ("client_dn",), "ip": ("allow_ips",)}
        for name in needs.get(self.type, ()):
            if not getattr(self, name) and not getattr(self, f"{name}_env", None):
                raise ValueError(f"auth type {self.type} needs {name}")
        for net in [*self.allow_ips, *self.trusted_proxies]:
            ipaddress.ip_network(net, strict=False)  # ValueError names the bad entry
        return self


class PeerEntry(BaseModel):
    """The ``iso18626`` table of a member."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, pattern=r"^https?://")
    agency_id: str | None = Field(default=None, min_length=1, max_length=128)
    agency_type: str | None = Field(default=None, min_length=1, max_length=64)
    version: Literal["1.2", "2021", "auto"] = "auto"
    timeout: float = Field(default=10.0, gt=0, le=120)
    auth: PeerAuth

    @model_validator(mode="after")
    def _none_is_local(self) -> PeerEntry:
        if self.auth.type == "none" and not self.auth.allow_ips and not _loopback_url(self.url):
            raise ValueError("auth type none is only allowed for a loopback peer or together with allow_ips")
        return self


def _loopback_url(url: str | None) -> bool:
    from urllib.parse import urlsplit

    host = urlsplit(url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secret(auth: PeerAuth, name: str) -> str | None:
    env = getattr(auth, f"{name}_env", None)
    return os.environ.get(env) if env else getattr(auth, name)


@dataclass(frozen=True)
class Peer:
    code: str
    url: str | None
    agency: iso.Agency
    version: str  # the schema version we send in
    auth: PeerAuth
    timeout: float = 10.0
    configured_version: str = "auto"
    extra: dict[str, Any] = field(default_factory=dict)

    def outbound(self) -> dict[str, Any]:
        """httpx keyword arguments: headers, auth, client certificate and CA."""
        a, headers = self.auth, {"Content-Type": "application/xml; charset=utf-8"}
        kwargs: dict[str, Any] = {"headers": headers}
        if a.type == "bearer":
            headers["Authorization"] = f"Bearer {_secret(a, 'token') or ''}"
        elif a.type == "basic":
            kwargs["auth"] = (a.username or "", _secret(a, "password") or "")
        elif a.type == "header" and a.header:
            headers[a.header] = _secret(a, "value") or ""
        return kwargs

    def client_options(self) -> dict[str, Any]:
        """httpx.Client options (mutual TLS needs them at client level)."""
        if self.auth.type != "mtls":
            return {}
        options: dict[str, Any] = {}
        if self.auth.cert:
            options["cert"] = (self.auth.cert, self.auth.key) if self.auth.key else self.auth.cert
        if self.auth.ca:
            options["verify"] = self.auth.ca
        return options


def parse_entry(table: Any) -> PeerEntry:
    """Validate a members-file ``iso18626`` table (raises pydantic ValidationError)."""
    return PeerEntry.model_validate(table)


def get_peer(session: Session, code: str | None, default_version: str = iso.V12) -> Peer | None:
    """The peer behind a member code, or None when that member is not an ISO 18626 peer."""
    if not code:
        return None
    member = session.get(Member, code)
    table = (member.config or {}).get("iso18626") if member is not None else None
    learned = session.get(PeerState, code)
    entry: PeerEntry | None = None
    if table:
        try:
            entry = parse_entry(table)
        except ValidationError:
            return None  # the members file check reports it; an invalid peer is not used
    else:
        policy = session.get(IllPolicy, code)
        if policy is None or not policy.iso18626_url:
            return None
        # no token configured: a secret nobody knows, so no inbound message can authenticate
        token = policy.iso18626_token or secrets.token_hex(32)
        entry = PeerEntry(url=policy.iso18626_url, auth=PeerAuth(type="bearer", token=token))
    version = entry.version if entry.version != "auto" else (learned.version if learned and learned.version
                                                             else default_version)
    agency_type = entry.agency_type or (learned.agency_type if learned and learned.agency_type else iso.AGENCY_TYPE)
    return Peer(code=code, url=entry.url, agency=iso.Agency(agency_type, entry.agency_id or code), version=version,
                auth=entry.auth, timeout=entry.timeout, configured_version=entry.version)


def peer_by_agency(session: Session, agency_value: str | None) -> Peer | None:
    """The configured peer whose agency id is ``agency_value`` (a member code works too)."""
    if not agency_value:
        return None
    direct = get_peer(session, agency_value)
    if direct is not None and direct.agency.value == agency_value:
        return direct
    for member in session.scalars(select(Member)):
        table = (member.config or {}).get("iso18626") or {}
        if table.get("agency_id") == agency_value:
            return get_peer(session, member.code)
    return None


@dataclass(frozen=True)
class Credentials:
    """What an inbound HTTP request carried that could prove who sent it."""

    remote_addr: str | None
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def _in(addr: str | None, nets: list[str]) -> bool:
    if not addr:
        return False
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in nets)


def _same(expected: str | None, given: str | None) -> bool:
    return bool(expected) and given is not None and hmac.compare_digest(expected.encode(), given.encode())


def verify(peer: Peer, creds: Credentials) -> bool:
    """Whether the inbound request proves it comes from ``peer`` (per its configured auth type)."""
    a = peer.auth
    if a.allow_ips and not _in(creds.remote_addr, a.allow_ips):
        return False
    scheme, _, rest = (creds.header("authorization") or "").partition(" ")
    if a.type == "bearer":
        return scheme.lower() == "bearer" and _same(_secret(a, "token"), rest.strip())
    if a.type == "basic":
        import base64
        import binascii

        try:
            user, _, password = base64.b64decode(rest.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return scheme.lower() == "basic" and _same(a.username, user) and _same(_secret(a, "password"), password)
    if a.type == "header":
        return _same(_secret(a, "value"), creds.header(a.header or ""))
    if a.type == "mtls":
        return _in(creds.remote_addr, a.trusted_proxies) and _same(a.client_dn, creds.header(a.client_dn_header))
    if a.type == "ip":
        return _in(creds.remote_addr, a.allow_ips)
    # "none": only from loopback (or the allow-list, checked above)
    return bool(a.allow_ips) or _in(creds.remote_addr, ["127.0.0.0/8", "::1/128"])
