"""``unicat``: every operator action from one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from unicat.cli_withdrawals import app as withdrawals_app
from unicat.settings import Settings, get_settings

app = typer.Typer(help="unicat union catalogue: harvest, index, search, serve.", no_args_is_help=True)
es_app = typer.Typer(help="The local Elasticsearch node (or status of UNICAT_ES_URL).", no_args_is_help=True)
redis_app = typer.Typer(help="The local Redis server.", no_args_is_help=True)
members_app = typer.Typer(help="The member registry (UNICAT_MEMBERS).", no_args_is_help=True)
report_app = typer.Typer(help="Reports for cataloguers and administrators.", no_args_is_help=True)
cluster_app = typer.Typer(help="Cataloguers' clustering decisions (kept across reindexing).", no_args_is_help=True)
db_app = typer.Typer(help="The record store schema.", no_args_is_help=True)
for sub, name in (
    (es_app, "es"),
    (redis_app, "redis"),
    (members_app, "members"),
    (report_app, "report"),
    (cluster_app, "cluster"),
    (db_app, "db"),
    (withdrawals_app, "withdrawals"),
):
    app.add_typer(sub, name=name)
try:
    from ill.cli import app as ill_app

    app.add_typer(ill_app, name="ill", help="Interlibrary loan administration.")
except ImportError:  # pragma: no cover - ILL not installed in this build
    pass
from portals.cli import app as apikey_app  # noqa: E402 - sub-command groups are registered together

app.add_typer(apikey_app, name="apikey", help="API keys for portals: origins and rate limits.")

console = Console()
err = Console(stderr=True)


def _warn_stale_derivations(state: dict[str, object]) -> None:
    """Tell the operator when stored documents or union records were made by another version."""
    from catalog.quality import STALE_CLUSTERING, STALE_DOCUMENTS

    if state.get("documents_stale"):
        console.print(f"[yellow]{STALE_DOCUMENTS}[/]")
    elif state.get("clustering_stale"):
        console.print(f"[yellow]{STALE_CLUSTERING}[/]")


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}")  # messages quote user text such as "[regions]"
    return typer.Exit(code)


def _services(settings: Settings | None = None):  # type: ignore[no-untyped-def]
    from catalog.context import build_services

    return build_services(settings or get_settings())


# ---------------------------------------------------------------- services
@es_app.command("start")
def es_start() -> None:
    """Fetch (once) and start a local single-node Elasticsearch bound to 127.0.0.1."""
    from unicat.localsvc import elasticsearch as local_es
    from unicat.localsvc.process import LocalServiceError

    try:
        proc = local_es.start(get_settings())
    except LocalServiceError as exc:
        raise fail(str(exc)) from None
    console.print(f"Elasticsearch answers at {proc.url}")


@es_app.command("stop")
def es_stop() -> None:
    from unicat.localsvc import elasticsearch as local_es

    console.print("stopped" if local_es.stop(get_settings()) else "not running")


@es_app.command("status")
def es_status() -> None:
    from unicat.localsvc import elasticsearch as local_es

    info = local_es.status(get_settings())
    for key, value in info.items():
        console.print(f"{key}: {value}")
    if not info.get("running"):
        raise typer.Exit(1)


@redis_app.command("start")
def redis_start() -> None:
    from unicat.localsvc import redis as local_redis
    from unicat.localsvc.process import LocalServiceError

    try:
        local_redis.start(get_settings())
    except LocalServiceError as exc:
        raise fail(str(exc)) from None
    console.print("Redis is running")


@redis_app.command("stop")
def redis_stop() -> None:
    from unicat.localsvc import redis as local_redis

    console.print("stopped" if local_redis.stop(get_settings()) else "not running")


@redis_app.command("status")
def redis_status() -> None:
    from unicat.localsvc import redis as local_redis

    for key, value in local_redis.status(get_settings()).items():
        console.print(f"{key}: {value}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the record store schema (Alembic)."""
    from store.migrate import upgrade

    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    console.print(f"schema up to date: {settings.sqlalchemy_url.split('@')[-1]}")


# ---------------------------------------------------------------- members
@members_app.command("load")
def members_load(
    file: Annotated[Path | None, typer.Option(help="Members TOML (default UNICAT_MEMBERS)")] = None,
) -> None:
    """Validate the members file and load it into the store (nothing changes if any entry is invalid)."""
    from catalog.members import MembersFileError, parse_members, sync_members
    from store.db import transaction

    settings = get_settings()
    path = file or settings.members
    try:
        members = parse_members(path)
    except MembersFileError as exc:
        raise fail(str(exc)) from None
    services = _services(settings)
    try:
        with transaction(services.db) as session:
            added, updated = sync_members(session, members)
    finally:
        services.close()
    console.print(f"members: {added} added, {updated} updated from {path}")


