"""What each part of a union document costs Elasticsearch to index: node CPU per document for the
records mapping and for variants of it, over the same documents, on one warm node.

Run: ``python -m bench.es_doc_cost [--rounds 5] [--write]`` (``$UNICAT_ES_URL`` to use a running
node instead of a private one).

Corpus: the first ``--latin`` records of LC "Books All" 2016 part 1 and every Chinese record of
the same file, each a one-source union record built once in Python
(:func:`indexer.union.build_union`, then the document builder). A private node is started, warmed
by bulk-loading the baseline documents again and again until its CPU per document settles (a
fresh JVM keeps getting cheaper for a few hundred thousand documents), then every variant is
bulk-loaded into a fresh index of its own, variants alternating over ``--rounds`` rounds:
``parallel_bulk``, chunks of 500, then a refresh, then a wait until no merge runs (merges are
part of the cost). The node's ``process.cpu`` statistic is read before the bulk and after the
merges; the index is deleted outside the measured span.

Afterwards each variant is loaded once more, in corpus order into one segment (the completion
suggester's ``skip_duplicates`` keeps whichever duplicate it meets first, so a parallel load would
make suggestions differ between two loads of the same documents), and its answers are compared
with the baseline's: every judged query of ``bench/judgements`` through
:func:`catalog.search.search` (hit ids in order, totals, facets) and search-box suggestions
(:func:`catalog.suggest.suggest`) for prefixes taken from the corpus; the baseline is loaded a
second time to show the comparison is stable. A variant that changes any answer is shown so; the
variants that drop a field on purpose (to price it) are expected to.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from elasticsearch import Elasticsearch, helpers

from bench.common import es_node, machine, shared_data, stamp, write_section
from bench.index_fields import V3_ONLY, raw_records, unions
from catalog.profiles import load_profile
from catalog.relevance import read_set
from catalog.search import SearchError, SearchQuery, search
from catalog.suggest import suggest
from indexer.index import MAPPINGS_DIR
from indexer.union import to_es_document
from mappings.suggest import FIELDS
from unicat.settings import Settings

HEADING = "## Consortium scale: cluster and faults (issue 19)"
JUDGEMENTS = Path(__file__).resolve().parent / "judgements"
#: Keyword fields only ever matched by term/prefix queries (never sorted, aggregated or scripted).
UNSORTED_KEYWORDS = ("isbn", "issn", "ids", "classification", "callnumber")
#: Fields only ever sorted on or read as values (or not read at all), never searched.
UNSEARCHED = ("title_sort", "holdings_count", "source_count", "updated_at")
SUGGEST_FIELDS = tuple(FIELDS.values())
#: Fields derived for searching only: no reader takes them back from ``_source``.
DERIVED = ("title_t", "author_t", "subject_t", "series_t", "all_t", "publisher_t", "title_cjk", "author_cjk",
           "subject_cjk", "series_cjk", "publisher_cjk", "all_cjk", "title_py", "author_py", "subject_py",
           *SUGGEST_FIELDS, "title_sort")

Doc = dict[str, Any]
#: The baseline: the latest mapping, documents as :func:`indexer.union.to_es_document` sends them.
BASE = "v4"


def mapping(version: int) -> Doc:
    body = json.loads((MAPPINGS_DIR / f"records-v{version}.json").read_text(encoding="utf-8"))
    body.pop("_comment", None)
    return body


@dataclass(frozen=True)
class Variant:
    name: str
    what: str
    body: Doc
    docs: list[Doc]
    #: True when the variant removes something searched on purpose (its answers may differ).
    pricing_only: bool = False
    #: False when the application's queries cannot run against it (fields renamed).
    comparable: bool = True


def _with(body: Doc, change: Callable[[Doc], None]) -> Doc:
    out = copy.deepcopy(body)
    change(out["mappings"])
    return out


def _with_settings(body: Doc, settings: Doc) -> Doc:
    out = copy.deepcopy(body)
    out["settings"].update(settings)
    return out


def _no_doc_values(mappings: Doc) -> None:
    for name in UNSORTED_KEYWORDS:
        mappings["properties"][name]["doc_values"] = False


def _not_indexed(mappings: Doc) -> None:
    for name in UNSEARCHED:
        mappings["properties"][name]["index"] = False


def _source_excludes(mappings: Doc) -> None:
    mappings["_source"] = {"excludes": list(DERIVED)}


def _suggest_flags(mappings: Doc) -> None:
    """One keyword token per input: no separators or position gaps to preserve."""
    for name in SUGGEST_FIELDS:
        mappings["properties"][name].update(preserve_separators=False, preserve_position_increments=False)


def with_context(doc: Doc) -> Doc:
    """A v4 document as mapping v3 took it: one ``suggest`` field, the kind as a context."""
    out = {k: v for k, v in doc.items() if k not in SUGGEST_FIELDS}
    out["suggest"] = [{**doc[name], "contexts": {"kind": [kind]}} for kind, name in FIELDS.items() if name in doc]
    return out


def shorter_keys(doc: Doc, length: int) -> Doc:
    """The document with every completion input cut to ``length`` characters (each key once)."""
    out = dict(doc)
    for name in SUGGEST_FIELDS:
        if name in doc:
            cut = dict.fromkeys(key[:length].strip() for key in doc[name]["input"])
            out[name] = {**doc[name], "input": [key for key in cut if key]}
    return out


#: The completion fields the ``kw-headings`` variant (and ``bench/suggest_by_terms.py``) makes keyword fields.
HEADING_FIELDS = (FIELDS["author"], FIELDS["subject"])


def keyword_headings(doc: Doc) -> Doc:
    """The document with the author and subject completion inputs as plain keyword values."""
    return {**doc, **{name: doc[name]["input"] for name in HEADING_FIELDS if name in doc}}


def keyword_heading_fields(mappings: Doc, eager: bool = False) -> None:
    """The author and subject completion fields of ``mappings`` made keyword fields (their global
    ordinals built at each refresh when ``eager``)."""
    for name in HEADING_FIELDS:
        mappings["properties"][name] = {"type": "keyword", "eager_global_ordinals": eager}


def without_empty(doc: Doc) -> Doc:
    """The document without empty strings, empty lists and nulls, except ``title_sort`` (an empty
    sort key sorts first, a missing one last)."""
    return {k: v for k, v in doc.items() if k == "title_sort" or v not in ("", [], None)}


def _combined(mappings: Doc) -> None:
    _no_doc_values(mappings)
    _not_indexed(mappings)


def _drop(docs: list[Doc], *names: str) -> list[Doc]:
    return [{k: v for k, v in d.items() if k not in names} for d in docs]


def variants(full: list[Doc]) -> list[Variant]:
    """The baseline (the latest mapping, every field sent), each change alone against it, and the
    result-preserving changes together."""
    v4 = mapping(4)
    sparse = [without_empty(d) for d in full]
    return [
        Variant(BASE, "mapping v4, documents as sent now (empty fields included)", v4, full),
        Variant("v3-context", "mapping v3: one completion field with the kind as a category context (the "
                "search box's queries are v4's: not compared)", mapping(3), [with_context(d) for d in full],
                comparable=False),
        Variant("no-empty", "v4, documents without empty strings, empty lists and nulls", v4, sparse),
        Variant("no-docvalues", f"v4 with `doc_values: false` on {', '.join(UNSORTED_KEYWORDS)}",
                _with(v4, _no_doc_values), full),
        Variant("no-index", f"v4 with `index: false` on {', '.join(UNSEARCHED)} (doc values kept)",
                _with(v4, _not_indexed), full),
        Variant("src-excludes", "v4 with the search-only fields left out of `_source`",
                _with(v4, _source_excludes), full),
        Variant("no-suggest", "v4 documents without the completion fields (prices them)", v4,
                _drop(full, *SUGGEST_FIELDS), pricing_only=True),
        Variant("suggest-flags", "v4 with `preserve_separators` and `preserve_position_increments` off "
                "on the completion fields", _with(v4, _suggest_flags), full),
        Variant("no-catchall", "v4 documents without `all_t` and `all_cjk` (prices the catch-all copies)", v4,
                _drop(full, "all_t", "all_cjk"), pricing_only=True),
        Variant("no-v3-fields", "v4 documents without the issue 13 search fields (every `*_cjk` incl. "
                "`all_cjk`, `*_py`, `publisher_t`, `callnumber`; prices them)", v4, _drop(full, *V3_ONLY),
                pricing_only=True),
        Variant("merge-wide", "v4 with the merge policy allowing 30 segments a tier (Lucene's default: 10)",
                _with_settings(v4, {"merge.policy.segments_per_tier": 30}), full),
        Variant("no-subject-suggest", "v4 documents without `suggest_subject` (prices it)", v4,
                _drop(full, "suggest_subject"), pricing_only=True),
        Variant("keys-30", "v4 documents with every completion input cut to 30 characters (50 now)", v4,
                [shorter_keys(d, 30) for d in full], comparable=False),
        Variant("keys-20", "v4 documents with every completion input cut to 20 characters (50 now)", v4,
                [shorter_keys(d, 20) for d in full], comparable=False),
        Variant("kw-headings", "v4 with `suggest_author` and `suggest_subject` as keyword fields (doc values)",
                _with(v4, keyword_heading_fields), [keyword_headings(d) for d in full], comparable=False),
        Variant("combined", "`no-empty` + `no-docvalues` + `no-index` together",
                _with(v4, _combined), sparse),
    ]


def node_cpu(es: Elasticsearch) -> float:
    stats = es.nodes.stats(metric="process")["nodes"]
    return sum(node["process"]["cpu"]["total_in_millis"] for node in stats.values()) / 1000


def wait_for_merges(es: Elasticsearch, index: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        merges = es.indices.stats(index=index, metric="merge")["_all"]["primaries"]["merges"]
        if merges["current"] == 0:
            return
        time.sleep(0.2)


def load(es: Elasticsearch, variant: Variant, name: str) -> tuple[float, int]:
    """(node CPU seconds, store bytes) of bulk-loading the variant's documents into a new index."""
    es.indices.delete(index=name, ignore_unavailable=True)
    es.indices.create(index=name, settings=variant.body["settings"], mappings=variant.body["mappings"])
    before = node_cpu(es)
    actions = ({"_index": name, "_id": d["id"], "_source": d} for d in variant.docs)
    for ok, item in helpers.parallel_bulk(es, actions, chunk_size=500, raise_on_error=False):
        if not ok:
            raise SystemExit(f"{variant.name}: a document was refused: {item}")
    es.indices.refresh(index=name)
    wait_for_merges(es, name)
    used = node_cpu(es) - before
    size = es.indices.stats(index=name, metric="store")["_all"]["primaries"]["store"]["size_in_bytes"]
    return used, size


