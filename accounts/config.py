"""The ``auth = {...}`` table of a member in the members file: how that library's readers sign in.

The members file keeps the connector's secrets (an LDAP service password, an OIDC client secret, a
SIP2 login password); :func:`redacted` is the only view of a config that may be logged, shown or
exported, and the secret fields are left out of every ``repr``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

#: Field names that hold secrets, in any connector.
SECRET_FIELDS = frozenset({"search_password", "client_secret", "login_password", "sp_key_pem"})
KINDS = ("local", "ldap", "saml", "oidc", "sip2")
#: Connectors where the reader types a password into our own form (the others redirect to the IdP).
PASSWORD_KINDS = ("local", "ldap", "sip2")

#: eduPerson / SCHAC attribute names as federations (CARSI, eduGAIN) release them.
EDUPERSON_MAP = {
    "username": "eduPersonPrincipalName",
    "display_name": "displayName",
    "email": "mail",
    "affiliation": "eduPersonScopedAffiliation",
    "entitlement": "eduPersonEntitlement",
}


class _Auth(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    #: Seconds a connection or an answer may take before the sign-in fails as "unavailable".
    timeout: float = Field(default=5.0, gt=0, le=60)
    #: Group DNs / affiliations / claim values that make the reader desk staff (with these desks).
    staff_groups: list[str] = []
    staff_desks: list[Literal["borrowing", "lending"]] = ["borrowing"]


class LocalAuth(_Auth):
    type: Literal["local"]


class LdapAuth(_Auth):
    type: Literal["ldap"]
    url: str
    base_dn: str
    user_filter: str = "(uid={username})"
    #: "search": find the DN (anonymously or as ``search_dn``), then bind as it; "direct": bind as
    #: ``user_dn_template`` formatted with the username.
    bind: Literal["search", "direct"] = "search"
    user_dn_template: str | None = None
    search_dn: str | None = None
    search_password: str | None = Field(default=None, repr=False)
    start_tls: bool = False
    ca_file: str | None = None
    #: An extra filter the reader's entry must match, e.g. "(!(pwdAccountLockedTime=*))"; an entry
    #: that binds but does not match is a revoked account: signed in, but blocked.
    active_filter: str | None = None
    name_attribute: str = "displayName"
    email_attribute: str = "mail"
    affiliation_attribute: str | None = None
    group_attribute: str = "memberOf"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("ldap://", "ldaps://")):
            raise ValueError("must start with ldap:// or ldaps://")
        return value

    @field_validator("user_filter")
    @classmethod
    def _filter(cls, value: str) -> str:
        if "{username}" not in value:
            raise ValueError("must contain {username}")
        return value

    @model_validator(mode="after")
    def _direct_needs_template(self) -> LdapAuth:
        if self.bind == "direct" and not (self.user_dn_template and "{username}" in self.user_dn_template):
            raise ValueError("bind = 'direct' needs user_dn_template containing {username}")
        if self.start_tls and self.url.startswith("ldaps://"):
            raise ValueError("start_tls is for ldap:// URLs; ldaps:// is already TLS")
        return self


class SamlAuth(_Auth):
    type: Literal["saml"]
    #: The IdP's metadata: an https URL (fetched when the connector is first used) or a local file.
    idp_metadata_url: str | None = None
    idp_metadata_file: str | None = None
    #: PEM certificate the remote metadata must be signed with (a federation's metadata signer).
    idp_metadata_cert_file: str | None = None
    idp_entity_id: str
    attribute_map: dict[str, str] = Field(default_factory=lambda: dict(EDUPERSON_MAP))
    #: When set, the IdP must assert this eduPersonEntitlement value; without it the reader is blocked.
    required_entitlement: str | None = None
    #: PEM files of the SP's key and certificate (signs AuthnRequests, decrypts assertions).
    sp_key_file: str | None = None
    sp_cert_file: str | None = None
    want_assertions_encrypted: bool = False
    #: Accepted clock difference with the IdP, seconds.
    clock_skew: int = Field(default=60, ge=0, le=600)

    @model_validator(mode="after")
    def _metadata(self) -> SamlAuth:
        if bool(self.idp_metadata_url) == bool(self.idp_metadata_file):
            raise ValueError("give exactly one of idp_metadata_url or idp_metadata_file")
        if bool(self.sp_key_file) != bool(self.sp_cert_file):
            raise ValueError("sp_key_file and sp_cert_file go together")
        return self


class OidcAuth(_Auth):
    type: Literal["oidc"]
    issuer: str
    client_id: str
    client_secret: str = Field(repr=False)
    scopes: list[str] = ["openid", "profile", "email"]
    claim_map: dict[str, str] = Field(default_factory=lambda: {
        "username": "preferred_username", "display_name": "name", "email": "email", "affiliation": "affiliation"})
    #: The claim whose values are compared with ``staff_groups`` (e.g. "groups" or "roles").
    groups_claim: str = "groups"
    clock_skew: int = Field(default=60, ge=0, le=600)

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")


class Sip2Auth(_Auth):
    type: Literal["sip2"]
    host: str
    port: int = Field(default=6001, ge=1, le=65535)
    #: The SC login (message 93) some ILSs need before patron messages; leave empty if none.
    login_user: str | None = None
    login_password: str | None = Field(default=None, repr=False)
    location_code: str = ""
    institution_id: str = ""
    tls: bool = False
    ca_file: str | None = None
    #: "63" Patron Information (default) or "23" Patron Status.
    message: Literal["63", "23"] = "63"
    encoding: str = "cp850"
    field_delimiter: str = Field(default="|", min_length=1, max_length=1)
    checksum: bool = True


AuthConfig = Annotated[LocalAuth | LdapAuth | SamlAuth | OidcAuth | Sip2Auth, Field(discriminator="type")]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(AuthConfig)


def parse_auth(raw: object) -> LocalAuth | LdapAuth | SamlAuth | OidcAuth | Sip2Auth:
    """Validate one member's ``auth`` table (raises pydantic's ValidationError)."""
    return _ADAPTER.validate_python(raw)


def auth_of(member_config: dict[str, Any] | None) -> LocalAuth | LdapAuth | SamlAuth | OidcAuth | Sip2Auth:
    """The member's connector; members without an ``auth`` table keep local accounts."""
    raw = (member_config or {}).get("auth") or {"type": "local"}
    return parse_auth(raw)


def redacted(raw: dict[str, Any]) -> dict[str, Any]:
    """The config with every secret replaced by ``"(set)"``: safe for logs, pages and exports."""
    return {k: ("(set)" if k in SECRET_FIELDS and v else v) for k, v in raw.items()}
