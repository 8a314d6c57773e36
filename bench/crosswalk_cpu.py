"""Benchmark: a crosswalk worker's CPU per MARC record, and proof that a change keeps its output.

What a worker process of :mod:`catalog.crosswalk_pool` does for a page is timed as the pool does
it: ``_map_in_worker`` over pages of ``--page`` records (parse, crosswalk, match keys, JSON text of
the document, :class:`~catalog.crosswalk_pool.PageKeys`) and the pickling of the page's result,
which is what crosses back to the main process. CPU time (``time.process_time``) of one process,
no pool: the worker's share of the build CPU, without the scheduler's noise.

Two checkouts can be compared (``--against DIR``, another checkout of this repository, e.g. a
``git archive`` of the commit before a change): each round runs one child process per checkout,
their order alternating, so both meet the same load on a shared machine. ``--check`` instead
makes both checkouts map the same records and compares every record's document text, reject
message and match keys (every field) between them:

    python bench/crosswalk_cpu.py --records 5000 --rounds 5 [--against DIR] [--write]
    python bench/crosswalk_cpu.py --check --against DIR [--check-records 20000]

The checked records: the first ``--check-records`` LC records, the whole Chinese LC file, the other
shared MARC 21 / UNIMARC / dedup files, every sample under ``tests/data/records`` and the demo
members' files.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TREE_ENV = "UNICAT_BENCH_TREE"
LC_FILE = "marc21/lc-booksall-2016-part01.mrc.gz"
Item = tuple[bytes, str, str | None]


def _shared_data() -> Path:
    return Path(os.environ.get("UNICAT_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()


def _iso2709(path: Path, limit: int | None = None) -> Iterator[bytes]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    count, buffer = 0, b""
    with opener(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            *records, buffer = (buffer + chunk).split(b"\x1d")
            for record in records:
                record = record.lstrip(b"\r\n\t \x00\x1a")
                if record:
                    yield record + b"\x1d"
                    count += 1
                    if limit is not None and count >= limit:
                        return


def lc_items(count: int) -> list[Item]:
    return [(raw, "iso2709", None) for raw in _iso2709(_shared_data() / LC_FILE, count)]


def _xml_records(path: Path) -> Iterator[bytes]:
    from lxml import etree

    try:
        root = etree.parse(str(path)).getroot()
    except etree.XMLSyntaxError:  # a malformed sample: the whole file, a named reject
        yield path.read_bytes()
        return
    if root.tag.rpartition("}")[2] == "dc":
        yield etree.tostring(root, encoding="UTF-8")
        return
    for element in root.iter():
        if element.tag.rpartition("}")[2] in ("record", "dc") and element is not root:
            yield etree.tostring(element, encoding="UTF-8")


def check_items(lc_count: int) -> list[tuple[str, Item]]:
    """(source, item) for every record the equality check maps."""
    data = _shared_data()
    out: list[tuple[str, Item]] = [("lc", item) for item in lc_items(lc_count)]
    files = sorted((data / "marc21").iterdir()) + sorted((data / "unimarc").iterdir())
    files += sorted((data / "dedup").iterdir()) + sorted((ROOT / "tests" / "data" / "records").rglob("*"))
    files += sorted((ROOT / "demo" / "data").rglob("*"))
    for path in files:
        if path.name == LC_FILE.rsplit("/", 1)[1]:
            continue
        source = f"{path.parent.name}/{path.name}"
        if path.suffix in (".mrc", ".gz"):
            out += [(source, (raw, "iso2709", None)) for raw in _iso2709(path)]
        elif path.suffix in (".xml", ".marcxml"):
            out += [(source, (raw, "xml", None)) for raw in _xml_records(path)]
    return out


# ---- child processes: run in the checkout under test ---------------------------------------------


def _canonical(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple):
        return [_canonical(v) for v in value]
    return value


def _keys_json(keys: Any) -> Any:
    if keys is None:
        return None
    return {f.name: _canonical(getattr(keys, f.name)) for f in dataclasses.fields(keys)}


def _whole(keys: Any) -> Any:
    """The :class:`MatchKeys` of a mapped record's keys (a checkout may hand them out lazily)."""
    return keys.unpacked() if keys is not None and hasattr(keys, "unpacked") else keys


def _through_a_worker(item: Item) -> list[Any]:
    """Each way a worker process can send a record's match keys, as the main process reads them
    back: ``[strong, weak, every field]`` per way (a checkout of before ``PageKeys`` has one)."""
    import catalog.crosswalk_pool as pool

    def wire(value: Any) -> Any:
        return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))

    if hasattr(pool, "SentKeys"):
        _, _, keys = pool.map_one(item)
        ways = [wire(pool.SentKeys.of(keys))] if keys else []
    else:
        ways = [pool._received(wire(pool._map_in_worker([item], whole)))[0][2] for whole in (False, True)]
    return [[k.strong, k.weak, _keys_json(k.unpacked())] for k in ways if k is not None]


def child_dump(items_path: Path, out_path: Path) -> None:
    """Every record's (document text, reject, match keys, match keys as the main process reads
    them back from a worker), one JSON line each."""
    from catalog.crosswalk_pool import map_one

    items: list[tuple[str, Item]] = pickle.loads(items_path.read_bytes())
    with open(out_path, "w", encoding="utf-8") as out:
        for source, item in items:
            text, problem, keys = map_one(item)
            received = _through_a_worker(item)
            if len(received) == 2:  # both ways must agree; one is written, as a checkout of before sends one
                assert received[0] == received[1], source
                received = received[:1]
            line = [source, text, problem, _keys_json(_whole(keys)), received[0] if received else None]
            out.write(json.dumps(line, ensure_ascii=False) + "\n")