@members_app.command("list")
def members_list() -> None:
    from sqlalchemy import select

    from store.models import Member

    services = _services()
    table = Table("code", "name", "region", "role", "feeds")
    with services.db() as session:
        for m in session.scalars(select(Member).order_by(Member.code)):
            feeds = ", ".join(k for k in ("oai", "files", "z3950", "sru") if k in m.config)
            table.add_row(m.code, f"{m.name_zh} / {m.name_en}", m.region, m.role, feeds)
    services.close()
    console.print(table)


# ---------------------------------------------------------------- harvest and index
@app.command()
def harvest(
    code: Annotated[str | None, typer.Argument(help="Member code")] = None,
    all_members: Annotated[bool, typer.Option("--all", help="Harvest every member")] = False,
    feed: Annotated[str | None, typer.Option(help="Only this feed (oai, files, z3950, sru)")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Read the whole catalogue again; withdraw what it no longer holds")
    ] = False,
) -> None:
    """Harvest a member (or all) to completion in the foreground, with progress."""
    from sqlalchemy import select

    from catalog.pipeline import UnknownMemberError, harvest_feed, harvest_member
    from store.models import Member

    if not code and not all_members:
        raise fail("name a member code or use --all")
    services = _services()
    failures = 0
    try:
        with services.db() as session:
            codes = [code] if code else list(session.scalars(select(Member.code).order_by(Member.code)))
        for member in codes:
            with Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task(member, total=None, counts="")

                def show(report, task=task, bar=bar):  # type: ignore[no-untyped-def]
                    bar.update(
                        task,
                        description=f"{report.member} {report.feed}",
                        counts=(
                            f"pages {report.pages} +{report.added} ~{report.updated} ={report.unchanged} "
                            f"-{report.deleted} x{report.rejected}"
                        ),
                    )

                try:
                    reports = (
                        [harvest_feed(services, member, feed, progress=show, full=full)]
                        if feed
                        else harvest_member(services, member, progress=show, full=full)
                    )
                except UnknownMemberError as exc:
                    raise fail(str(exc)) from None
            for r in reports:
                colour = "green" if r.status == "ok" else "red"
                console.print(
                    f"[{colour}]{r.member}/{r.feed}: {r.status}[/] pages={r.pages} added={r.added} "
                    f"updated={r.updated} unchanged={r.unchanged} deleted={r.deleted} "
                    f"rejected={r.rejected} withdrawn={r.withdrawn} indexed={r.indexed} "
                    f"index_failed={r.index_failed}"
                )
                for held in r.held:
                    console.print(
                        f"  [yellow]withdrawal {held['id']} held:[/] {held['records']} of {held['live']} records "
                        f"(limit {held['limit']:.0%}); unicat withdrawals apply|discard {held['id']}"
                    )
                for note in r.notes[-5:]:
                    console.print(f"  note: {note}")
                if r.error:
                    failures += 1
                    err.print(f"  [red]harvest error:[/] {r.error}")
    finally:
        services.close()
    if failures:
        raise typer.Exit(1)


