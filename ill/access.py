"""Who may see and do what. The same rules serve the pages, the API and the ISO 18626 endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, or_, select

from ill.errors import Forbidden, NotFound
from ill.models import IllRequest, RotaEntry
from ill.states import Transition


@dataclass(frozen=True)
class Actor:
    """The one acting: an account (patron/staff/admin), a peer system, or the worker (``system``)."""

    kind: str  # patron | staff | admin | cataloguer (of member_code) | peer | system
    name: str
    member_code: str | None = None
    account_id: int | None = None
    desks: frozenset[str] = field(default_factory=frozenset)
    #: Set while the home library blocks the reader: they see their requests but place no new ones.
    blocked_reason: str | None = None

    @property
    def label(self) -> str:
        """What the audit trail records."""
        return f"{self.kind}:{self.member_code or '-'}:{self.name}"


SYSTEM = Actor(kind="system", name="worker")


def roles_for(actor: Actor, req: IllRequest) -> set[str]:
    """The roles ``actor`` holds on this request (see :data:`ill.states.ROLES`)."""
    if actor.kind == "system":
        return {"system"}
    roles: set[str] = set()
    if actor.kind == "patron" and req.patron_id is not None and req.patron_id == actor.account_id:
        roles.add("patron")
    if actor.kind == "staff":
        if "borrowing" in actor.desks and actor.member_code == req.borrower_code:
            roles.add("borrowing")
        if "lending" in actor.desks and req.lender_code and actor.member_code == req.lender_code:
            roles.add("lending")
    if actor.kind == "peer" and actor.member_code in (req.borrower_code, req.lender_code):
        roles.add("peer")
    return roles


def may_take(actor: Actor, req: IllRequest, t: Transition) -> bool:
    roles = roles_for(actor, req)
    if "peer" in roles:
        # A peer speaks for one side only: the lender answers, the borrower acts.
        side_ok = (t.side == "supplier" and actor.member_code == req.lender_code) or (
            t.side == "requester" and actor.member_code == req.borrower_code)
        if not side_ok:
            roles.discard("peer")
    return bool(t.actors & roles)


def visible(actor: Actor) -> Select[tuple[IllRequest]]:
    """A query of the requests ``actor`` may see (patrons: their own; staff: their member's both sides)."""
    q = select(IllRequest)
    if actor.kind in ("admin", "system"):
        return q
    if actor.kind == "patron":
        return q.where(IllRequest.patron_id == actor.account_id)
    if actor.kind in ("staff", "peer") and actor.member_code:
        asked = select(RotaEntry.request_id).where(
            RotaEntry.member_code == actor.member_code, RotaEntry.outcome != "pending")
        return q.where(or_(IllRequest.borrower_code == actor.member_code,
                           IllRequest.lender_code == actor.member_code, IllRequest.id.in_(asked)))
    return q.where(IllRequest.id < 0)


def can_view(actor: Actor, req: IllRequest) -> bool:
    if actor.kind in ("admin", "system"):
        return True
    if actor.kind == "patron":
        return req.patron_id is not None and req.patron_id == actor.account_id
    if actor.member_code in (req.borrower_code, req.lender_code):
        return True
    return any(e.member_code == actor.member_code and e.outcome != "pending" for e in req.rota)


def require_view(actor: Actor, req: IllRequest | None) -> IllRequest:
    """Unknown and invisible look the same (a patron cannot probe other patrons' request numbers)."""
    if req is None or not can_view(actor, req):
        raise NotFound("no such request")
    return req


def require_staff(actor: Actor, member_code: str, desk: str) -> None:
    if actor.kind == "admin":
        return
    if actor.kind != "staff" or actor.member_code != member_code or desk not in actor.desks:
        raise Forbidden(f"not on the {desk} desk of {member_code}")