#: Records mapped before the clock starts (imports, OpenCC, regular expressions), not timed.
WARMUP = 200


def child_time(items_path: Path, page: int, kind: str) -> dict[str, Any]:
    """CPU µs per record of a fresh process mapping the records once: ``kind`` "worker" for the
    worker's whole page (crosswalk, PageKeys, pickling the result), "map_one" for the crosswalk,
    match keys and JSON text alone."""
    import catalog.crosswalk_pool as pool

    items: list[Item] = pickle.loads(items_path.read_bytes())
    pool.map_all(items[-WARMUP:])
    items = items[:-WARMUP]
    pages = [items[i : i + page] for i in range(0, len(items), page)]
    start = time.process_time()
    for chunk in pages:
        if kind == "worker":
            pickle.dumps(pool._map_in_worker(chunk), pickle.HIGHEST_PROTOCOL)
        else:
            pool.map_all(chunk)
    spent = time.process_time() - start
    return {f"{kind}_us": spent / len(items) * 1e6, "reader": _reader_name()}


def _reader_name() -> str:
    try:
        from mappings.marclib import NAME
    except ImportError:
        return "pymarc"
    return str(NAME)


def _child_main(args: argparse.Namespace) -> None:
    if args.child == "dump":
        child_dump(Path(args.items), Path(args.out))
    else:
        print(json.dumps(child_time(Path(args.items), args.page, args.child)))


# ---- the parent -----------------------------------------------------------------------------------


def _run_child(tree: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    environ = {**os.environ, TREE_ENV: str(tree), **(env or {})}
    command = [sys.executable, str(Path(__file__).resolve()), *extra]
    return subprocess.run(command, env=environ, check=True, capture_output=True, text=True, cwd=tree).stdout


def _write_items(items: Any) -> Path:
    with tempfile.NamedTemporaryFile(prefix="crosswalk-cpu-", suffix=".pickle", delete=False) as handle:
        handle.write(pickle.dumps(items))
    return Path(handle.name)


def run_check(args: argparse.Namespace) -> int:
    items = check_items(args.check_records)
    items_path = _write_items(items)
    outputs = []
    try:
        for tree in (Path(args.against), ROOT):
            out = items_path.with_suffix(f".{len(outputs)}.jsonl")
            _run_child(tree, "--child", "dump", "--items", str(items_path), "--out", str(out))
            outputs.append(out)
        return _compare(outputs[0], outputs[1], len(items))
    finally:
        for path in (items_path, *outputs):
            path.unlink(missing_ok=True)


def _compare(before: Path, after: Path, total: int) -> int:
    differ, counts, rejects = 0, {}, 0
    with open(before, encoding="utf-8") as a, open(after, encoding="utf-8") as b:
        for line_a, line_b in zip(a, b, strict=True):
            source = json.loads(line_a)[0]
            counts[source] = counts.get(source, 0) + 1
            rejects += json.loads(line_a)[2] is not None
            if line_a != line_b:
                differ += 1
                if differ <= 5:
                    print("DIFFERENT:", line_a[:300], line_b[:300], sep="\n  ")
    print(f"{total} records ({rejects} rejects) from {len(counts)} sources; {differ} differ")
    print(", ".join(f"{name} {n}" for name, n in sorted(counts.items())))
    return 1 if differ else 0


def run_timing(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    items_path = _write_items(lc_items(args.records + WARMUP))  # the last WARMUP warm the process
    trees = {"after": ROOT} if not args.against else {"before": Path(args.against), "after": ROOT}
    env = {"UNICAT_MARC_READER": args.reader} if args.reader else None
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    try:
        for round_no in range(args.rounds):
            order = list(trees) if round_no % 2 == 0 else list(reversed(trees))
            for name in order:
                measured: dict[str, Any] = {}
                for kind in ("worker", "map_one"):
                    measured |= json.loads(_run_child(trees[name], "--child", kind, "--items", str(items_path),
                                                      "--page", str(args.page), env=env))
                results[name].append(measured)
                print(f"round {round_no + 1} {name}: {measured}", flush=True)
    finally:
        items_path.unlink(missing_ok=True)
    return results


def summary(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = []
    for name, runs in results.items():
        for key in ("map_one_us", "worker_us"):
            values = [r[key] for r in runs]
            lines.append(f"{name} {key}: median {statistics.median(values):.0f} "
                         f"(range {min(values):.0f}-{max(values):.0f}, {len(values)} runs, {runs[0]['reader']})")
    if "before" in results:
        for key in ("map_one_us", "worker_us"):
            ratios = [a[key] / b[key] for a, b in zip(results["after"], results["before"], strict=True)]
            lines.append(f"after / before {key}, same round: median {statistics.median(ratios):.3f} "
                         f"(range {min(ratios):.3f}-{max(ratios):.3f})")
    lines.append(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--page", type=int, default=125, help="records a worker maps at once")
    parser.add_argument("--against", help="another checkout to alternate with (or to check against)")
    parser.add_argument("--reader", choices=("pymarc", "rmarc"), help="UNICAT_MARC_READER for both checkouts")
    parser.add_argument("--check", action="store_true", help="compare outputs instead of timing")
    parser.add_argument("--check-records", type=int, default=20000)
    parser.add_argument("--child", choices=("dump", "worker", "map_one"), help=argparse.SUPPRESS)
    parser.add_argument("--items", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child_main(args)
        return
    if args.check:
        if not args.against:
            parser.error("--check needs --against")
        sys.exit(run_check(args))
    print("\n".join(summary(run_timing(args))))


if __name__ == "__main__":
    if os.environ.get(TREE_ENV):
        sys.path.insert(0, os.environ[TREE_ENV])
    main()
