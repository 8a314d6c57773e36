"""``unicat apikey ...``: keys for portals and for the monitoring API (create prints the key alone
on its last line). Creating and revoking are recorded in the audit log as the operator's actions."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from unicat.settings import get_settings

app = typer.Typer(help="API keys: portals (origins, rate limits) and the monitoring API (scopes).",
                  no_args_is_help=True)


def _operator():  # noqa: ANN202 - an ill.access.Actor
    from ill.access import Actor

    return Actor(kind="operator", name=f"cli/{getpass.getuser()}")


@app.command("create")
def create(
    name: str,
    origin: Annotated[
        list[str] | None, typer.Option("--origin", help="A web origin allowed to use the key (repeatable)")
    ] = None,
    rate: Annotated[str, typer.Option(help="Requests allowed, e.g. 600/minute")] = "600/minute",
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="search (default), admin (the monitoring API) or admin:<member> (repeatable)"),
    ] = None,
) -> None:
    """Issue a key; the key is shown once, alone on the last line."""
    from admin.keys import issue
    from catalog.context import build_services
    from portals.apikeys import ApiKeyError

    services = build_services(get_settings())
    try:
        key, info = issue(services, _operator(), name, origin or [], rate, scope or [])
    except ApiKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        services.close()
    where = ", ".join(info.origins) or "servers only (no browser origin)"
    typer.echo(f"created key {info.name!r} with scopes {' '.join(info.scopes)} for {where} at {info.rate} "
               "(store it now: it is shown once)")
    typer.echo(key)


@app.command("list")
def list_() -> None:
    """Every key: name, prefix, scopes, origins, rate, status."""
    from catalog.context import build_services
    from portals.apikeys import list_keys

    services = build_services(get_settings())
    try:
        for info in list_keys(services):
            status = "revoked" if info.revoked else "active"
            typer.echo(f"{info.name}\t{info.key_prefix}…\t{' '.join(info.scopes)}\t{' '.join(info.origins)}\t"
                       f"{info.rate}\t{status}")
    finally:
        services.close()


@app.command("revoke")
def revoke(name: str) -> None:
    """Revoke a key by name: refused from the next request on."""
    from admin.keys import revoke as revoke_key
    from catalog.context import build_services
    from portals.apikeys import ApiKeyError

    services = build_services(get_settings())
    try:
        info = revoke_key(services, _operator(), name)
    except ApiKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        services.close()
    typer.echo(f"revoked key {info.name!r} ({info.key_prefix}…)")
