"""``unicat apikey ...``: keys for third-party portals (create prints the key alone on its last line)."""

from __future__ import annotations

from typing import Annotated

import typer

from catalog.context import build_services
from portals.apikeys import ApiKeyError, create_key, list_keys, revoke_key
from unicat.settings import get_settings

app = typer.Typer(help="API keys for portals: origins and rate limits.", no_args_is_help=True)


@app.command("create")
def create(
    name: str,
    origin: Annotated[
        list[str] | None, typer.Option("--origin", help="A web origin allowed to use the key (repeatable)")
    ] = None,
    rate: Annotated[str, typer.Option(help="Requests allowed, e.g. 600/minute")] = "600/minute",
) -> None:
    """Issue a key; the key is shown once, alone on the last line."""
    services = build_services(get_settings())
    try:
        key, info = create_key(services, name, origin or [], rate)
    except ApiKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        services.close()
    where = ", ".join(info.origins) or "servers only (no browser origin)"
    typer.echo(f"created key {info.name!r} for {where} at {info.rate} (store it now: it is shown once)")
    typer.echo(key)


@app.command("list")
def list_() -> None:
    """Every key: name, prefix, origins, rate, status."""
    services = build_services(get_settings())
    try:
        for info in list_keys(services):
            status = "revoked" if info.revoked else "active"
            typer.echo(f"{info.name}\t{info.key_prefix}…\t{' '.join(info.origins)}\t{info.rate}\t{status}")
    finally:
        services.close()


@app.command("revoke")
def revoke(name: str) -> None:
    """Revoke a key by name: refused from the next request on."""
    services = build_services(get_settings())
    try:
        info = revoke_key(services, name)
    except ApiKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        services.close()
    typer.echo(f"revoked key {info.name!r} ({info.key_prefix}…)")
