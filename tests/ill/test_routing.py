"""Rota order for a crafted consortium: regions, availability, load, policies (pure, no database)."""

from __future__ import annotations

from datetime import date

from ill.routing import LenderPolicy, Load, build_rota

TODAY = date(2026, 3, 2)
HOLDERS = {"A": "north", "B": "north", "C": "north", "D": "east", "E": "east", "F": "west"}


def holdings(*codes: str) -> list[dict[str, str]]:
    return [{"member": c, "region": HOLDERS[c]} for c in codes]


def live(**states: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for member, status in states.items():
        if status == "unknown":
            out.append({"member": member, "state": "unknown", "items": []})
        else:
            out.append({"member": member, "state": "ok", "items": [{"status": status, "requestable": True}]})
    return out


def rota(**kw: object) -> list[str]:
    args: dict[str, object] = dict(borrower="A", borrower_region="north", record_format="book", service="loan",
                                   holdings=holdings("A", "B", "C", "D", "E", "F"),
                                   availability=live(A="available", B="available", C="available", D="available",
                                                     E="available", F="available"),
                                   policies={}, loads={}, today=TODAY)
    args.update(kw)
    return [p.member for p in build_rota(**args).picks]  # type: ignore[arg-type]


def test_never_the_borrower_and_same_region_first() -> None:
    assert rota() == ["B", "C", "D", "E", "F"]


def test_available_before_unknown_before_other_region() -> None:
    order = rota(availability=live(B="unknown", C="available", D="available", E="unknown", F="available"))
    assert order == ["C", "D", "F", "B", "E"]


def test_no_available_copy_is_skipped_with_reason() -> None:
    result = build_rota(borrower="A", borrower_region="north", record_format="book", service="loan",
                        holdings=holdings("B", "C"), availability=live(B="on_loan", C="available"), policies={},
                        loads={}, today=TODAY)
    assert [p.member for p in result.picks] == ["C"]
    assert result.skipped[0].member == "B" and "no copy" in result.skipped[0].reason


def test_low_lending_ratio_then_short_queue_first() -> None:
    loads = {"B": Load(lent=40, borrowed=10), "C": Load(lent=5, borrowed=10, open_lending=9),
             "D": Load(lent=5, borrowed=10, open_lending=1), "E": Load(lent=1, borrowed=10)}
    # B carries the north; C is lighter. In the east, E lends least.
    assert rota(loads=loads) == ["C", "B", "E", "D", "F"]
    loads["B"] = Load(lent=5, borrowed=10, open_lending=2)
    assert rota(loads=loads)[:2] == ["B", "C"]  # equal ratio: shorter queue first


def test_policies_skip_format_closed_limit_and_fee() -> None:
    policies = {"B": LenderPolicy("B", lends_formats=frozenset({"serial"})),
                "C": LenderPolicy("C", holidays=frozenset({TODAY})),
                "D": LenderPolicy("D", max_open_lending=3),
                "E": LenderPolicy("E", lending_enabled=False)}
    result = build_rota(borrower="A", borrower_region="north", record_format="book", service="loan",
                        holdings=holdings("B", "C", "D", "E", "F"),
                        availability=live(B="available", C="available", D="available", E="available",
                                          F="available"),
                        policies=policies, loads={"D": Load(open_lending=3)}, today=TODAY,
                        fees={"F": 5000}, max_cost_cents=1000)
    assert result.picks == []
    reasons = {s.member: s.reason for s in result.skipped}
    assert "format" in reasons["B"] and "holiday" in reasons["C"] and "limit" in reasons["D"]
    assert "does not lend" in reasons["E"] and "fee" in reasons["F"]


def test_reason_explains_each_position() -> None:
    picks = build_rota(borrower="A", borrower_region="north", record_format="book", service="copy",
                       holdings=holdings("D"), availability=live(D="unknown"), policies={},
                       loads={"D": Load(lent=3, borrowed=5, open_lending=2)}, today=TODAY).picks
    assert picks[0].availability == "maybe"
    assert "other region" in picks[0].reason and "2 open" in picks[0].reason and "0.67" in picks[0].reason
