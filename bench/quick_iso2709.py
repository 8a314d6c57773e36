"""Check and price :mod:`mappings.iso2709`, the quicker decoding of UTF-8 ISO 2709 records.

1. **Same records.** Every ISO 2709 record of the shared MARC files (``$UNICAT_SHARED_DATA``:
   ``marc21/*.mrc[.gz]``, ``unimarc/*.mrc``, every ``peer-fixtures`` file ending ``.mrc``, ``.dat``,
   ``.marc``, ``.iso``, ``.usm``, ``.bin``) is read by pymarc as ``marcio._parse_fast`` asks it
   (``force_utf8``, strict UTF-8) and by :func:`mappings.iso2709.decode_utf8`. Where the quick
   decoder takes a record, its leader and every field (tag, control data, indicators, subfield
   codes and values, in order) must equal pymarc's; where pymarc raises, the quick decoder must
   decline. Any difference is printed and fails the run.
2. **Cost.** CPU µs per record of each decoder alone over the first ``--parse-records`` LC records,
   ``--rounds`` rounds alternating the order.

    python bench/quick_iso2709.py [--parse-records 20000] [--rounds 5] [--write]
"""

from __future__ import annotations

import argparse
import gzip
import logging
import statistics
import sys
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from pymarc import Record

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import LC_FILE, cpu_us, machine, shared_data, stamp, write_section  # noqa: E402
from harvesters.files import split_iso2709  # noqa: E402
from mappings.iso2709 import decode_utf8  # noqa: E402

HEADING = "## MARC readers (issue 19)"
SECTION = "MARC readers: the quick UTF-8 decoder against pymarc's"
SUFFIXES = (".mrc", ".dat", ".marc", ".iso", ".usm", ".bin", ".mrc.gz")


def files(data: Path) -> list[Path]:
    return [p for folder in ("marc21", "unimarc", "peer-fixtures") for p in sorted((data / folder).rglob("*"))
            if p.is_file() and p.name.lower().endswith(SUFFIXES)]


def records(path: Path) -> Iterator[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        for raw, _problem in split_iso2709(stream):
            yield raw


def pymarc_record(raw: bytes) -> Record | None:
    try:
        return Record(data=raw, to_unicode=True, force_utf8=True, hide_utf8_warnings=True, utf8_handling="strict")
    except Exception:
        return None


def shape(record: Record) -> tuple:
    return str(record.leader), tuple(
        (f.tag, f.control_field, f.data, tuple(f.indicators or ()), tuple((s.code, s.value) for s in f.subfields))
        for f in record.fields)


def compare(path: Path, counts: Counter[str]) -> list[str]:
    differences = []
    for number, raw in enumerate(records(path)):
        counts["records"] += 1
        quick = decode_utf8(raw)
        slow = pymarc_record(raw)
        if quick is None:
            counts["declined"] += 1
            continue
        counts["taken"] += 1
        if slow is None:
            differences.append(f"{path.name} #{number}: pymarc refuses what the quick decoder took")
        elif shape(quick) != shape(slow):
            differences.append(f"{path.name} #{number}: fields differ")
    return differences


def costs(raws: list[bytes], rounds: int) -> dict[str, list[float]]:
    decoders = {"pymarc": pymarc_record, "quick": decode_utf8}
    measured: dict[str, list[float]] = {name: [] for name in decoders}
    for round_ in range(rounds):
        for name in (list(decoders) if round_ % 2 == 0 else list(reversed(decoders))):
            measured[name].append(cpu_us(decoders[name], raws))
    return measured


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parse-records", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write the section into bench/RESULTS.md")
    args = parser.parse_args(argv)
    logging.getLogger("pymarc").setLevel(logging.ERROR)  # its notes on the broken fixtures it reads
    warnings.simplefilter("ignore")
    data = shared_data()
    counts: Counter[str] = Counter()
    differences: list[str] = []
    paths = files(data)
    for path in paths:
        differences += compare(path, counts)
    lc = []
    for raw in records(data / LC_FILE):
        lc.append(raw)
        if len(lc) >= args.parse_records:
            break
    measured = costs(lc, args.rounds)
    pymarc_us, quick_us = (statistics.median(measured[name]) for name in ("pymarc", "quick"))
    body = "\n".join([
        f"{stamp()}. {machine()}.",
        "",
        f"Same records: {counts['records']:,} ISO 2709 records from {len(paths)} files (the LC files, the other "
        f"shared MARC files and every peer fixture); the quick decoder took {counts['taken']:,} and left "
        f"{counts['declined']:,} to pymarc. **Differences from pymarc where it took a record: "
        f"{len(differences)}.**",
        "",
        f"Cost, first {len(lc):,} LC records, {args.rounds} alternating rounds, one process (CPU µs a record, "
        f"median): pymarc {pymarc_us:.1f}, quick {quick_us:.1f}, **ratio {quick_us / pymarc_us:.2f}**. "
        f"Rounds: pymarc {', '.join(f'{v:.1f}' for v in measured['pymarc'])}; "
        f"quick {', '.join(f'{v:.1f}' for v in measured['quick'])}.",
    ])
    print(body)
    for line in differences[:40]:
        print(line)
    if args.write:
        write_section(SECTION, body, heading=HEADING)
    if differences:
        raise SystemExit(f"{len(differences)} records differ")


if __name__ == "__main__":
    main()
