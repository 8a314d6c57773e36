"""The request life cycle as data, after ISO 18626.

A request has one state, seen from the borrowing side; the current lender's last ISO 18626
supplier status is kept beside it. Each :class:`Transition` says who may take it, from which states
to which, and which ISO 18626 status (supplier side) or action (requester side) it corresponds to.
The target :data:`FORWARD` means "to the next lender of the rota, or ``unfilled`` when none is left".
"""

from __future__ import annotations

from dataclasses import dataclass, field

FORWARD = "->next"

#: Requester-side states, in their usual order.
STATES = (
    "submitted", "sent", "will_supply", "conditional", "shipped", "copy_delivered", "received",
    "overdue", "recalled", "renew_requested", "returned", "completed", "unfilled", "cancelled",
    "cancel_requested",
)
TERMINAL = frozenset({"completed", "unfilled", "cancelled"})
#: States in which the request waits for the current lender's first answer (the response window runs).
AWAITING_LENDER = frozenset({"sent"})
#: States counted as the lender's open lending queue (its load).
OPEN_LENDING = frozenset({"sent", "will_supply", "conditional", "shipped", "received", "overdue",
                          "recalled", "renew_requested", "returned", "cancel_requested"})
#: States in which the lender has not yet shipped: a Cancel is still accepted (CancelResponse Y).
CANCELLABLE = frozenset({"submitted", "sent", "will_supply", "conditional"})

#: ISO 18626 closed code lists (type_status, type_action) and the open reasonUnfilled list we offer.
ISO_SUPPLIER_STATUSES = (
    "RequestReceived", "ExpectToSupply", "WillSupply", "Loaned", "Overdue", "Recalled", "RetryPossible",
    "Unfilled", "CopyCompleted", "LoanCompleted", "CompletedWithoutReturn", "Cancelled",
)
ISO_REQUESTER_ACTIONS = ("StatusRequest", "Received", "Cancel", "Renew", "ShippedReturn", "Notification")
REASONS_UNFILLED = (
    "NotOnShelf", "NonCirculating", "PolicyProblem", "NotHeld", "OnLoan", "PoorCondition",
    "NotAvailableForILL", "Charges", "Other",
)

#: Who acts: a patron, a member's borrowing or lending desk, a peer system (ISO 18626), the worker.
ROLES = frozenset({"patron", "borrowing", "lending", "peer", "system"})


@dataclass(frozen=True)
class Transition:
    name: str
    side: str  # "requester" | "supplier" | "system"
    moves: dict[str, str]  # from state -> to state (or FORWARD)
    actors: frozenset[str]
    iso: str | None = None
    services: frozenset[str] = field(default_factory=lambda: frozenset({"loan", "copy"}))
    needs_reason: bool = False

    def target(self, state: str) -> str | None:
        return self.moves.get(state)


def _t(name: str, side: str, moves: dict[str, str], actors: str, iso: str | None = None,
       services: str = "loan copy", needs_reason: bool = False) -> Transition:
    return Transition(name, side, moves, frozenset(actors.split()), iso, frozenset(services.split()), needs_reason)


_SUPPLIER = "lending peer"
_REQUESTER = "borrowing peer"