def warm(es: Elasticsearch, variant: Variant, least: int = 12, most: int = 16) -> list[float]:
    """Load the baseline until three loads in a row lie within 5 % of their median (at least
    ``least`` loads: after 8 the node was still getting cheaper by a few per cent a load)."""
    per_doc: list[float] = []
    for i in range(most):
        used, _ = load(es, variant, "bench19-esdoc-warm")
        per_doc.append(used / len(variant.docs) * 1e6)
        print(f"warm-up load {i + 1}: {per_doc[-1]:.0f} µs/doc", flush=True)
        last = per_doc[-3:]
        if i + 1 >= least and max(last) - min(last) <= 0.05 * statistics.median(last):
            break
    es.indices.delete(index="bench19-esdoc-warm", ignore_unavailable=True)
    return per_doc


def suggest_prefixes(docs: list[Doc], count: int = 120) -> list[str]:
    """Prefixes a reader might type: the start of titles and authors, Latin, Han and pinyin."""
    out: list[str] = []
    step = max(1, len(docs) // count)
    for d in docs[::step]:
        display = d["display"]
        title = display.get("title") or ""
        out.append(title[:2] if not title[:1].isascii() else title[:4])
        if display.get("authors"):
            out.append(display["authors"][0][:5])
        if d.get("title_py"):
            out.append(d["title_py"][:6])
    return sorted({p.strip() for p in out if p.strip()})


def answers(es: Elasticsearch, index: str, queries: list[str], prefixes: list[str]) -> dict[str, Any]:
    """What a reader sees: the first 50 hits (ids in order), the total and the facets of every
    query, and the suggestions of every prefix."""
    services = SimpleNamespace(es=es, settings=SimpleNamespace(records_alias=index, max_result_window=10_000))
    profile = load_profile()
    out: dict[str, Any] = {}
    for text in queries:
        try:
            result = search(services, SearchQuery(q=text, size=50), profile)  # type: ignore[arg-type]
        except SearchError as exc:
            out[f"q:{text}"] = f"error {exc}"
            continue
        out[f"q:{text}"] = (result["total"], [h["id"] for h in result["hits"]], result["facets"])
    for prefix in prefixes:
        out[f"s:{prefix}"] = [(s.text, s.kind) for s in suggest(services, prefix)]  # type: ignore[arg-type]
    return out


def judged_queries() -> list[str]:
    return [text for name in ("demo", "lc") for _, _, text in read_set(JUDGEMENTS / name).queries]


def measure(es: Elasticsearch, chosen: list[Variant], rounds: int) -> tuple[dict[str, list[float]], dict[str, int],
                                                                     list[float]]:
    """Node CPU µs per document of every variant in every round (forward, then backward order)."""
    cpu: dict[str, list[float]] = {v.name: [] for v in chosen}
    sizes: dict[str, int] = {}
    loads: list[float] = []
    for r in range(rounds):
        loads.append(os.getloadavg()[0])
        for variant in chosen if r % 2 == 0 else chosen[::-1]:
            name = f"bench19-esdoc-{variant.name}"
            used, sizes[variant.name] = load(es, variant, name)
            cpu[variant.name].append(used / len(variant.docs) * 1e6)
            print(f"round {r + 1} {variant.name}: {cpu[variant.name][-1]:.0f} µs/doc "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
            es.indices.delete(index=name, ignore_unavailable=True)
    return cpu, sizes, loads


def load_in_order(es: Elasticsearch, variant: Variant, name: str) -> None:
    """The variant's documents in one segment in corpus order (one client thread, no refresh until
    the end, then a force merge), so that ties among suggestions fall the same way in every index:
    the completion suggester's ``skip_duplicates`` keeps whichever duplicate it meets first."""
    es.indices.delete(index=name, ignore_unavailable=True)
    settings = {**variant.body["settings"], "refresh_interval": "-1"}
    es.indices.create(index=name, settings=settings, mappings=variant.body["mappings"])
    helpers.bulk(es, ({"_index": name, "_id": d["id"], "_source": d} for d in variant.docs), chunk_size=500)
    es.indices.refresh(index=name)
    es.options(request_timeout=600).indices.forcemerge(index=name, max_num_segments=1)


def check(es: Elasticsearch, chosen: list[Variant], queries: list[str], prefixes: list[str]) -> dict[str, int | str]:
    """How many answers of each variant differ from the baseline's; ``v4 again`` (the baseline
    loaded a second time) shows the comparison itself is stable."""
    changed: dict[str, int | str] = {}
    reference: dict[str, Any] | None = None
    for variant in [*chosen, Variant(f"{BASE} again", "", chosen[0].body, chosen[0].docs)]:
        if not variant.comparable:
            changed[variant.name] = "not compared"
            continue
        name = f"bench19-esdoc-check-{variant.name.replace(' ', '-')}"
        load_in_order(es, variant, name)
        got = answers(es, name, queries, prefixes)
        es.indices.delete(index=name)
        reference = reference if reference is not None else got
        changed[variant.name] = sum(got[k] != reference[k] for k in reference)
        print(f"check {variant.name}: {changed[variant.name]} answers differ", flush=True)
    return changed


def report(chosen: list[Variant], n: int, warmup: list[float], result: tuple[Any, ...], checks: int,
           rounds: int) -> str:
    cpu, sizes, loads, changed = result
    base = statistics.median(cpu[BASE])
    rows = [f"| variant | node CPU µs/doc, median | range | vs {BASE} | same-round ratio to {BASE}: median (range) | "
            f"index size, MB (unmerged) | answers changed (of {checks:,}) |", "|---|---|---|---|---|---|---|"]
    for v in chosen:
        med = statistics.median(cpu[v.name])
        ratios = [x / b for x, b in zip(cpu[v.name], cpu[BASE], strict=True)]
        note = " (pricing a field)" if v.pricing_only else ""
        rows.append(f"| `{v.name}`: {v.what} | **{med:.0f}** | {min(cpu[v.name]):.0f}–{max(cpu[v.name]):.0f} | "
                    f"{med - base:+.0f} µs | {statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) | "
                    f"{sizes[v.name] / 1e6:.1f} | {changed[v.name]}{note} |")
    return "\n".join([
        f"{stamp()}. Machine: {machine()}; shared with other engineers' runs, load average "
        f"{min(loads):.1f}–{max(loads):.1f} at the rounds' starts. `bench/es_doc_cost.py`.",
        "",
        f"{n:,} union documents (the first LC Books All 2016 part 1 records + its Chinese records, one "
        f"source each), built once in Python. One private node, warmed by {len(warmup)} loads of the "
        f"baseline ({warmup[0]:.0f} → {warmup[-1]:.0f} µs/doc); then {rounds} rounds, the variants "
        "alternating (forward, then backward), each into a fresh index with the mapping's settings: "
        "`parallel_bulk` chunks of 500, a refresh, the wait until no merge runs (merges included), "
        "node `process.cpu` before and after; the median and range over the rounds. Answers compared "
        "with the baseline's afterwards, each variant loaded once more in corpus order into one "
        "segment (so that ties fall alike): the first 50 hits in order, totals and facets of every "
        "judged query (`bench/judgements`), and suggestions for prefixes of the corpus' titles, "
        "authors and pinyin.",
        "",
        *rows,
        "",
        f"The baseline loaded a second time for the comparison differed from the first in "
        f"{changed[BASE + ' again']} answers.",
    ])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latin", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warm-loads", type=int, default=12, help="least warm-up loads of the baseline")
    parser.add_argument("--only", action="append", help=f"variants to run ({BASE} always runs)")
    parser.add_argument("--section", default="Elasticsearch CPU per indexed document, by mapping variant",
                        help="the RESULTS.md section --write replaces")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    data = shared_data() / "marc21"
    records = unions(raw_records(data / "lc-booksall-2016-part01.mrc.gz", args.latin)
                     + raw_records(data / "lc-booksall-2016-part01-chinese.mrc.gz", None))
    full = [to_es_document(u) for u in records]
    chosen = variants(full)
    if args.only:
        chosen = [v for v in chosen if v.name == BASE or v.name in args.only]
    queries, prefixes = judged_queries(), suggest_prefixes(full)
    work = Path(Settings().var_dir) / "bench" / "es_doc_cost"
    with es_node(work) as url:
        es = Elasticsearch(url, request_timeout=300)
        warmup = warm(es, chosen[0], least=args.warm_loads)
        result = (*measure(es, chosen, args.rounds), check(es, chosen, queries, prefixes))
    text = report(chosen, len(full), warmup, result, len(queries) + len(prefixes), args.rounds)
    print(text)
    if args.write:
        write_section(args.section, text, heading=HEADING)


if __name__ == "__main__":
    main()
