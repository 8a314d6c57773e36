"""SAML 2.0 service provider per member (pysaml2): signed AuthnRequests over HTTP-Redirect, assertions
over HTTP-POST that must be signed (and may be encrypted to our key), eduPerson attributes mapped to the
account, SP metadata for the federation (CARSI, eduGAIN, a campus Shibboleth IdP).

Replay is refused twice over: the AuthnRequest id must be the one this browser's session started (and is
forgotten once used), and every accepted assertion id is kept until it expires (``account_used_assertion``),
so the same assertion is refused by any worker.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.ident import code, decode
from saml2.metadata import create_metadata_string
from saml2.sigver import SignatureError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.config import SamlAuth
from accounts.identity import Identity, SignInError
from accounts.models import UsedAssertion
from accounts.roles import mapped_role

log = logging.getLogger("unicat.signin")
XMLSEC = "/usr/bin/xmlsec1"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


def sp_urls(public_url: str, member_code: str) -> dict[str, str]:
    base = f"{public_url.rstrip('/')}/ill/login/{member_code}/saml"
    return {"entity_id": f"{base}/metadata.xml", "acs": f"{base}/acs", "sls": f"{base}/sls"}


def _sp_config(member_code: str, config: SamlAuth, public_url: str, with_idp: bool) -> SPConfig:
    urls = sp_urls(public_url, member_code)
    keys = {}
    if config.sp_key_file and config.sp_cert_file:
        keys = {"key_file": config.sp_key_file, "cert_file": config.sp_cert_file,
                "encryption_keypairs": [{"key_file": config.sp_key_file, "cert_file": config.sp_cert_file}]}
    raw: dict[str, Any] = {
        "entityid": urls["entity_id"], "xmlsec_binary": XMLSEC, "allow_unknown_attributes": True,
        "accepted_time_diff": config.clock_skew, "http_client_timeout": config.timeout, **keys,
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(urls["acs"], BINDING_HTTP_POST)],
                          "single_logout_service": [(urls["sls"], BINDING_HTTP_REDIRECT)]},
            "authn_requests_signed": bool(keys), "want_assertions_signed": True, "want_response_signed": False,
            "want_assertions_or_response_signed": True, "allow_unsolicited": False,
            "name_id_format": TRANSIENT, "idp": [config.idp_entity_id]}},
    }
    if with_idp:
        remote: dict[str, Any] = {"url": config.idp_metadata_url}
        if config.idp_metadata_cert_file:
            remote["cert"] = config.idp_metadata_cert_file
        source = {"remote": [remote]} if config.idp_metadata_url else {"local": [config.idp_metadata_file]}
        raw["metadata"] = source
    cfg = SPConfig()
    cfg.load(raw)
    return cfg


def sp_metadata(member_code: str, config: SamlAuth, public_url: str) -> str:
    """The SP's metadata XML, for the federation or the IdP to register."""
    xml = create_metadata_string(None, config=_sp_config(member_code, config, public_url, with_idp=False))
    return xml.decode("utf-8") if isinstance(xml, bytes) else str(xml)


@lru_cache(maxsize=64)
def _client(member_code: str, config_json: str, public_url: str) -> Saml2Client:
    config = SamlAuth.model_validate_json(config_json)
    return Saml2Client(_sp_config(member_code, config, public_url, with_idp=True))


def client(member_code: str, config: SamlAuth, public_url: str) -> Saml2Client:
    """The member's SP (IdP metadata fetched once per process and config)."""
    try:
        return _client(member_code, config.model_dump_json(), public_url)
    except Exception as exc:  # pysaml2 raises many kinds while fetching or reading IdP metadata
        raise SignInError("unavailable", f"SAML {member_code}: IdP metadata unusable: "
                                         f"{type(exc).__name__}: {exc}") from None


def start(member_code: str, config: SamlAuth, public_url: str) -> tuple[str, str]:
    """``(request_id, url)``: the signed AuthnRequest as a redirect to the IdP."""
    sp = client(member_code, config, public_url)
    try:
        request_id, info = sp.prepare_for_authenticate(
            entityid=config.idp_entity_id, relay_state=member_code, binding=BINDING_HTTP_REDIRECT,
            sign=bool(config.sp_key_file), sigalg=RSA_SHA256 if config.sp_key_file else None)
    except Exception as exc:
        raise SignInError("misconfigured", f"SAML {member_code}: cannot build the AuthnRequest: {exc}") from None
    return str(request_id), dict(info["headers"])["Location"]