TRANSITIONS: dict[str, Transition] = {t.name: t for t in (
    # The worker: first send, and moving on when the response window passes.
    _t("route", "system", {"submitted": FORWARD}, "system"),
    _t("timeout", "system", {"sent": FORWARD}, "system"),
    # Supplier answers (ISO 18626 supplyingAgencyMessage statuses).
    _t("expect_to_supply", "supplier", {"sent": "will_supply"}, _SUPPLIER, "ExpectToSupply"),
    _t("will_supply", "supplier", {"sent": "will_supply"}, _SUPPLIER, "WillSupply"),
    _t("conditional", "supplier", {"sent": "conditional", "will_supply": "conditional"}, _SUPPLIER,
       "RetryPossible"),
    _t("unfilled", "supplier", {"sent": FORWARD, "will_supply": FORWARD, "conditional": FORWARD}, _SUPPLIER,
       "Unfilled", needs_reason=True),
    _t("loaned", "supplier", {"sent": "shipped", "will_supply": "shipped", "cancel_requested": "shipped"},
       _SUPPLIER, "Loaned", "loan"),
    _t("copy_completed", "supplier", {"sent": "copy_delivered", "will_supply": "copy_delivered",
                                      "cancel_requested": "copy_delivered"}, _SUPPLIER, "CopyCompleted", "copy"),
    # A peer lender's CancelResponse to our Cancel: Y ends the request, N means it goes on.
    # (a borrowing desk may also record it, when the lender confirmed the cancel some other way)
    _t("cancel_accepted", "supplier", {"cancel_requested": "cancelled"}, "peer borrowing", "Cancelled"),
    _t("cancel_refused", "supplier", {"cancel_requested": "will_supply"}, "peer", "WillSupply"),
    _t("overdue", "supplier", {"received": "overdue", "renew_requested": "overdue"}, "lending peer system",
       "Overdue", "loan"),
    _t("recalled", "supplier", {"received": "recalled", "overdue": "recalled", "renew_requested": "recalled"},
       _SUPPLIER, "Recalled", "loan"),
    _t("renew_granted", "supplier", {"renew_requested": "received"}, _SUPPLIER, "Loaned", "loan"),
    _t("renew_denied", "supplier", {"renew_requested": "received"}, _SUPPLIER, "Loaned", "loan"),
    _t("loan_completed", "supplier", {"returned": "completed"}, _SUPPLIER, "LoanCompleted", "loan"),
    # Requester actions (ISO 18626 requestingAgencyMessage actions).
    _t("accept_condition", "requester", {"conditional": "will_supply"}, "patron borrowing peer", "Notification"),
    _t("reject_condition", "requester", {"conditional": FORWARD}, "patron borrowing peer", "Cancel"),
    _t("received", "requester", {"shipped": "received", "copy_delivered": "completed"}, "patron borrowing peer",
       "Received"),
    _t("renew", "requester", {"received": "renew_requested", "overdue": "renew_requested"}, _REQUESTER,
       "Renew", "loan"),
    _t("shipped_return", "requester", {"received": "returned", "overdue": "returned", "recalled": "returned",
                                       "renew_requested": "returned"}, _REQUESTER, "ShippedReturn", "loan"),
    _t("cancel", "requester", {"submitted": "cancelled", "sent": "cancelled", "will_supply": "cancelled",
                               "conditional": "cancelled"}, "patron borrowing peer", "Cancel"),
    # A peer borrower's Retry request (requestType Retry) continues its conditional request with us.
    _t("retry_received", "requester", {"conditional": "sent"}, "peer"),
)}

#: A supplier's ISO 18626 status -> our transition name (for inbound supplyingAgencyMessages).
BY_ISO_STATUS = {"ExpectToSupply": "expect_to_supply", "WillSupply": "will_supply", "RetryPossible": "conditional",
                 "Unfilled": "unfilled", "Loaned": "loaned", "CopyCompleted": "copy_completed",
                 "Overdue": "overdue", "Recalled": "recalled", "LoanCompleted": "loan_completed"}
#: A requester's ISO 18626 action -> our transition name (for inbound requestingAgencyMessages).
BY_ISO_ACTION = {"Received": "received", "Cancel": "cancel", "Renew": "renew", "ShippedReturn": "shipped_return",
                 "Notification": "accept_condition"}


def allowed(state: str, service: str, roles: set[str] | frozenset[str], side: str | None = None) -> list[Transition]:
    """The transitions these roles may take from ``state`` (what a page offers as buttons)."""
    return [t for t in TRANSITIONS.values()
            if state in t.moves and service in t.services and t.actors & roles and (side is None or t.side == side)]


def check() -> None:
    """Consistency of the table itself (run by the tests)."""
    for t in TRANSITIONS.values():
        assert t.actors <= ROLES, t.name
        for src, dst in t.moves.items():
            assert src in STATES and src not in TERMINAL, (t.name, src)
            assert dst == FORWARD or dst in STATES, (t.name, dst)
        if t.side == "supplier" and t.iso:
            assert t.iso in ISO_SUPPLIER_STATUSES, t.name
        if t.side == "requester" and t.iso:
            assert t.iso in ISO_REQUESTER_ACTIONS, t.name
