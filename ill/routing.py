"""The rota: which members to ask, in which order, and why. A pure function over plain data.

Order (after ReShare's loan:borrow score and OCLC's queue-aware lender strings):

1. never the borrower itself; skip members that do not lend this format or service, are closed today
   (holiday calendar), have lending switched off or have reached their open-lending limit, and members
   whose live availability says no copy is available now, and members whose fee is above the most the
   patron will pay;
2. copies reported available first, then "maybe" (availability unknown or the peer did not answer);
3. the borrower's own region first, then the other regions (the three-tier structure: local
   consortium, region, nation);
4. among equals the lowest lending-to-borrowing ratio, then the shortest open lending queue, so the big
   libraries do not carry the network; the member code breaks the last ties (deterministic rotas).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ill.money import format_money


@dataclass(frozen=True)
class LenderPolicy:
    member: str
    lending_enabled: bool = True
    lends_formats: frozenset[str] = frozenset()  # empty: every format
    services: frozenset[str] = frozenset({"loan", "copy"})
    max_open_lending: int = 50
    holidays: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Load:
    lent: int = 0  # filled lending requests (recent period)
    borrowed: int = 0  # filled borrowing requests (same period)
    open_lending: int = 0  # requests now in the lender's queue

    @property
    def ratio(self) -> float:
        """Lending-to-borrowing ratio, smoothed so that new members are comparable."""
        return (self.lent + 1) / (self.borrowed + 1)


@dataclass(frozen=True)
class RotaPick:
    member: str
    availability: str  # available | maybe
    reason: str


@dataclass(frozen=True)
class Skip:
    member: str
    reason: str


@dataclass
class Rota:
    picks: list[RotaPick] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)


def availability_of(entry: Mapping[str, Any] | None) -> str:
    """``available`` | ``maybe`` | ``none`` from one member's live availability answer."""
    if entry is None or entry.get("state") != "ok":
        return "maybe"
    items = entry.get("items") or []
    if any(i.get("status") == "available" and i.get("requestable", True) for i in items):
        return "available"
    if all(i.get("status", "unknown") == "unknown" for i in items):
        return "maybe"  # no item data, or statuses nobody could read: nothing says "no copy"
    return "none"


def build_rota(
    *,
    borrower: str,
    borrower_region: str,
    record_format: str,
    service: str,
    holdings: Iterable[Mapping[str, Any]],
    availability: Iterable[Mapping[str, Any]],
    policies: Mapping[str, LenderPolicy],
    loads: Mapping[str, Load],
    today: date,
    fees: Mapping[str, int] | None = None,
    max_cost_cents: int | None = None,
    currencies: Mapping[str, str] | None = None,
) -> Rota:
    """Order the holding members of one union record into a rota (see the module docstring)."""
    live = {a["member"]: a for a in availability}
    rota = Rota()
    ranked: list[tuple[tuple[Any, ...], RotaPick]] = []
    seen: set[str] = set()
    for holding in holdings:
        member = holding["member"]
        if member in seen:
            continue
        seen.add(member)
        if member == borrower:
            continue
        policy = policies.get(member, LenderPolicy(member))
        load = loads.get(member, Load())
        skip = _skip_reason(policy, load, record_format, service, today)
        fee = (fees or {}).get(member, 0)
        if skip is None and max_cost_cents is not None and fee > max_cost_cents:
            skip = f"fee {format_money(fee, (currencies or {}).get(member, 'CNY'))} above the most the patron will pay"
        avail = availability_of(live.get(member))
        if skip is None and avail == "none":
            skip = "no copy available now"
        if skip:
            rota.skipped.append(Skip(member, skip))
            continue
        region = holding.get("region") or ""
        same_region = region == borrower_region
        key = (avail != "available", not same_region, round(load.ratio, 6), load.open_lending, member)
        reason = (
            f"{'available' if avail == 'available' else 'availability unknown'}; "
            f"{'same region' if same_region else 'other region'} ({region or '?'}); "
            f"lent {load.lent} / borrowed {load.borrowed} (ratio {load.ratio:.2f}); "
            f"{load.open_lending} open in lending queue"
        )
        ranked.append((key, RotaPick(member, avail, reason)))
    ranked.sort(key=lambda pair: pair[0])
    rota.picks = [pick for _, pick in ranked]
    return rota


def _skip_reason(policy: LenderPolicy, load: Load, record_format: str, service: str, today: date) -> str | None:
    if not policy.lending_enabled:
        return "does not lend through the network"
    if policy.lends_formats and record_format not in policy.lends_formats:
        return f"does not lend format {record_format}"
    if service not in policy.services:
        return f"does not supply {service}"
    if today in policy.holidays:
        return "closed today (holiday)"
    if load.open_lending >= policy.max_open_lending:
        return f"lending limit reached ({load.open_lending}/{policy.max_open_lending})"
    return None
