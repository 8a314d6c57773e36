"""The signed browser session every signed-in page shares (ILL pages and the administration console):
one cookie, one CSRF token, one account and its actor."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import Response

from catalog.context import Services
from ill import auth
from ill.access import Actor
from ill.errors import Forbidden
from ill.models import IllAccount
from web.templating import render


class SessionPage:
    """Loads (or starts) the session from the request; renders templates under ``template_dir`` and
    writes the session cookie back on every response it hands out."""

    template_dir = ""

    def __init__(self, request: Request, services: Services) -> None:
        self.request, self.services = request, services
        self.data = auth.load_session(services, request.cookies.get(auth.SESSION_COOKIE))
        self.fresh = self.data is None
        if self.data is None:
            self.data = auth.new_session()
        uid = self.data.get("uid")
        self.account: IllAccount | None = auth.get_account(services, uid) if isinstance(uid, int) else None
        self.actor: Actor | None = auth.actor_of(self.account) if self.account else None

    def csrf(self, token: str | None) -> None:
        try:
            auth.check_csrf(None if self.fresh else self.data, token)
        except Forbidden as exc:
            raise HTTPException(403, exc.message) from exc

    def context(self) -> dict[str, Any]:
        """What every template of this kind of page may use."""
        return {"user": self.account, "actor": self.actor, "csrf_token": self.data["csrf"]}

    def render(self, template: str, ctx: dict[str, Any] | None = None, status: int = 200) -> Response:
        context = self.context()
        context.update(ctx or {})
        return self.store(render(self.request, f"{self.template_dir}/{template}", context, status))

    def store(self, response: Response) -> Response:
        s = self.services.settings
        response.set_cookie(auth.SESSION_COOKIE, auth.dump_session(self.services, self.data), httponly=True,
                            samesite="lax", secure=s.session_cookie_secure, max_age=s.session_max_age, path="/")
        return response
