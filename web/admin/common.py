"""What every console page shares: the signed session (the same cookie and CSRF token as every other
page), the actor's role checks turned into redirects and error pages, and rendering."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fastapi import HTTPException
from fastapi.responses import RedirectResponse, Response

from admin.roles import AdminError, NotSignedIn
from ill.access import Actor
from web.session import SessionPage


class ConsolePage(SessionPage):
    """A console page: the shared session, admin templates, and role checks as redirects or 403s."""

    template_dir = "admin"

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
