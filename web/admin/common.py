"""What every console page shares: the signed session (the same cookie and CSRF token as every other
page), the actor's role checks turned into redirects and error pages, and rendering."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from admin.roles import AdminError, NotSignedIn
from catalog.context import Services
from ill import auth
from ill.access import Actor
from ill.errors import Forbidden
from web.templating import render


class ConsolePage:
    def __init__(self, request: Request, services: Services) -> None:
        self.request, self.services = request, services
        self.data = auth.load_session(services, request.cookies.get(auth.SESSION_COOKIE))
        self.fresh = self.data is None
        if self.data is None:
            self.data = auth.new_session()
        uid = self.data.get("uid")
        self.account = auth.get_account(services, uid) if isinstance(uid, int) else None
        self.actor: Actor | None = auth.actor_of(self.account) if self.account else None

    def csrf(self, token: str | None) -> None:
        try:
            auth.check_csrf(None if self.fresh else self.data, token)
        except Forbidden as exc:
            raise HTTPException(403, exc.message) from exc

    def render(self, template: str, ctx: dict[str, Any] | None = None, status: int = 200) -> Response:
        context = {"user": self.account, "actor": self.actor, "csrf_token": self.data["csrf"]}
        context.update(ctx or {})
        return self.store(render(self.request, f"admin/{template}", context, status))

    def store(self, response: Response) -> Response:
        s = self.services.settings
        response.set_cookie(auth.SESSION_COOKIE, auth.dump_session(self.services, self.data), httponly=True,
                            samesite="lax", secure=s.session_cookie_secure, max_age=s.session_max_age, path="/")
        return response

    def deny(self, check: Callable[[Actor | None], object]) -> Response | None:
        """Run a role check: None when allowed, a redirect to sign-in for nobody; a 403 page otherwise."""
        try:
            check(self.actor)
        except NotSignedIn:
            return RedirectResponse(f"/ill/login?next={quote(self.request.url.path)}", status_code=303)
        except AdminError as exc:
            raise HTTPException(exc.status, exc.message) from exc
        return None

    def redirect(self, path: str) -> Response:
        return self.store(RedirectResponse(path, status_code=303))
