"""``unicat withdrawals``: full harvests held because they would have withdrawn too much."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from unicat.settings import get_settings

app = typer.Typer(
    help="Withdrawals held for an administrator (a full harvest that missed more than the member's limit).",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)


def _services():  # type: ignore[no-untyped-def]
    from catalog.context import build_services

    return build_services(get_settings())


@app.command("list")
def list_held(
    member: Annotated[str | None, typer.Option(help="Only this member")] = None,
    every: Annotated[bool, typer.Option("--all", help="Decided ones too, not only pending")] = False,
) -> None:
    """Held withdrawals with their size, the member's live records and the limit."""
    from catalog.withdrawals import list_withdrawals

    services = _services()
    try:
        rows = list_withdrawals(services, status=None if every else "pending", member=member)
    finally:
        services.close()
    if not rows:
        console.print("no withdrawals held" if not every else "no withdrawals")
        return
    table = Table("id", "member", "feed", "run", "status", "records", "of live", "share", "limit", "e.g.")
    for r in rows:
        table.add_row(
            str(r["id"]), r["member"], r["feed"], str(r["run"]), r["status"], str(r["records"]), str(r["live"]),
            f"{r['share']:.0%}" if r["share"] is not None else "-", f"{r['limit']:.0%}",
            escape(", ".join(r["sample_local_ids"][:5])),
        )  # fmt: skip
    console.print(table)


def _decide(action: str, pending_id: int, by: str | None) -> None:
    from catalog.withdrawals import WithdrawalError, apply_withdrawal, discard_withdrawal

    services = _services()
    try:
        decide = apply_withdrawal if action == "apply" else discard_withdrawal
        result = decide(services, pending_id, by=by)
    except WithdrawalError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    finally:
        services.close()
    if action == "apply":
        console.print(f"withdrawal {pending_id} applied: {result['withdrawn']} records withdrawn")
    else:
        console.print(f"withdrawal {pending_id} discarded: every record stays")


@app.command("apply")
def apply(
    pending_id: Annotated[int, typer.Argument(help="The id `unicat withdrawals list` shows")],
    by: Annotated[str | None, typer.Option(help="Who decided (kept with the decision)")] = None,
) -> None:
    """Withdraw the held records (those harvested again since stay)."""
    _decide("apply", pending_id, by)


@app.command("discard")
def discard(
    pending_id: Annotated[int, typer.Argument(help="The id `unicat withdrawals list` shows")],
    by: Annotated[str | None, typer.Option(help="Who decided (kept with the decision)")] = None,
) -> None:
    """Keep every record: the feed, not the catalogue, was wrong."""
    _decide("discard", pending_id, by)
