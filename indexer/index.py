"""Versioned indices behind an alias.

The mapping files are ``mappings/es/records-v<N>.json``; the live index is
``<prefix>-records-v<N>-<stamp>`` and is only ever reached through the alias ``<prefix>-records``.
A rebuild writes a new index and swaps the alias in one atomic ``_aliases`` call.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

MAPPINGS_DIR = Path(__file__).resolve().parent.parent / "mappings" / "es"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexSpec:
    version: int
    body: dict[str, Any]


@dataclass(frozen=True)
class IndexLayout:
    """Shards and replicas of a new index, from configuration; ``None`` keeps the mapping file's.

    The mapping files say 1 shard and 0 replicas (one node); a cluster sets these instead of
    editing the mapping (see ``UNICAT_ES_SHARDS`` / ``UNICAT_ES_REPLICAS``)."""

    shards: int | None = None
    replicas: int | None = None

    def apply(self, settings: dict[str, Any]) -> dict[str, Any]:
        merged = dict(settings)
        if self.shards is not None:
            merged["number_of_shards"] = self.shards
        if self.replicas is not None:
            merged["number_of_replicas"] = self.replicas
        return merged


def latest_spec(kind: str = "records") -> IndexSpec:
    files = sorted(MAPPINGS_DIR.glob(f"{kind}-v*.json"), key=lambda p: int(p.stem.rsplit("-v", 1)[1]))
    if not files:
        raise FileNotFoundError(f"no mapping file for {kind} in {MAPPINGS_DIR}")
    body = json.loads(files[-1].read_text(encoding="utf-8"))
    body.pop("_comment", None)
    return IndexSpec(version=int(files[-1].stem.rsplit("-v", 1)[1]), body=body)


def alias_targets(es: Elasticsearch, alias: str) -> list[str]:
    try:
        return sorted(es.indices.get_alias(name=alias).keys())
    except NotFoundError:
        return []


def create_index(
    es: Elasticsearch, alias: str, spec: IndexSpec | None = None, layout: IndexLayout | None = None
) -> str:
    """Create a fresh, empty versioned index for ``alias`` (not yet pointed to)."""
    spec = spec or latest_spec()
    settings = (layout or IndexLayout()).apply(spec.body["settings"])
    name = f"{alias}-v{spec.version}-{time.strftime('%Y%m%d%H%M%S')}-{time.time_ns() % 1_000_000:06d}"
    es.indices.create(index=name, settings=settings, mappings=spec.body["mappings"])
    return name


def ensure_alias(es: Elasticsearch, alias: str, layout: IndexLayout | None = None) -> str:
    """Return the index behind ``alias``, creating the first one (with ``layout``) if there is none.
    An index made with an older mapping gets the newer mapping's fields (see :func:`add_new_fields`)."""
    targets = alias_targets(es, alias)
    if targets:
        add_new_fields(es, targets[0])
        return targets[0]
    name = create_index(es, alias, layout=layout)
    es.indices.update_aliases(actions=[{"add": {"index": name, "alias": alias, "is_write_index": True}}])
    return name


def alias_up_to_date(es: Elasticsearch, alias: str) -> None:
    """Make sure the index behind ``alias`` has the latest mapping's fields (once per process),
    for a reader of fields a newer mapping added: after an upgrade the search box asks for fields
    the live index may not have been given yet by a harvest (Elasticsearch refuses a completion
    on an unknown field)."""
    if alias in _CHECKED_ALIASES:
        return
    for index in alias_targets(es, alias):
        add_new_fields(es, index)
    _CHECKED_ALIASES.add(alias)


def mapping_state(es: Elasticsearch, alias: str) -> dict[str, Any]:
    """The mapping version of the live index against the running code's, for administrators:
    after an upgrade to a newer mapping, ``index_stale`` says a ``unicat reindex`` is due."""
    latest = latest_spec().version
    targets = alias_targets(es, alias)
    version = mapping_version(targets[0]) if targets else None
    return {"index_mapping": version, "latest_mapping": latest,
            "index_stale": version is not None and version < latest}


def mapping_version(index: str) -> int | None:
    """The mapping version in a versioned index's name (``<alias>-v<N>-<stamp>``)."""
    found = _VERSION_IN_NAME.search(index)
    return int(found.group(1)) if found else None


_VERSION_IN_NAME = re.compile(r"-v(\d+)-\d{14}-\d{6}$")
#: Indices already brought up to the running code's mapping by this process.
_CURRENT: set[str] = set()
#: Aliases whose indices :func:`alias_up_to_date` has brought up to date in this process.
_CHECKED_ALIASES: set[str] = set()


def add_new_fields(es: Elasticsearch, index: str) -> list[str]:
    """Add to ``index`` the fields of the latest mapping it lacks; return their names.

    After an upgrade the live index keeps the mapping it was made with until ``unicat reindex``,
    but the code sends documents shaped for the latest mapping, which a strict mapping would refuse
    whole. Adding fields is allowed on a live index, so the new ones are added: every document is
    indexed again, and the records indexed before the upgrade lack the new fields until the rebuild
    (a warning says so). A field whose definition changed cannot be changed in place; that needs
    the rebuild in any case."""
    if index in _CURRENT:
        return []
    spec = latest_spec()
    version = mapping_version(index)
    added: list[str] = []
    if version is not None and version < spec.version:
        have = es.indices.get_mapping(index=index)[index]["mappings"].get("properties", {})
        missing = {k: v for k, v in spec.body["mappings"]["properties"].items() if k not in have}
        if missing:
            es.indices.put_mapping(index=index, properties=missing)
            added = sorted(missing)
            log.warning("index %s has mapping v%d; added the fields of v%d (%s): run `unicat reindex` so that "
                        "the records indexed before have them too", index, version, spec.version, ", ".join(added))
    _CURRENT.add(index)
    return added


def switch_alias(es: Elasticsearch, alias: str, new_index: str, *, delete_old: bool = True) -> list[str]:
    """Point ``alias`` at ``new_index`` atomically; return (and optionally delete) the old indices."""
    old = alias_targets(es, alias)
    actions: list[dict[str, Any]] = [{"remove": {"index": name, "alias": alias}} for name in old]
    actions.append({"add": {"index": new_index, "alias": alias, "is_write_index": True}})
    es.indices.update_aliases(actions=actions)
    if delete_old:
        for name in old:
            es.indices.delete(index=name, ignore_unavailable=True)
    return old


def refresh(es: Elasticsearch, alias: str) -> None:
    es.indices.refresh(index=alias)
