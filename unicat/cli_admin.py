"""``unicat admin``: console accounts and the audit log from the command line."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from unicat.settings import get_settings

app = typer.Typer(help="The administration console: cataloguer accounts, the audit log.", no_args_is_help=True)
console = Console()


@app.command("create-cataloguer")
def create_cataloguer(member: str, username: str,
                      password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
                      email: str | None = None) -> None:
    """A cataloguer of MEMBER: its feeds, harvests, rejects, duplicates and split/merge in /admin."""
    from ill.cli import add_account

    add_account(member, username, password, "cataloguer", [], email)


@app.command("audit")
def audit_log(member: Annotated[str | None, typer.Option(help="Only this member")] = None,
              limit: int = 50) -> None:
    """The latest administrative actions: who, when, what, before → after."""
    from admin.audit import entries
    from catalog.context import build_services

    services = build_services(get_settings())
    try:
        rows = entries(services, member, limit)
    finally:
        services.close()
    table = Table("when", "who", "action", "target", "before → after")
    for e in rows:
        table.add_row((e["at"] or "")[:19], e["actor"], e["action"], e["target"],
                      f"{json.dumps(e['before'], ensure_ascii=False)} → {json.dumps(e['after'], ensure_ascii=False)}")
    console.print(table)
