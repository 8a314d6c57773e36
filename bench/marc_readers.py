"""Benchmark: pymarc against the Rust-backed MARC readers on PyPI (rmarc, mrrc), side by side.

Two questions, answered in one run:

1. **Identical documents.** Every shared sample (the MARC records under ``tests/data/records``,
   ``$UNICAT_SHARED_DATA/marc21/*``, ``unimarc/*``, ``dedup/*``) and every record of the 250,000-record
   LC file goes through unicat's crosswalk (:func:`mappings.crosswalk` + match keys) once with each
   reader; each reader's document (or named reject) is compared field by field with pymarc's.
   How each reader is put under the crosswalk:

   - **rmarc** follows pymarc's API, so ``mappings.marcio`` (and the crosswalks' ``Record``/``Field``
     names) run unchanged on rmarc's classes: its ``Record(data=…)`` for ISO 2709, its
     ``marc8_to_unicode`` for the MARC-8 fallback, its ``Field``/``Subfield`` for MARCXML records.
   - **mrrc** has its own object model and cannot hand back undecoded bytes (``to_unicode=False`` has
     no effect), so it replaces only the fast path (``marcio._parse_fast``: the whole record decoded
     in the charset leader/09 names, strict structure) and its record is copied into pymarc
     objects; the per-subfield MARC-8/UTF-8 fallback stays pymarc's. A record whose leader lies
     about its charset, or whose decoding had to replace bytes (U+FFFD not in the input), goes to
     that fallback, as pymarc's strict decoding would send it. MARCXML does not involve a reader.

2. **Parse cost.** CPU µs per record (``time.process_time``, one process) of the reader alone
   (bytes → decoded record) and of ``parse_iso2709`` on it (with unicat's NFC/NCR tidying), over
   the first ``--parse-records`` LC records, in ``--rounds`` rounds alternating the readers' order.

    python bench/marc_readers.py [--lc-records 250000] [--parse-records 20000] [--rounds 5] [--write]
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import importlib.metadata
import os
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pymarc
from lxml import etree

import mappings.holdings
import mappings.marc21
import mappings.marcio as marcio
import mappings.unimarc
from harvesters.files import split_iso2709
from mappings import CrosswalkError, crosswalk, match_keys, to_marcxml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import LC_FILE, cpu_us, machine, shared_data, stamp, write_section  # noqa: E402

READERS = ("pymarc", "rmarc", "mrrc")
ROOT = Path(__file__).resolve().parent.parent
Sample = tuple[str, list[tuple[bytes, str]]]


# ---- putting a reader under the crosswalk -------------------------------------------------------

@contextmanager
def _patched(module: Any, **names: Any) -> Iterator[None]:
    saved = {name: getattr(module, name) for name in names}
    for name, value in names.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


@contextmanager
def reader(name: str, adopted: bool = True) -> Iterator[None]:
    """Run the crosswalk with ``name``'s reader inside the block (see the module docstring);
    ``adopted``: as :mod:`mappings.marclib` uses it (pymarc's MARCXML writer), else all of it."""
    with ExitStack() as stack:
        library: Any = pymarc
        if name == "rmarc":
            import rmarc

            library = rmarc
        classes = {"Record": library.Record, "Field": library.Field}
        stack.enter_context(_patched(marcio, **classes, Subfield=library.Subfield, Indicators=library.Indicators,
                                     marc8_to_unicode=library.marc8_to_unicode,
                                     record_to_xml_node=pymarc.record_to_xml_node if adopted else
                                     library.record_to_xml_node))
        for module in (mappings.marc21, mappings.unimarc, mappings.holdings):
            stack.enter_context(_patched(module, **{k: v for k, v in classes.items() if hasattr(module, k)}))
        if name == "mrrc":
            stack.enter_context(_patched(marcio, _parse_fast=_mrrc_fast(marcio._parse_fast)))
        yield


def _mrrc_fast(pymarc_fast: Callable[[bytes, bool], pymarc.Record | None]) -> Callable[..., pymarc.Record | None]:
    import mrrc

    def parse_fast(raw: bytes, utf8: bool) -> pymarc.Record | None:
        if utf8 != (raw[9:10] == b"a"):
            return pymarc_fast(raw, utf8)  # the leader lies: mrrc would follow it
        try:
            found = next(iter(mrrc.MARCReader(raw, recovery_mode="strict")))
        except StopIteration as exc:
            raise CrosswalkError("unreadable ISO 2709 record: no record") from exc
        except Exception as exc:
            raise CrosswalkError(f"unreadable ISO 2709 record: {type(exc).__name__}: {exc}") from exc
        record = _to_pymarc(found)
        values = [s.value for f in record.fields if not f.control_field for s in f.subfields]
        if "\ufffd" in "".join(values) and b"\xef\xbf\xbd" not in raw:
            return None  # lossy decoding: pymarc's strict decoding would have failed
        if not utf8 and any("\x1b" in v for v in values):
            return None
        return record

    return parse_fast


def _to_pymarc(found: Any) -> pymarc.Record:
    record = pymarc.Record()
    record.leader = str(found.leader)
    fields = []
    for field in found.get_fields():
        if field.is_control_field():
            fields.append(pymarc.Field(tag=field.tag, data=field.data))
        else:
            ind = field.indicators
            fields.append(pymarc.Field(tag=field.tag, indicators=pymarc.Indicators(ind[0], ind[1]),
                                       subfields=[pymarc.Subfield(s.code, s.value) for s in field.subfields()]))
    record.fields = fields
    return record


# ---- samples -----------------------------------------------------------------------------------

def _marc_xml_records(data: bytes) -> list[bytes]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError:
        return [data]  # a broken file is one (rejected) sample, as the harvester would report it
    found = [e for e in root.iter() if isinstance(e.tag, str) and e.tag.rpartition("}")[2] == "record"
             and any(isinstance(c.tag, str) and c.tag.rpartition("}")[2] in ("leader", "datafield") for c in e)]
    return [etree.tostring(e) for e in found] or [data]


def read_sample(path: Path, limit: int | None = None) -> list[tuple[bytes, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        if ".xml" in path.name or ".marcxml" in path.name:
            return [(raw, "xml") for raw in _marc_xml_records(stream.read())]
        out = []
        for raw, _problem in split_iso2709(stream):
            out.append((raw, "iso2709"))
            if limit and len(out) >= limit:
                break
        return out


def samples(data: Path) -> list[Path]:
    paths = sorted(p for p in (ROOT / "tests" / "data" / "records").rglob("*")
                   if p.is_file() and not p.name.startswith(("dc-", "PROVENANCE")))
    for folder in ("marc21", "unimarc", "dedup"):
        paths += sorted(p for p in (data / folder).iterdir() if p.is_file() and p.name != Path(LC_FILE).name)
    return paths


# ---- documents ---------------------------------------------------------------------------------

def document(raw: bytes, encoding: str) -> dict[str, Any]:
    """The crosswalk's output for one record: document fields and match keys, or the reject."""
    try:
        doc = crosswalk(raw, encoding)
    except CrosswalkError as exc:
        return {"<reject>": str(exc)}
    out = doc.to_dict()
    keys = match_keys(doc)
    out["<match keys>"] = dataclasses.asdict(keys) if dataclasses.is_dataclass(keys) else repr(keys)
    return out


def compare_chunk(records: list[tuple[bytes, str]]) -> dict[str, Any]:
    """Each reader's documents against pymarc's: per reader, records that differ, the fields that
    differ (counted) and a few examples."""
    result: dict[str, Any] = {"records": len(records), "rejects": 0}
    with reader("pymarc"):
        base = [document(raw, enc) for raw, enc in records]
    result["rejects"] = sum(1 for d in base if "<reject>" in d)
    for name in READERS[1:]:
        differing, fields, examples = 0, Counter(), []
        with reader(name):
            docs = [document(raw, enc) for raw, enc in records]
        for (raw, _enc), ours, theirs in zip(records, base, docs, strict=True):
            if ours == theirs:
                continue
            differing += 1
            changed = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
            if changed == ["<reject>"] and "<reject>" in ours and "<reject>" in theirs:
                changed = ["<reject> (both reject; message differs)"]
            fields.update(changed)
            if len(examples) < 3:
                key = changed[0]
                examples.append((raw[:24].decode("latin-1"), key, repr(ours.get(key))[:160],
                                 repr(theirs.get(key))[:160]))
        result[name] = {"differing": differing, "fields": fields, "examples": examples}
    return result


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"records": 0, "rejects": 0}
    for name in READERS[1:]:
        total[name] = {"differing": 0, "fields": Counter(), "examples": []}
    for part in results:
        total["records"] += part["records"]
        total["rejects"] += part["rejects"]
        for name in READERS[1:]:
            total[name]["differing"] += part[name]["differing"]
            total[name]["fields"].update(part[name]["fields"])
            total[name]["examples"] += part[name]["examples"][: max(0, 3 - len(total[name]["examples"]))]
    return total


def compare_lc(path: Path, limit: int, processes: int) -> dict[str, Any]:
    records = read_sample(path, limit)
    chunks = [records[i : i + 1000] for i in range(0, len(records), 1000)]
    with ProcessPoolExecutor(processes) as pool:
        return merge(list(pool.map(compare_chunk, chunks)))


def marcxml(raw: bytes, encoding: str) -> str:
    try:
        return to_marcxml(raw, encoding)
    except CrosswalkError as exc:
        return f"<reject> {exc}"


def compare_marcxml(paths: list[Path]) -> tuple[int, dict[str, int]]:
    """MARCXML for display (:func:`mappings.to_marcxml`) of every sample record: how many differ from
    pymarc's with rmarc entirely, and with rmarc as :mod:`mappings.marclib` uses it."""
    total, differing = 0, {"rmarc (its own MARCXML writer)": 0, "rmarc as adopted (pymarc's writer)": 0}
    for path in paths:
        records = read_sample(path)
        with reader("pymarc"):
            base = [marcxml(raw, enc) for raw, enc in records]
        total += len(records)
        for label, adopted in zip(differing, (False, True), strict=True):
            with reader("rmarc", adopted=adopted):
                other = [marcxml(raw, enc) for raw, enc in records]
            differing[label] += sum(a != b for a, b in zip(base, other, strict=True))
    return total, differing


# ---- parse cost --------------------------------------------------------------------------------

def _reader_alone(name: str) -> Callable[[bytes], object]:
    if name == "pymarc":
        return lambda raw: pymarc.Record(data=raw, to_unicode=True, force_utf8=raw[9:10] == b"a",
                                         hide_utf8_warnings=True, utf8_handling="strict")
    if name == "rmarc":
        import rmarc

        return lambda raw: rmarc.Record(data=raw, to_unicode=True, force_utf8=raw[9:10] == b"a",
                                        hide_utf8_warnings=True, utf8_handling="strict")
    import mrrc

    return lambda raw: _to_pymarc(next(iter(mrrc.MARCReader(raw, recovery_mode="strict"))))


def _mrrc_native(raw: bytes) -> object:
    import mrrc

    return next(iter(mrrc.MARCReader(raw, recovery_mode="strict")))


def parse_costs(raws: list[bytes], rounds: int) -> dict[str, list[float]]:
    """CPU µs per record of each way of parsing, one list entry per round; order rotated each round."""
    ways: dict[str, Callable[[bytes], object]] = {f"{n}: reader alone": _reader_alone(n) for n in READERS}
    ways["mrrc: reader alone, its own objects (no copy)"] = _mrrc_native
    for name in READERS:
        def parse(raw: bytes, _name: str = name) -> object:
            with reader(_name):
                return marcio.parse_iso2709(raw)
        ways[f"{name}: parse_iso2709"] = parse
    costs: dict[str, list[float]] = {label: [] for label in ways}
    labels = list(ways)
    for round_no in range(rounds):
        order = labels[round_no % len(labels):] + labels[: round_no % len(labels)]
        for label in order:
            fn = ways[label]
            if label.endswith("parse_iso2709"):  # patch once around the loop, not per record
                name = label.partition(":")[0]
                with reader(name):
                    costs[label].append(cpu_us(marcio.parse_iso2709, raws))
            else:
                costs[label].append(cpu_us(fn, raws))
    return costs


# ---- report ------------------------------------------------------------------------------------

def versions() -> str:
    return ", ".join(f"{n} {importlib.metadata.version(n)}" for n in READERS)


def report(sample_rows: list[tuple[str, dict[str, Any]]], lc: dict[str, Any] | None, lc_name: str,
           costs: dict[str, list[float]], parse_n: int, rounds: int) -> str:
    lines = [f"{stamp()}. Machine: {machine()}; load average at the end "
             f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (shared). Readers: {versions()}.", "",
             f"Parse cost, CPU µs per record (one process, first {parse_n:,} LC records, {rounds} rounds "
             f"alternating; median, range):", "",
             "| reader | CPU µs per record | range | ÷ pymarc |", "|---|---|---|---|"]
    for label, values in costs.items():
        base_label = "pymarc: parse_iso2709" if label.endswith("parse_iso2709") else "pymarc: reader alone"
        ratio = statistics.median(values) / statistics.median(costs[base_label])
        lines.append(f"| {label} | {statistics.median(values):,.1f} | {min(values):,.1f}–{max(values):,.1f} | "
                     f"{ratio:.2f} |")
    lines += ["", "Documents through the crosswalk (document fields + match keys, or the reject), each reader "
              "against pymarc:", "",
              "| sample | records | pymarc rejects | rmarc: records differing | mrrc: records differing |",
              "|---|---|---|---|---|"]
    rows = sample_rows + ([(lc_name, lc)] if lc else [])
    for name, res in rows:
        lines.append(f"| {name} | {res['records']:,} | {res['rejects']:,} | {res['rmarc']['differing']:,} | "
                     f"{res['mrrc']['differing']:,} |")
    lines += ["", "Fields that differ (records) and examples (leader; field; pymarc; other reader):", ""]
    for name in READERS[1:]:
        fields: Counter[str] = Counter()
        examples: list[tuple[str, ...]] = []
        for sample, res in rows:
            fields.update(res[name]["fields"])
            examples += [(sample, *e) for e in res[name]["examples"]][: max(0, 6 - len(examples))]
        lines.append(f"- **{name}**: " + (", ".join(f"`{k}` {v:,}" for k, v in fields.most_common())
                                          or "none"))
        for sample, leader, key, ours, theirs in examples:
            lines.append(f"  - {sample}, leader `{leader}`, `{key}`: pymarc `{ours}` / {name} `{theirs}`")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lc-records", type=int, default=250_000, help="LC records compared (0: none)")
    ap.add_argument("--parse-records", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--processes", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    ap.add_argument("--marcxml-only", action="store_true",
                    help="only compare the MARCXML for display on the samples (its own RESULTS.md subsection)")
    args = ap.parse_args(argv)
    data = shared_data()
    if args.marcxml_only:
        total, differing = compare_marcxml(samples(data))
        text = "\n".join([f"{stamp()}. Readers: {versions()}. MARCXML for display (`mappings.to_marcxml`) of "
                          f"all {total:,} sample records (the samples of the table above, not the LC file), "
                          "against pymarc's:", ""] + [f"- {k}: {v:,} records differ" for k, v in differing.items()])
        print(text)
        if args.write:
            write_section("MARC readers: MARCXML for display", text, heading="## MARC readers (issue 19)")
        return
    lc_path = data / LC_FILE
    raws = [raw for raw, _ in read_sample(lc_path, args.parse_records)]
    costs = parse_costs(raws, args.rounds)
    print(costs, flush=True)
    rows = []
    for path in samples(data):
        res = compare_chunk(read_sample(path))
        name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else f"shared {path.relative_to(data)}"
        rows.append((name, res))
        print(name, res["records"], res["rmarc"]["differing"], res["mrrc"]["differing"], flush=True)
    lc = compare_lc(lc_path, args.lc_records, args.processes) if args.lc_records else None
    text = report(rows, lc, f"shared {LC_FILE} (first {args.lc_records:,})", costs, len(raws), args.rounds)
    print(text)
    if args.write:
        write_section("MARC readers: pymarc, rmarc, mrrc", text, heading="## MARC readers (issue 19)")


if __name__ == "__main__":
    main()
