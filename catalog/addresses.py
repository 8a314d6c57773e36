"""The SSRF guard for members' feeds: a feed URL must be HTTP(S), and a host that resolves to a
private, loopback, link-local or otherwise reserved address is refused unless the consortium allows
private addresses or lists the host/network (settings ``feed_allow_private``, ``feed_allowlist``).

The same policy applies wherever feed addresses come in: a member saved in the console, every
connection check (again, so a name that changed its address is caught) and ``unicat members load``.
The members file may also name files on the server (the operator's own), the console may not.

Allowlist entries: a network (``10.1.0.0/16``), a host name (``opac.lan``) or a domain with a
leading dot (``.lib.example.edu``: every name under it). A listed name is trusted as named, without
looking it up."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from unicat.settings import Settings

WEB_SCHEMES = ("http", "https")


class AddressRefused(ValueError):
    """``field`` is the feed field (``oai.url``), the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _named_in_list(host: str, allowlist: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for item in allowlist:
        item = item.strip().lower()
        if item == host or (item.startswith(".") and len(item) > 1 and host.endswith(item)):
            return True
    return False


def _allowed_by_list(addresses: list[ipaddress._BaseAddress], allowlist: list[str]) -> bool:
    for item in allowlist:
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            continue
        if addresses and all(a in network for a in addresses):
            return True
    return False


def _resolve(host: str, port: int | None) -> list[ipaddress._BaseAddress]:
    try:
        infos = socket.getaddrinfo(host, port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return []
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def check_host(settings: Settings, field: str, host: str, port: int | None = None) -> None:
    if not host:
        raise AddressRefused(field, "no host")
    if _named_in_list(host, settings.feed_allowlist):
        return
    addresses = _resolve(host, port)
    if not addresses:
        raise AddressRefused(field, f"the host {host!r} does not resolve")
    if settings.feed_allow_private or _allowed_by_list(addresses, settings.feed_allowlist):
        return
    for a in addresses:
        if not a.is_global or a.is_multicast:
            kind = "link-local" if a.is_link_local else "loopback" if a.is_loopback else "private or reserved"
            raise AddressRefused(field, f"{host} resolves to the {kind} address {a}, which this consortium's "
                                        "policy forbids for feeds (UNICAT_FEED_ALLOWLIST)")


def check_url(settings: Settings, field: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in WEB_SCHEMES:
        raise AddressRefused(field, f"must be an http:// or https:// address, not {parts.scheme or 'no'} scheme")
    try:
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(field, "the port is not a number") from exc
    check_host(settings, field, parts.hostname or "", port)


def feed_targets(config: dict[str, Any]) -> list[tuple[str, str, str | int | None]]:
    """(field, kind, value) of every network target a member's config names: ``url`` targets and
    ``host`` targets (with their port)."""
    targets: list[tuple[str, str, str | int | None]] = []
    for kind in ("oai", "sru"):
        if isinstance(config.get(kind), dict):
            targets.append((f"{kind}.url", "url", config[kind].get("url")))
    files = config.get("files")
    if isinstance(files, dict):
        target = str(files.get("url_or_path") or "")
        targets.append(("files.url_or_path", "url" if ":" in target.split("/")[0] else "path", target))
    for kind in ("z3950", "holdings"):
        feed = config.get(kind)
        if isinstance(feed, dict):
            if feed.get("url"):
                targets.append((f"{kind}.url", "url", feed["url"]))
            if feed.get("host"):
                targets.append((f"{kind}.host", "host", f"{feed['host']}:{feed.get('port') or 210}"))
    return targets


def check_member(settings: Settings, config: dict[str, Any], *, paths: bool = False) -> list[AddressRefused]:
    """Every address of the member's feeds the policy refuses (empty: all fine); ``paths``: files
    on this server are allowed (the members file), else refused (the console)."""
    refused: list[AddressRefused] = []
    for field, kind, value in feed_targets(config):
        try:
            if kind == "url":
                check_url(settings, field, str(value))
            elif kind == "path":
                if paths:
                    continue
                raise AddressRefused(field, "a file path on this server cannot be entered in the console; "
                                            "give an http:// or https:// address (or use the members file)")
            else:
                host, _, port = str(value).rpartition(":")
                check_host(settings, field, host, int(port))
        except AddressRefused as exc:
            refused.append(exc)
    return refused


def members_file_problems(settings: Settings, members: list[dict[str, Any]]) -> list[str]:
    """The policy's refusals for validated members of a members file, worded like the file's other
    problems: ``member 'x': oai.url: why``."""
    return [f"member {config['code']!r}: {refused.field}: {refused.message}"
            for config in members for refused in check_member(settings, config, paths=True)]
