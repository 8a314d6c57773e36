"""Sign-in at the reader's own library (SAML 2.0, OpenID Connect): the redirect out, the way back, the SP
metadata. Thin: the protocols live in :mod:`accounts.saml` and :mod:`accounts.oidc`.

The round trip's secrets (AuthnRequest id, OIDC state/nonce/PKCE verifier, where to go afterwards) ride in
their own signed cookie, ``SameSite=None`` when cookies are secure, because a SAML IdP comes back with a
cross-site POST that would not carry the ``Lax`` session cookie.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from accounts import oidc, saml
from accounts.config import OidcAuth, SamlAuth, auth_of
from accounts.identity import SignInError
from accounts.service import complete_sso
from accounts.sessions import dump_session, load_session
from api.deps import ServicesDep
from catalog.context import Services
from ill import auth
from store.models import Member
from web import signin
from web.ill_pages import Page, _safe_next

router = APIRouter(prefix="/ill/login", include_in_schema=False)
log = logging.getLogger("unicat.signin")
ROUND_TRIP_COOKIE = "unicat_sso"
ROUND_TRIP_MAX_AGE = 600


def _config(services: Services, code: str) -> Any:
    with services.db() as session:
        member = session.get(Member, code)
        if member is None:
            raise SignInError("rejected", f"unknown member {code!r}")
        try:
            return auth_of(member.config)
        except ValueError as exc:
            raise SignInError("misconfigured", f"member {code}: auth: {exc}") from None


def _failed(page: Page, services: Services, exc: SignInError, code: str | None, next_url: str) -> Response:
    ctx = signin.login_context(services, next_url, None, code)
    response = page.render("login.html", {**ctx, "signin_error": exc.message}, signin.STATUS[exc.code])
    response.delete_cookie(ROUND_TRIP_COOKIE, path="/ill/login")
    return response


def _with_round_trip(services: Services, response: Response, data: dict[str, Any]) -> Response:
    secure = services.settings.session_cookie_secure
    response.set_cookie(ROUND_TRIP_COOKIE, dump_session(services, {"csrf": "-", **data}), httponly=True,
                        secure=secure, samesite="none" if secure else "lax", max_age=ROUND_TRIP_MAX_AGE,
                        path="/ill/login")
    return response


def _round_trip(services: Services, request: Request) -> dict[str, Any]:
    data = load_session(services, request.cookies.get(ROUND_TRIP_COOKIE))
    return data or {}


def _signed_in(page: Page, account_id: int, next_url: str, extra: dict[str, Any]) -> Response:
    page.data = auth.new_session(account_id, **extra)  # a new session and CSRF token at every sign-in
    response = page.store(RedirectResponse(next_url, status_code=303))
    response.delete_cookie(ROUND_TRIP_COOKIE, path="/ill/login")
    return response


@router.get("/{code}/start")
def start(request: Request, services: ServicesDep, code: str, next: str | None = None) -> Response:
    page, next_url = Page(request, services), _safe_next(next)
    try:
        config = _config(services, code)
        public = services.settings.sso_public_url
        if isinstance(config, SamlAuth):
            request_id, url = saml.start(code, config, public)
            return _with_round_trip(services, RedirectResponse(url, status_code=303),
                                    {"member": code, "saml_req": request_id, "next": next_url})
        if isinstance(config, OidcAuth):
            url, secrets = oidc.start(code, config, public)
            return _with_round_trip(services, RedirectResponse(url, status_code=303),
                                    {"member": code, "next": next_url, **secrets})
        return RedirectResponse(f"/ill/login?member={code}#signin-form", status_code=303)
    except SignInError as exc:
        return _failed(page, services, exc, code, next_url)


@router.post("/{code}/saml/acs")
def saml_acs(request: Request, services: ServicesDep, code: str,
             SAMLResponse: Annotated[str, Form()] = "") -> Response:  # noqa: N803 - the binding's name
    page, trip = Page(request, services), _round_trip(services, request)
    next_url = _safe_next(trip.get("next"))
    request_id = trip.get("saml_req") if trip.get("member") == code else None
    public = services.settings.sso_public_url
    client = request.client.host if request.client else "-"
    try:
        account, logout = complete_sso(services, code, lambda session, member, config: saml.finish(
            session, code, _expect(config, SamlAuth), public, SAMLResponse, request_id), client)
    except SignInError as exc:
        return _failed(page, services, exc, code, next_url)
    return _signed_in(page, account.id, next_url, {"sso": "saml", "member": code, **logout})


@router.get("/{code}/saml/sls")
def saml_sls(request: Request, services: ServicesDep, code: str, SAMLResponse: str = "") -> Response:  # noqa: N803
    """The IdP's answer to our LogoutRequest: the local session already ended, so only log the outcome."""
    try:
        config = _expect(_config(services, code), SamlAuth)
        saml.logout_finished(code, config, services.settings.sso_public_url, SAMLResponse)
    except SignInError as exc:
        log.warning("SAML single logout answer for %s not accepted: %s", code, exc.detail)
    return RedirectResponse("/ill/login?signed_out=1", status_code=303)


@router.get("/{code}/saml/metadata.xml")
def saml_metadata(services: ServicesDep, code: str) -> Response:
    try:
        config = _expect(_config(services, code), SamlAuth)
    except SignInError as exc:
        return Response(exc.message, status_code=404, media_type="text/plain")
    xml = saml.sp_metadata(code, config, services.settings.sso_public_url)
    return Response(xml, media_type="application/samlmetadata+xml")


@router.get("/{code}/oidc/callback")
def oidc_callback(request: Request, services: ServicesDep, code: str, state: str = "", error: str = "") -> Response:
    page, trip = Page(request, services), _round_trip(services, request)
    next_url = _safe_next(trip.get("next"))
    public = services.settings.sso_public_url
    client = request.client.host if request.client else "-"
    try:
        if error:
            raise SignInError("rejected", f"OIDC provider answered error={error[:80]}")
        if trip.get("member") != code:
            raise SignInError("rejected", "OIDC callback without a round trip started here")
        account, _ = complete_sso(services, code, lambda session, member, config: oidc.finish(
            session, code, _expect(config, OidcAuth), public, str(request.url), state, trip), client)
    except SignInError as exc:
        return _failed(page, services, exc, code, next_url)
    return _signed_in(page, account.id, next_url, {"sso": "oidc", "member": code})


def _expect(config: Any, kind: type) -> Any:
    if not isinstance(config, kind):
        raise SignInError("misconfigured", f"this member does not sign in with {kind.__name__}")
    return config
