"""``unicat ill ...``: accounts and lending policies from the command line."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from catalog.context import build_services
from ill.auth import create_account
from ill.errors import IllError
from ill.policies import update_policy
from store.db import transaction
from unicat.settings import get_settings

app = typer.Typer(help="Interlibrary loan administration.", no_args_is_help=True)


def add_account(member: str, username: str, password: str, kind: str, desks: list[str], email: str | None) -> None:
    """Create a shared account of KIND (patron, staff, admin or cataloguer); a refused one is a usage error."""
    services = build_services(get_settings())
    try:
        account = create_account(services, member_code=member, username=username, password=password, kind=kind,
                                 desks=desks, email=email)
        typer.echo(f"created {kind} {account.username}@{member} (id {account.id})")
    except IllError as exc:
        raise typer.BadParameter(exc.message) from exc
    finally:
        services.close()


@app.command("create-user")
def create_user(member: str, username: str, password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
                email: str | None = None) -> None:
    """A patron of MEMBER with a local password."""
    add_account(member, username, password, "patron", [], email)


@app.command("create-staff")
def create_staff(member: str, username: str, password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
                 desk: Annotated[list[str], typer.Option(help="borrowing and/or lending")] = ["borrowing", "lending"],  # noqa: B006
                 email: str | None = None, admin: bool = False) -> None:
    """Desk staff of MEMBER (or, with --admin, a consortium administrator)."""
    add_account(member, username, password, "admin" if admin else "staff", [] if admin else desk, email)


@app.command("set-fees")
def set_fees(member: str, loan: str | None = None, copy_base: str | None = None,
             copy_per_page: str | None = None, currency: str | None = None) -> None:
    """The fee schedule of a lending MEMBER (amounts in currency units, e.g. --loan 10.00 --copy-per-page 0.125)."""
    from ill.fees import schedule
    from ill.money import MoneyError, check_currency, minor_digits, parse_amount, rate

    services = build_services(get_settings())
    try:
        with transaction(services.db) as session:
            from ill.policies import get_policy

            fees = dict(get_policy(session, member).fees or {})
            code = check_currency(currency or schedule(fees)["currency"])
            for key, value in (("loan", loan), ("copy_base", copy_base)):
                if value is not None:
                    fees[key] = parse_amount(value, code)
            if copy_per_page is not None:  # a rate may be a fraction of a minor unit
                per_page = rate(copy_per_page.strip()).scaleb(minor_digits(code)).normalize()
                fees["copy_per_page"] = int(per_page) if per_page == per_page.to_integral() else str(per_page)
            fees["currency"] = code
            update_policy(session, member, {"fees": fees})
        typer.echo(json.dumps(fees))
    except MoneyError as exc:
        raise typer.BadParameter(str(exc)) from exc
    finally:
        services.close()


@app.command("set-policy")
def set_policy(member: str, changes: Annotated[str, typer.Argument(help='JSON, e.g. {"response_days": 2}')]) -> None:
    """Change lending-policy fields (lends_formats, max_open_lending, holidays, pickup_locations, ...)."""
    services = build_services(get_settings())
    try:
        with transaction(services.db) as session:
            update_policy(session, member, json.loads(changes))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    finally:
        services.close()
