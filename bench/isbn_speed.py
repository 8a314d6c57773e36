"""ISBN checking speed: python-stdnum in the crosswalk against hand-written check digits (issue 14).

Run from the repository root::

    .venv/bin/python bench/isbn_speed.py [--limit 50000]

The crosswalk reads every ISBN of every harvested record. It used to compute check digits by hand
because isbnlib's ``is_isbn10`` + ``to_isbn13`` cleaned each string up five times (16.6 against
10.3 µs an ISBN); it now finds the ISBN in the text as catalogued and checks it with python-stdnum.
This measures, on the 020 $a values of the LC file's first ``--limit`` records as catalogued:

* **ceiling**: the bare hand-written check-digit arithmetic on the first word (what the crosswalk
  did before, without isbnlib's clean-up), the fastest pure-Python reading;
* **crosswalk**: :func:`mappings._common.split_isbns` as shipped (first word, then the text as
  typed; python-stdnum checks);
* **isbnlib**: isbnlib's ``canonical`` + ``is_isbn10``/``is_isbn13`` + ``to_isbn13`` on the first word.

Reported as microseconds of CPU per ISBN and as ratios to the ceiling measured in the same run, with
the share of one record's crosswalk time that ISBNs now take.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import isbnlib
import pymarc

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from build_dedup_labels import LC_FILE, data_dir  # noqa: E402

from mappings._common import split_isbns  # noqa: E402


def _check13(first12: str) -> str:
    return str((10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(first12)) % 10) % 10)


def hand_written(value: str) -> str | None:
    """The previous crosswalk's arithmetic, on the first word with hyphens removed."""
    canon = value.strip().split(" ")[0].strip("():;,.").replace("-", "").upper()
    if len(canon) == 10 and canon[:9].isdigit():
        total = sum((10 - i) * int(c) for i, c in enumerate(canon[:9]))
        check = (11 - total % 11) % 11
        if canon[9] != ("X" if check == 10 else str(check)):
            return None
        return "978" + canon[:9] + _check13("978" + canon[:9])
    if len(canon) == 13 and canon.isdigit() and canon[:3] in ("978", "979"):
        return canon if canon[12] == _check13(canon[:12]) else None
    return None


def with_isbnlib(value: str) -> str | None:
    canon = isbnlib.canonical(value.strip().split(" ")[0])
    if len(canon) == 10 and isbnlib.is_isbn10(canon):
        return isbnlib.to_isbn13(canon) or None
    return canon if len(canon) == 13 and isbnlib.is_isbn13(canon) else None


def shipped(value: str) -> str | None:
    valid: list[str] = []
    split_isbns([value], valid, [])
    return valid[0] if valid else None


def values(limit: int) -> list[str]:
    out: list[str] = []
    with gzip.open(data_dir() / LC_FILE, "rb") as stream:
        reader = pymarc.MARCReader(stream, to_unicode=True, force_utf8=True, utf8_handling="replace")
        for n, record in enumerate(reader):
            if n >= limit:
                break
            if record is not None:
                out += [v for f in record.get_fields("020") for v in f.get_subfields("a")]
    return out


def cpu_us(function, items: list[str], rounds: int = 5) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for item in items:
            function(item)
        best = min(best, time.process_time() - start)
    return best / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=50_000)
    args = parser.parse_args()
    items = values(args.limit)
    agree = sum(1 for v in items if shipped(v) == hand_written(v))
    ceiling = cpu_us(hand_written, items)
    rows = [("ceiling: hand-written check digits", ceiling), ("crosswalk: split_isbns (python-stdnum)",
            cpu_us(shipped, items)), ("isbnlib canonical + is_isbn + to_isbn13", cpu_us(with_isbnlib, items))]
    print(f"{len(items)} ISBNs (020 $a of the first {args.limit} LC records); shipped == hand-written on {agree}")
    for value in items:
        if shipped(value) != hand_written(value):
            print(f"  differ: {value!r}: shipped {shipped(value)}, hand-written {hand_written(value)}")
    print("| reading | µs CPU per ISBN | ratio to ceiling |")
    print("|---|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.2f} | {us / ceiling:.2f} |")


if __name__ == "__main__":
    main()
