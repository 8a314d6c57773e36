"""Who calls the administrators' endpoints: a bearer token, an API key with an admin scope
(``X-API-Key``), or a signed-in session (the web's cookie).

Anonymous callers get 401, signed-in accounts without a console role (patrons, desk staff) 403. A
token carries its account's role (a cataloguer's token sees only that member). An API key acts as
its scope says (:mod:`admin.keys`): ``admin`` as an administrator, ``admin:<member>`` as that
member's cataloguer; a portal's ``search`` key is refused with 403 ``insufficient_scope``. (Unknown
and revoked keys never get here: :mod:`api.access` answers them 401.)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from admin.keys import key_actor
from admin.roles import AdminError, require_admin, require_console
from api.deps import ServicesDep
from api.errors import ApiError
from catalog.context import Services
from ill import auth
from ill.access import Actor
from portals.apikeys import lookup


def caller(request: Request, services: Services, authorization: str | None) -> Actor | None:
    """The account behind a bearer token, else the scope of an API key, else the session's account, else None."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        account = auth.account_for_token(services, token.strip())
        if account is None:
            raise ApiError(401, "unauthorized", "the bearer token is unknown or expired")
        return auth.actor_of(account)
    presented = request.headers.get("x-api-key") or request.query_params.get("api_key")
    if presented:
        info = lookup(services, presented)
        if info is None or info.revoked:
            raise ApiError(401, "invalid_api_key", "the API key is not known or was revoked")
        return key_actor(info)
    data = auth.load_session(services, request.cookies.get(auth.SESSION_COOKIE))
    uid = (data or {}).get("uid")
    account = auth.get_account(services, uid) if isinstance(uid, int) else None
    return auth.actor_of(account) if account else None


def api_error(exc: AdminError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message)


def console_actor(request: Request, services: ServicesDep,
                  authorization: Annotated[str | None, Header()] = None) -> Actor:
    try:
        return require_console(caller(request, services, authorization))
    except AdminError as exc:
        raise api_error(exc) from exc


def admin_actor(actor: Annotated[Actor, Depends(console_actor)]) -> Actor:
    try:
        return require_admin(actor)
    except AdminError as exc:
        raise api_error(exc) from exc


ConsoleActor = Annotated[Actor, Depends(console_actor)]
AdminActor = Annotated[Actor, Depends(admin_actor)]
