"""The build's output, held still: union records, stored documents and Elasticsearch documents of a
real multi-member harvest (with shared Pride-and-Prejudice copies and a round of deletions) equal
those recorded in ``tests/data/golden/build-snapshot.json``.

The build pipeline is tuned for CPU (fewer statements, rows written once, strings folded once);
every such change must leave what a user sees unchanged. This test compares, per record and per
union record, digests of what the pipeline stored and indexed against the ones recorded before
those changes, so a tuning that silently changed a cluster, a stored document or an indexed field
fails here with the ids that differ.

Regenerate only after a deliberate change of the output (crosswalk, matcher, union record, ES
document), and read the diff first::

    python -m tests.core.test_build_snapshot
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import orjson
from elasticsearch.helpers import scan
from sqlalchemy import select

from catalog.context import Services, build_services
from catalog.members import sync_members
from catalog.pipeline import ingest
from harvesters.base import HarvestedRecord
from store.db import transaction
from store.models import SourceRecord
from tests.core.conftest import MEMBERS
from tests.core.helpers import DEMO, as_harvested, read_marc

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "golden" / "build-snapshot.json"


def _bnu_unimarc() -> list[HarvestedRecord]:
    from lxml import etree

    root = etree.parse(str(DEMO / "bnu-cnmarc.xml")).getroot()
    out = []
    for element in root.iter("{*}record"):
        local_id = element.xpath("./*[local-name()='controlfield'][@tag='001']")[0].text.strip()
        out.append(HarvestedRecord(local_id=local_id, raw=etree.tostring(element), encoding="xml", syntax="unimarc"))
    return out


def harvests() -> list[tuple[str, list[HarvestedRecord]]]:
    """(member, records) in the order they are ingested: four members, overlapping copies of one
    work, MARC-8 and UTF-8, MARC 21 and UNIMARC, Latin and CJK; then deletions that split clusters."""
    sjtu_pp = as_harvested(read_marc(DEMO / "sjtu" / "pride-and-prejudice.mrc"))
    return [
        ("pku", as_harvested(read_marc(DEMO / "pku" / "pride-and-prejudice.mrc"))
         + as_harvested(read_marc(DEMO / "pku" / "uva-sirsi.mrc.gz", limit=250))),
        ("sjtu", sjtu_pp + as_harvested(read_marc(DEMO / "sjtu" / "lc-books.mrc.gz", limit=250))),
        ("nlc", as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=250))),
        ("bnu", _bnu_unimarc()),
        ("sjtu", [HarvestedRecord(local_id=r.local_id, raw=b"", deleted=True) for r in sjtu_pp[::5]]),
    ]


def _digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:20]


def snapshot(services: Services) -> dict[str, Any]:
    """Clusters (union id → its records), a digest of every stored document and of every indexed
    document (without its ``updated_at`` stamp)."""
    clusters: dict[str, list[str]] = {}
    stored: dict[str, str | None] = {}
    with services.db() as session:
        rows = session.execute(
            select(SourceRecord.member_code, SourceRecord.local_id, SourceRecord.cluster_id, SourceRecord.document)
        )
        for member, local_id, cluster_id, document in rows:
            name = f"{member}/{local_id}"
            stored[name] = _digest(document) if document is not None else None
            if cluster_id:
                clusters.setdefault(cluster_id, []).append(name)
    alias = services.settings.records_alias
    services.es.indices.refresh(index=alias)
    indexed = {
        hit["_id"]: _digest({k: v for k, v in hit["_source"].items() if k != "updated_at"})
        for hit in scan(services.es, index=alias, size=1000)
    }
    return {
        "clusters": {cid: sorted(names) for cid, names in sorted(clusters.items())},
        "stored": dict(sorted(stored.items())),
        "indexed": dict(sorted(indexed.items())),
    }


def build(services: Services) -> dict[str, Any]:
    with transaction(services.db) as session:
        sync_members(session, [dict(m) for m in MEMBERS])
    for member, records in harvests():
        report = ingest(services, member, records)
        assert report.status == "ok" and not report.index_failed, report.as_dict()
    return snapshot(services)


def _differences(got: dict[str, str], want: dict[str, str]) -> list[str]:
    return sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))


def test_the_build_gives_the_recorded_clusters_documents_and_index(settings):
    services = build_services(settings())
    try:
        got = build(services)
    finally:
        services.close()
    want = json.loads(SNAPSHOT.read_text())
    assert len(got["clusters"]) < len(got["stored"]), "the sample must merge some records"
    assert _differences(got["clusters"], want["clusters"]) == []
    assert _differences(got["stored"], want["stored"]) == []
    assert _differences(got["indexed"], want["indexed"]) == []


def main() -> None:
    """Write the snapshot from this checkout's code (a private Elasticsearch node is started)."""
    import tempfile

    from tests.services import make_settings, private_elasticsearch

    with private_elasticsearch() as es_url, tempfile.TemporaryDirectory() as tmp:
        services = build_services(make_settings(Path(tmp), es_url, "redis://127.0.0.1:1"))
        try:
            data = build(services)
        finally:
            services.close()
    SNAPSHOT.write_text(json.dumps(data, indent=0, ensure_ascii=False) + "\n")
    print(f"{SNAPSHOT.name}: {len(data['clusters'])} union records, {len(data['stored'])} records", file=sys.stderr)


if __name__ == "__main__":
    main()
