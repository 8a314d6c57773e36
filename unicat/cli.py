"""``unicat``: every operator action from one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from unicat.cli_admin import app as admin_app
from unicat.cli_withdrawals import app as withdrawals_app
from unicat.settings import Settings, get_settings

app = typer.Typer(help="unicat union catalogue: harvest, index, search, serve.", no_args_is_help=True)
es_app = typer.Typer(help="The local Elasticsearch node (or status of UNICAT_ES_URL).", no_args_is_help=True)
redis_app = typer.Typer(help="The local Redis server.", no_args_is_help=True)
members_app = typer.Typer(help="The member registry (UNICAT_MEMBERS).", no_args_is_help=True)
report_app = typer.Typer(help="Reports for cataloguers and administrators.", no_args_is_help=True)
cluster_app = typer.Typer(help="Cataloguers' clustering decisions (kept across reindexing).", no_args_is_help=True)
db_app = typer.Typer(help="The record store schema.", no_args_is_help=True)
relevance_app = typer.Typer(help="Ranking quality on judged query sets.", no_args_is_help=True)
profile_app = typer.Typer(help="Search profiles: field boosts, synonyms, stop words.", no_args_is_help=True)
for sub, name in (
    (es_app, "es"),
    (redis_app, "redis"),
    (members_app, "members"),
    (report_app, "report"),
    (cluster_app, "cluster"),
    (db_app, "db"),
    (withdrawals_app, "withdrawals"),
    (relevance_app, "relevance"),
    (profile_app, "profile"),
    (admin_app, "admin"),
):
    app.add_typer(sub, name=name)
try:
    from ill.cli import app as ill_app

    app.add_typer(ill_app, name="ill", help="Interlibrary loan administration.")
except ImportError:  # pragma: no cover - ILL not installed in this build
    pass
from unicat.cli_apikeys import app as apikey_app  # noqa: E402 - sub-command groups are registered together

app.add_typer(apikey_app, name="apikey", help="API keys: portals and the monitoring API (scopes).")

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
def es_start(
    nodes: int = typer.Option(1, "--nodes", min=1, max=9, help="nodes (ports from UNICAT_ES_PORT up)"),
    secure: bool = typer.Option(False, "--secure", help="TLS and a password, as production runs it"),
) -> None:
    """Fetch (once) and start a local Elasticsearch bound to 127.0.0.1: one node, or a cluster."""
    from unicat.localsvc import elasticsearch as local_es
    from unicat.localsvc import escluster
    from unicat.localsvc.process import LocalServiceError

    settings = get_settings()
    try:
        if nodes == 1 and not secure:
            proc = local_es.start(settings)
            console.print(f"Elasticsearch answers at {proc.url}")
            return
        cluster = escluster.local_cluster(settings, nodes, secure=secure)
        escluster.remember(cluster)
        cluster.start()
    except LocalServiceError as exc:
        raise fail(str(exc)) from None
    console.print(f"Elasticsearch cluster of {nodes} node(s) answers; point unicat at it with:")
    for key, value in cluster.client_env().items():
        console.print(f"export {key}={value}", markup=False, highlight=False, soft_wrap=True)


@es_app.command("stop")
def es_stop() -> None:
    """Stop the local node and every node of the local cluster."""
    from unicat.localsvc import elasticsearch as local_es
    from unicat.localsvc import escluster

    settings = get_settings()
    stopped = int(local_es.stop(settings))
    cluster = escluster.running_cluster(settings)
    if cluster is not None:
        stopped += cluster.stop()
    console.print(f"stopped {stopped} node(s)" if stopped else "not running")


@es_app.command("status")
def es_status() -> None:
    """The local cluster's nodes (when one was started), then what UNICAT_ES_URL answers."""
    from unicat.localsvc import elasticsearch as local_es
    from unicat.localsvc import escluster

    settings = get_settings()
    cluster = escluster.running_cluster(settings)
    if cluster is not None:
        for row in escluster.node_status(cluster):
            console.print(" ".join(f"{key}={value}" for key, value in row.items()), markup=False, soft_wrap=True)
        health = cluster.health()
        console.print(f"cluster_status: {health.get('status') if health else None}")
        if health is not None:
            return
    info = local_es.status(settings)
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
    from catalog.addresses import members_file_problems
    from catalog.members import MembersFileError, parse_members, sync_members
    from store.db import transaction

    settings = get_settings()
    path = file or settings.members
    try:
        members = parse_members(path)
        if refused := members_file_problems(settings, members):  # the console's SSRF policy, worded alike
            raise MembersFileError(path, refused)
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


@members_app.command("export")
def members_export(
    file: Annotated[Path | None, typer.Argument(help="Write here (default: standard output)")] = None,
) -> None:
    """Write the members the store holds (as edited in the console) as a members file that
    `unicat members load` reads back."""
    from admin.members import export_members

    services = _services()
    try:
        text = export_members(services)
    finally:
        services.close()
    if file is None:
        typer.echo(text, nl=False)
    else:
        file.write_text(text, encoding="utf-8")
        console.print(f"members written to {file}")


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


