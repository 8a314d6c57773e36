"""Who may use the administration console.

- ``admin``: the consortium administrator, everything.
- ``cataloguer``: a member's cataloguer; only that member's feeds, harvests, rejects, duplicates and
  split/merge decisions.
- ``staff`` (ILL desks) and ``patron`` have no console access.

Actors come from the shared accounts (:class:`ill.access.Actor`); these checks are the same for the
web pages and the API.
"""

from __future__ import annotations

from ill.access import Actor

ADMIN, CATALOGUER = "admin", "cataloguer"
CONSOLE_KINDS = frozenset({ADMIN, CATALOGUER})


class AdminError(Exception):
    status, code = 400, "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


class NotSignedIn(AdminError):
    status, code = 401, "unauthorized"


class NotAllowed(AdminError):
    status, code = 403, "forbidden"


class NotFound(AdminError):
    status, code = 404, "not_found"


class Conflict(AdminError):
    status, code = 409, "conflict"


class Invalid(AdminError):
    status, code = 422, "invalid_parameter"


class Unavailable(AdminError):
    """Something the action needs (the harvest queue) does not answer."""

    status, code = 503, "unavailable"


def require_console(actor: Actor | None) -> Actor:
    """Any console role; 401 for nobody, 403 for patrons and desk staff."""
    if actor is None:
        raise NotSignedIn("sign in as an administrator or a cataloguer")
    if actor.kind not in CONSOLE_KINDS:
        raise NotAllowed("this needs an administrator or a member's cataloguer")
    return actor


def require_admin(actor: Actor | None) -> Actor:
    require_console(actor)
    assert actor is not None
    if actor.kind != ADMIN:
        raise NotAllowed("this needs a consortium administrator")
    return actor


def require_member(actor: Actor | None, member_code: str) -> Actor:
    """An administrator, or a cataloguer of ``member_code``."""
    require_console(actor)
    assert actor is not None
    if actor.kind == CATALOGUER and actor.member_code != member_code:
        raise NotAllowed(f"a cataloguer of {actor.member_code} cannot act for {member_code}")
    return actor


def member_scope(actor: Actor, requested: str | None) -> str | None:
    """The member filter an actor's listing uses: an administrator's choice (None: all members);
    a cataloguer always their own member (asking for another is refused)."""
    if actor.kind == ADMIN:
        return requested
    if requested and requested != actor.member_code:
        raise NotAllowed(f"a cataloguer of {actor.member_code} cannot see {requested}")
    return actor.member_code
