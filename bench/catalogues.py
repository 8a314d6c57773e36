"""The two catalogues the relevance and suggestion benches run over, built through the real pipeline.

- **demo**: the four members of ``demo/members.toml`` with their demo records (5,034, see
  ``demo/PROVENANCE.md``). ``scripts/demo.sh`` harvests PKU and SJTU over OAI-PMH from the same
  files; here every member reads its files directly (the files feed), which gives the same local
  ids (the 001 of each record, as the demo provider's OAI identifiers carry them).
- **lc**: the first N records (default 100,000) of the Library of Congress "Books All" file,
  one member ``lc``; the file is ``$UNICAT_LC_FILE`` or ``$UNICAT_SHARED_DATA/marc21/…``.

Each catalogue keeps its SQLite store and index under ``<var>/bench/<name>``; a store that already
holds the expected records is reused, its index rebuilt from it when the node has none (pass
``rebuild=True`` to harvest again). ``reindex`` rebuilds only the index from the store (after a
mapping change), as ``unicat reindex`` does.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

import catalog.pipeline as pipeline
from bench.common import LC_FILE, shared_data, write_marc_subset
from catalog.context import Services, build_services
from catalog.maintenance import rebuild_index
from catalog.members import parse_members, sync_members
from store.db import transaction
from store.models import SourceRecord
from unicat.settings import PROJECT_ROOT, Settings

DEMO_MEMBERS = PROJECT_ROOT / "demo" / "members.toml"
DEMO_DATA = PROJECT_ROOT / "demo" / "data"
DEMO_RECORDS = 5034


def work_dir(name: str) -> Path:
    return Path(Settings().var_dir).resolve() / "bench" / name


def lc_file() -> Path:
    return Path(os.environ.get("UNICAT_LC_FILE") or shared_data() / LC_FILE)


def settings_for(work: Path, es_url: str, name: str) -> Settings:
    return Settings(var_dir=work, database_url=f"sqlite:///{work / 'store.sqlite3'}", es_url=es_url,
                    index_prefix=f"bench-{name}", redis_url="redis://127.0.0.1:1/0")


def demo_members() -> list[dict[str, Any]]:
    """The demo members, PKU and SJTU reading their folders instead of their OAI-PMH providers."""
    members = parse_members(DEMO_MEMBERS)
    for member in members:
        if member.get("oai"):
            member.pop("oai")
            member["files"] = {"url_or_path": str(DEMO_DATA / member["code"]), "format": "iso2709"}
    return members


def lc_members(work: Path, records: int) -> list[dict[str, Any]]:
    mrc = work / "lc.mrc"
    if not mrc.exists() or mrc.stat().st_size == 0:
        write_marc_subset(lc_file(), mrc, records)
    return [{"code": "lc", "name": {"zh": "美国国会图书馆", "en": "Library of Congress"}, "region": "national",
             "role": "national", "files": {"url_or_path": str(mrc), "format": "iso2709"}}]


def stored(services: Services) -> int:
    with services.db() as session:
        return session.scalar(select(func.count()).select_from(SourceRecord).where(~SourceRecord.deleted)) or 0


def catalogue(name: str, es_url: str, *, records: int = 100_000, rebuild: bool = False) -> tuple[Services, float]:
    """Services over the ``name`` catalogue (``demo`` or ``lc``) and the seconds spent building it
    (0 when the stored catalogue and its index were reused)."""
    work = work_dir(name)
    work.mkdir(parents=True, exist_ok=True)
    expected = DEMO_RECORDS if name == "demo" else records
    if rebuild:
        for p in work.glob("store.sqlite3*"):
            p.unlink()
        if name == "lc":
            (work / "lc.mrc").unlink(missing_ok=True)
    services = build_services(settings_for(work, es_url, name))
    alias = services.settings.records_alias
    if stored(services) >= expected * 0.98:  # the store is kept; an index on another node is rebuilt from it
        return services, 0.0 if services.es.indices.exists_alias(name=alias) else reindex(services)
    members = demo_members() if name == "demo" else lc_members(work, records)
    with transaction(services.db) as session:
        sync_members(session, members)
    started = time.perf_counter()
    for member in members:
        pipeline.harvest_feed(services, member["code"], "files")
    services.es.indices.refresh(index=alias)
    return services, time.perf_counter() - started


def reindex(services: Services) -> float:
    """Rebuild the index from the store (new mapping version, alias swapped); seconds taken."""
    started = time.perf_counter()
    rebuild_index(services)
    services.es.indices.refresh(index=services.settings.records_alias)
    return time.perf_counter() - started