def _eta_progress() -> Progress:
    """A rich progress bar with counts, elapsed time and the time remaining (ETA)."""
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True)


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
            with _eta_progress() as bar:
                task = bar.add_task("crosswalking stored records", total=None)
                mapped = recrosswalk_store(
                    services, progress=lambda done, total: bar.update(task, completed=done, total=total)
                )
            unmappable = mapped.failed
            console.print(f"crosswalked {mapped.records} stored records again: {mapped.changed} documents changed")
            for bad in unmappable[:20]:
                where = escape(f"{bad['member']}:{bad['local_id']}")
                err.print(f"  [red]cannot map[/] {where}: {escape(bad['reason'])} (its old document is kept)")
        with _eta_progress() as bar:
            tasks: dict[str, Any] = {}

            def show(phase: str, done: int, total: int | None) -> None:
                if phase not in tasks:
                    label = "re-clustering every record" if phase == "recluster" else "indexing union records"
                    tasks[phase] = bar.add_task(label, total=total)
                    for other in tasks.values():  # an earlier phase is over when the next one starts
                        if other != tasks[phase]:
                            bar.update(other, completed=1, total=1)
                bar.update(tasks[phase], completed=done, total=total)

            result = rebuild_index(services, recluster=recluster or recrosswalk, progress=show)
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
    queue: Annotated[str, typer.Option(help="harvest (scheduled harvests) or ill (ILL timers, e-mail, "
                                            "ISO 18626 outbox); run one process per queue")] = "harvest",
    processes: Annotated[int, typer.Option(help="Worker processes, one job at a time each (parallel harvests)")] = 1,
) -> None:
    """Run one background job queue on Redis (``--processes N``: N processes of it)."""
    from unicat.jobs import QUEUES, run, run_processes

    if queue not in QUEUES:
        raise typer.BadParameter(f"queue must be one of {', '.join(QUEUES)}", param_hint="--queue")
    if processes < 1:
        raise typer.BadParameter("at least 1", param_hint="--processes")
    if processes == 1:
        run(queue)
    else:
        run_processes(processes, queue)


# ---------------------------------------------------------------- relevance
@relevance_app.command("eval")
def relevance_eval(
    file: Annotated[Path, typer.Argument(help="A judged set: NAME.queries.tsv (or NAME.qrels) beside the other file")],
    profile: Annotated[str | None, typer.Option(help="Search profile to measure (default: the live one)")] = None,
    candidate: Annotated[str | None, typer.Option(help="A second profile, measured side by side")] = None,
) -> None:
    """nDCG@10, recall@20 and MRR per query category and overall, on the catalogue this
    installation searches; with --candidate, both profiles side by side and per-query wins/losses."""
    from catalog.relevance import JudgementsError, ProfileError, run_evaluation

    services = _services()
    try:
        result = run_evaluation(services, file, profile=profile, candidate=candidate)
    except (JudgementsError, ProfileError) as exc:
        raise fail(str(exc)) from None
    finally:
        services.close()
    table = Table("category", "queries", title=f"{file.name}: ranking quality")
    for report in result.reports:
        for name in ("nDCG@10", "R@20", "MRR"):
            table.add_column(f"{name} {report.label}", justify="right")
    means = [r.means() for r in result.reports]
    for category in means[0]:
        cells = [f"{m[category][name]:.3f}" for m in means for name in ("nDCG@10", "R@20", "MRR")]
        table.add_row(category, str(int(means[0][category]["queries"])), *cells)
    console.print(table)
    skipped = result.reports[0].skipped
    if skipped:
        console.print(f"[yellow]{len(skipped)} queries skipped: none of their relevant records is in this catalogue[/]")
    if result.outcome is not None:
        o = result.outcome
        counts = f"{len(o['wins'])} wins, {len(o['losses'])} losses, {len(o['ties'])} ties"
        console.print(f"candidate vs live on nDCG@10: {counts}")
        for label in ("wins", "losses"):
            if o[label]:
                console.print(f"  {label}: {', '.join(o[label])}")


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
    sus = Table("union id", "records", "why", "title", title="Suspicious merges",
                caption=f"among the {report['reviewed']:,} largest and most recently changed of "
                        f"{report['merged']:,} union records with more than one record")
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


# ---------------------------------------------------------------- search profiles
@profile_app.command("list")
def profile_list() -> None:
    """The profile files shipped with unicat (the live one is UNICAT_SEARCH_PROFILE)."""
    from catalog.profiles import PROFILES_DIR, load_profile

    live = load_profile(get_settings().search_profile).label
    for path in sorted(PROFILES_DIR.glob("*.toml")):
        profile = load_profile(path)
        mark = "*" if profile.label == live else " "
        console.print(f"{mark} {profile.label:<16} {escape(profile.description)}")


@profile_app.command("check")
def profile_check(
    name: Annotated[str | None, typer.Argument(help="Profile name, file stem or path (default: the live one)")] = None,
    rebuild: Annotated[bool, typer.Option(help="Rebuild the index when it lacks fields the profile needs")] = False,
) -> None:
    """Say whether the live index has every field a profile needs; with --rebuild, rebuild it if not."""
    from catalog.profiles import ProfileError, ensure_index_fields, load_profile, missing_index_fields

    services = _services()
    try:
        profile = load_profile(name or services.settings.search_profile)
        missing = missing_index_fields(services, profile)
        if not missing:
            console.print(f"{profile.label}: the live index has every field it needs")
            return
        console.print(f"{profile.label}: the live index lacks {', '.join(missing)}")
        if not rebuild:
            raise typer.Exit(1)
        result = ensure_index_fields(services, profile)
    except ProfileError as exc:
        raise fail(str(exc)) from None
    finally:
        services.close()
    if result:
        console.print(f"index {result['index']} now behind {result['alias']}: {result['indexed']} union records")


if __name__ == "__main__":  # pragma: no cover
    app()
