"""LDAP directories (OpenLDAP, Active Directory) through ldap3: search-then-bind or direct bind,
LDAPS or StartTLS checked against a CA file, connect and receive timeouts."""

from __future__ import annotations

import math
import ssl
from typing import Any

from ldap3 import BASE, NONE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn
from sqlalchemy.orm import Session

from accounts.config import LdapAuth
from accounts.identity import Identity, SignInError
from accounts.roles import mapped_role


class LdapAuthenticator:
    def __init__(self, config: LdapAuth) -> None:
        self.config = config

    def authenticate(self, session: Session, member_code: str, username: str, password: str) -> Identity | None:
        if not username or not password:  # an empty password would be an anonymous bind that "succeeds"
            return None
        try:
            return self._authenticate(username, password)
        except LDAPException as exc:
            raise SignInError("unavailable", f"LDAP {self.config.url}: {type(exc).__name__}: {exc}") from None
        except (OSError, ssl.SSLError) as exc:
            raise SignInError("unavailable", f"LDAP {self.config.url}: {type(exc).__name__}: {exc}") from None

    def _server(self) -> Server:
        c = self.config
        tls = None
        if c.url.startswith("ldaps://") or c.start_tls:
            tls = Tls(ca_certs_file=c.ca_file, validate=ssl.CERT_REQUIRED, version=ssl.PROTOCOL_TLS_CLIENT)
        return Server(c.url, tls=tls, connect_timeout=c.timeout, get_info=NONE)

    def _connect(self, server: Server, user: str | None, password: str | None) -> Connection | None:
        """An open connection bound as ``user`` (anonymous when None), or None when the bind is refused."""
        conn = Connection(server, user=user, password=password, receive_timeout=max(1, math.ceil(self.config.timeout)),
                          raise_exceptions=False, auto_bind="NONE")
        conn.open()
        if self.config.start_tls and not conn.start_tls():
            conn.unbind()
            raise SignInError("unavailable", f"LDAP {self.config.url}: StartTLS refused: {conn.result}")
        if not conn.bind():
            conn.unbind()
            return None
        return conn

    def _attributes(self) -> list[str]:
        c = self.config
        names = [c.name_attribute, "cn", c.email_attribute, c.group_attribute]
        if c.affiliation_attribute:
            names.append(c.affiliation_attribute)
        return list(dict.fromkeys(names))

    def _authenticate(self, username: str, password: str) -> Identity | None:
        c, server = self.config, self._server()
        if c.bind == "direct":
            dn = (c.user_dn_template or "").format(username=escape_rdn(username))
        else:
            finder = self._connect(server, c.search_dn, c.search_password)
            if finder is None:
                raise SignInError("misconfigured", f"LDAP {c.url}: the search bind was refused")
            try:
                query = c.user_filter.format(username=escape_filter_chars(username))
                finder.search(c.base_dn, query, attributes=self._attributes(), size_limit=2)
                entries = list(finder.entries)
            finally:
                finder.unbind()
            if len(entries) != 1:
                return None
            dn = entries[0].entry_dn
        user = self._connect(server, dn, password)
        if user is None:
            return None
        try:
            user.search(dn, "(objectClass=*)", search_scope=BASE, attributes=self._attributes())
            if not user.entries:
                return None
            entry = user.entries[0]
            blocked = None
            if c.active_filter:
                user.search(dn, c.active_filter, search_scope=BASE, attributes=[])
                if not user.entries:
                    blocked = "Your library's directory lists your account as disabled."
        finally:
            user.unbind()
        return self._identity(username, dn, entry, blocked)

    def _identity(self, username: str, dn: str, entry: Any, blocked: str | None) -> Identity:
        c = self.config

        def first(name: str | None) -> str | None:
            if not name or name not in entry.entry_attributes:
                return None
            values = entry[name].values
            return str(values[0]) if values else None

        groups = tuple(str(g) for g in (entry[c.group_attribute].values
                                        if c.group_attribute in entry.entry_attributes else ()))
        kind, desks = mapped_role(groups, c.staff_groups, c.staff_desks)
        return Identity(username=username, display_name=first(c.name_attribute) or first("cn") or username,
                        email=first(c.email_attribute), affiliation=first(c.affiliation_attribute),
                        external_id=dn, source="ldap", kind=kind, desks=desks, blocked_reason=blocked,
                        groups=groups)
