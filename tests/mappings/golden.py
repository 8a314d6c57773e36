"""Golden-file support: sample records in ``tests/data/records``, expected documents in
``tests/data/golden``.

Regenerate after a deliberate mapping change with ``python -m tests.mappings.golden`` and read
the diff: a golden file that encodes a bug is worse than none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from mappings import crosswalk, match_keys

DATA = Path(__file__).resolve().parent.parent / "data"
RECORDS = DATA / "records"
GOLDEN = DATA / "golden"
SAMPLES = sorted(p.name for p in RECORDS.iterdir() if p.suffix in (".mrc", ".xml"))


def split_records(name: str) -> Iterator[tuple[bytes, str]]:
    """The raw records of a sample file as a harvester hands them over: one ISO 2709 record, or
    one ``<record>`` / ``<oai_dc:dc>`` element serialised as UTF-8."""
    path = RECORDS / name
    if path.suffix == ".mrc":
        for chunk in path.read_bytes().split(b"\x1d"):
            if chunk.strip():
                yield chunk + b"\x1d", "iso2709"
        return
    root = etree.parse(str(path)).getroot()
    if root.tag.rpartition("}")[2] == "dc":
        yield etree.tostring(root, encoding="UTF-8"), "xml"
        return
    for element in root:
        yield etree.tostring(element, encoding="UTF-8"), "xml"


def expected_output(name: str) -> list[dict[str, Any]]:
    """What the crosswalk and match keys produce today for every record of a sample."""
    out = []
    for raw, encoding in split_records(name):
        doc = crosswalk(raw, encoding)
        keys = match_keys(doc)
        out.append({
            "document": doc.to_dict(),
            "match_keys": {"strong": list(keys.strong), "weak": keys.weak, "part": keys.part,
                           "year": keys.year, "format": keys.format, "pages": keys.pages},
        })
    return out


def golden_path(name: str) -> Path:
    return GOLDEN / (name.rsplit(".", 1)[0] + ".json")


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name in SAMPLES:
        text = json.dumps(expected_output(name), ensure_ascii=False, indent=1, sort_keys=True)
        golden_path(name).write_text(text + "\n", encoding="utf-8")
        print("wrote", golden_path(name))


if __name__ == "__main__":
    main()