def finish(session: Session, member_code: str, config: SamlAuth, public_url: str, saml_response: str,
           request_id: str | None) -> Identity:
    """Verify the IdP's answer to *our* outstanding request and map its attributes, or SignInError."""
    if not request_id:
        raise SignInError("rejected", "SAML response without an outstanding request in this session")
    sp = client(member_code, config, public_url)
    try:
        response = sp.parse_authn_request_response(saml_response, BINDING_HTTP_POST,
                                                   outstanding={request_id: member_code})
    except SignatureError as exc:
        raise SignInError("rejected", f"SAML signature: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # pysaml2 signals every other bad response with its own exception types
        raise SignInError("rejected", f"SAML response refused: {type(exc).__name__}: {exc}") from None
    if response is None or response.assertion is None:
        raise SignInError("rejected", "SAML response without an assertion")
    _remember(session, response)
    identity = _identity(config, response.get_identity(), str(response.name_id.text if response.name_id else ""))
    statements = response.assertion.authn_statement or []
    index = statements[0].session_index if statements else None
    logout = {"saml_nameid": code(response.name_id), "saml_session_index": index} if response.name_id else {}
    return replace(identity, logout=logout)


def logout_url(member_code: str, config: SamlAuth, public_url: str, data: dict[str, Any]) -> str | None:
    """Where to send the browser for SAML single logout at the IdP (a signed LogoutRequest), or None when
    the IdP offers no SLO or the session holds no SAML subject."""
    if not data.get("saml_nameid"):
        return None
    try:
        sp = client(member_code, config, public_url)
        services = sp.metadata.single_logout_service(config.idp_entity_id, BINDING_HTTP_REDIRECT, "idpsso")
        if not services:
            return None
        destination = services[0]["location"]
        sign = bool(config.sp_key_file)
        request_id, request = sp.create_logout_request(
            destination, config.idp_entity_id, name_id=decode(data["saml_nameid"]),
            session_indexes=[data["saml_session_index"]] if data.get("saml_session_index") else None)
        info = sp.apply_binding(BINDING_HTTP_REDIRECT, str(request), destination, relay_state=member_code,
                                sign=sign, sigalg=RSA_SHA256 if sign else None)
        return str(dict(info["headers"])["Location"])
    except Exception as exc:  # the local sign-out has happened; a failed SLO must not stop it
        log.warning("SAML single logout not possible for %s: %s: %s", member_code, type(exc).__name__, exc)
        return None


def logout_finished(member_code: str, config: SamlAuth, public_url: str, saml_response: str) -> None:
    """Check the IdP's LogoutResponse (SignInError("rejected") when it does not verify or says no)."""
    sp = client(member_code, config, public_url)
    try:
        answer = sp.parse_logout_request_response(saml_response, BINDING_HTTP_REDIRECT)
    except Exception as exc:
        raise SignInError("rejected", f"SAML LogoutResponse refused: {type(exc).__name__}: {exc}") from None
    if answer is None or not answer.status_ok():
        raise SignInError("rejected", "SAML LogoutResponse without success status")


def _remember(session: Session, response: Any) -> None:
    assertion = response.assertion
    key = "saml:" + hashlib.sha256(f"{response.issuer()}|{assertion.id}".encode()).hexdigest()
    not_after = response.not_on_or_after or 0
    expires = datetime.fromtimestamp(not_after, UTC) if not_after else datetime.now(UTC) + timedelta(hours=1)
    if session.get(UsedAssertion, key) is not None:
        raise SignInError("rejected", f"SAML assertion {assertion.id} was already used (replay)")
    session.query(UsedAssertion).filter(UsedAssertion.expires_at < datetime.now(UTC)).delete()
    session.add(UsedAssertion(key=key, expires_at=expires))
    try:
        session.flush()
    except IntegrityError:
        raise SignInError("rejected", f"SAML assertion {assertion.id} was already used (replay)") from None


def _identity(config: SamlAuth, attributes: dict[str, list[str]], name_id: str) -> Identity:
    amap = config.attribute_map

    def values(field: str) -> list[str]:
        return [str(v) for v in attributes.get(amap.get(field, ""), [])]

    username = (values("username") or [name_id])[0]
    if not username:
        raise SignInError("rejected", f"SAML assertion lacks {amap.get('username')}")
    affiliations = values("affiliation")
    entitlements = values("entitlement")
    blocked = None
    if config.required_entitlement and config.required_entitlement not in entitlements:
        blocked = "Your library no longer confirms your right to use interlibrary loan."
    kind, desks = mapped_role(affiliations + entitlements, config.staff_groups, config.staff_desks)
    log.info("SAML attributes received: %s", json.dumps(sorted(attributes)))
    return Identity(username=username, display_name=(values("display_name") or [username])[0],
                    email=(values("email") or [None])[0], affiliation=", ".join(affiliations)[:255] or None,
                    external_id=username, source="saml", kind=kind, desks=desks, blocked_reason=blocked,
                    groups=tuple(affiliations + entitlements))