@app.command()
def reindex(
    recluster: Annotated[bool, typer.Option(help="Recompute every cluster from scratch first")] = False,
    recrosswalk: Annotated[
        bool,
        typer.Option(help="Map every stored raw record again with the current crosswalks first (implies --recluster)"),
    ] = False,
    pending: Annotated[bool, typer.Option(help="Only project what the outbox still holds")] = False,
) -> None:
    """Rebuild the search index from the record store (no member is asked again)."""
    from catalog.maintenance import rebuild_index
    from catalog.maintenance import recrosswalk as recrosswalk_store
    from catalog.pipeline import project_pending

    services = _services()
    unmappable: list[dict[str, str]] = []
    try:
        if pending:
            done, failed = project_pending(services)
            console.print(f"projected {done} pending union records, {failed} failed")
            return
        if recrosswalk:
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task("crosswalking stored records", total=None)
                mapped = recrosswalk_store(
                    services, progress=lambda done, total: bar.update(task, completed=done, total=total)
                )
            unmappable = mapped.failed
            console.print(f"crosswalked {mapped.records} stored records again: {mapped.changed} documents changed")
            for bad in unmappable[:20]:
                where = escape(f"{bad['member']}:{bad['local_id']}")
                err.print(f"  [red]cannot map[/] {where}: {escape(bad['reason'])} (its old document is kept)")
        result = rebuild_index(services, recluster=recluster or recrosswalk)
    finally:
        services.close()
    console.print(
        f"index {result['index']} now behind {result['alias']}: {result['indexed']} union records, "
        f"{result['failed']} failed" + (f", clusters: {result['clusters']}" if "clusters" in result else "")
    )
    _warn_stale_derivations(result)
    if result["failed"] or unmappable:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Serve the API (/api/v1, docs at /docs) and the web pages."""
    import uvicorn

    uvicorn.run("unicat.app:create_app", factory=True, host=host, port=port, workers=workers)


@app.command()
def worker(
    processes: Annotated[int, typer.Option(help="Worker processes, one job at a time each (parallel harvests)")] = 1,
) -> None:
    """Run the background job queue (scheduled harvests, ILL timers) on Redis."""
    from unicat.jobs import run, run_processes

    if processes < 1:
        raise typer.BadParameter("at least 1", param_hint="--processes")
    run() if processes == 1 else run_processes(processes)


# ---------------------------------------------------------------- quality
@report_app.command("duplicates")
def report_duplicates(
    top: Annotated[int, typer.Option(help="How many of the largest clusters")] = 20,
) -> None:
    """The largest union records and suspicious merges (mixed years or formats; differing extents,
    edition statements or publishers), for review."""
    from catalog.quality import duplicates_report

    services = _services()
    try:
        report = duplicates_report(services, top=top)
    finally:
        services.close()
    table = Table("union id", "records", "members", "title", "years", "formats", title="Largest union records")
    for row in report["largest"]:
        table.add_row(
            row["id"],
            str(row["size"]),
            str(row["members"]),
            row["title"][:60],
            ", ".join(map(str, row["years"])),
            ", ".join(row["formats"]),
        )
    console.print(table)
    sus = Table("union id", "records", "why", "title", title="Suspicious merges")
    for row in report["suspicious"]:
        sus.add_row(row["id"], str(row["size"]), row["why"], row["title"][:60])
    console.print(sus)
    if report["oversized"]:
        console.print(f"[yellow]clusters held at the size limit: {', '.join(report['oversized'])}[/]")
    _warn_stale_derivations(report)


@report_app.command("harvests")
def report_harvests(member: Annotated[str | None, typer.Option(help="Only this member")] = None) -> None:
    """Recent harvest runs with their counts and errors."""
    from catalog.harvests import harvest_runs

    services = _services()
    try:
        runs = harvest_runs(services, member, 30)
    finally:
        services.close()
    table = Table(
        "run", "member", "feed", "status", "started", "pages", "+", "~", "=", "-", "rejects", "withdrawn", "error"
    )
    for r in runs:
        held = [f" (held: {h['id']})" for h in r["withdrawals_held"] if h["status"] == "pending"]
        table.add_row(
            str(r["id"]),
            r["member"],
            r["feed"],
            r["status"],
            (r["started_at"] or "")[:19],
            str(r["pages"]),
            str(r["added"]),
            str(r["updated"]),
            str(r["unchanged"]),
            str(r["deleted"]),
            str(r["rejected"]),
            str(r["withdrawn"]) + "".join(held),
            (r["error"] or "")[:60],
        )
    console.print(table)


@report_app.command("failures")
def report_failures(member: Annotated[str | None, typer.Option(help="Only this member's rejects")] = None) -> None:
    """Rejected source records and union records Elasticsearch refused (nothing is dropped silently)."""
    from catalog.harvests import index_failures, rejects

    services = _services()
    try:
        rows, failed = rejects(services, member, 50), index_failures(services, 50)
    finally:
        services.close()
    table = Table("member", "local id", "stage", "reason", title=f"Rejected records (latest {len(rows)})")
    for r in rows:
        table.add_row(r["member"], r["local_id"] or "—", r["stage"], r["reason"][:90])
    console.print(table)
    console.print(
        f"index failures: {failed['total']}, union records waiting for projection: {failed['pending_projection']}"
    )
    for f in failed["failures"][:20]:
        console.print(f"  {f['union_id']} → {f['index']}: {f['reason'][:120]}")
    if failed["pending_projection"]:
        console.print("run `unicat reindex --pending` once the index is reachable")


@report_app.command("status-words")
def report_status_words(member: Annotated[str | None, typer.Option(help="Only this member")] = None) -> None:
    """Status words members sent that no status table could read (shown to patrons as unknown)."""
    from holdings.service import unknown_status_words

    services = _services()
    try:
        found = unknown_status_words(services, member)
    finally:
        services.close()
    table = Table("member", "status word", "times seen", title="Unknown status words")
    for code, words in found.items():
        for word, count in words.items():
            table.add_row(code, escape(word), str(count))
    console.print(table)
    if found:
        console.print('add them to the member\'s holdings table: status_words = { "word" = "on_loan" }, '
                      "or name its system with ils = \"...\" (see README)")


def _override(kind: str, a: str, b: str, note: str | None) -> None:
    from catalog.quality import OverrideError, add_override

    services = _services()
    try:
        result = add_override(services, kind, a, b, note=note)
    except OverrideError as exc:
        raise fail(str(exc)) from None
    finally:
        services.close()
    console.print(f"{kind}: {a} and {b} → " + ", ".join(result["union_ids"]))


@cluster_app.command("split")
def cluster_split(
    a: Annotated[str, typer.Argument(help="member:local_id")],
    b: Annotated[str, typer.Argument(help="member:local_id")],
    note: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Never put these two source records in one union record."""
    _override("split", a, b, note)


@cluster_app.command("merge")
def cluster_merge(
    a: Annotated[str, typer.Argument(help="member:local_id")],
    b: Annotated[str, typer.Argument(help="member:local_id")],
    note: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Always put these two source records in one union record."""
    _override("merge", a, b, note)


if __name__ == "__main__":  # pragma: no cover
    app()
