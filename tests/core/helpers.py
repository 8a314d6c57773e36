"""Helpers for the core tests: real records from the repo's demo/test data, as members would send them."""

from __future__ import annotations

import copy
import gzip
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pymarc

from harvesters.base import HarvestedRecord
from unicat.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "data"
RECORDS = REPO / "tests" / "data" / "records"


def read_marc(path: Path, limit: int | None = None) -> list[pymarc.Record]:
    opener = gzip.open if path.suffix == ".gz" else open
    out: list[pymarc.Record] = []
    with opener(path, "rb") as fh:  # type: ignore[operator]
        for record in pymarc.MARCReader(fh, to_unicode=True, force_utf8=False, utf8_handling="replace"):
            if record is None:
                continue
            out.append(record)
            if limit and len(out) >= limit:
                break
    return out


def read_marcxml(path: Path) -> list[pymarc.Record]:
    return pymarc.parse_xml_to_array(str(path))


def as_harvested(records: Iterable[pymarc.Record], syntax: str | None = None) -> list[HarvestedRecord]:
    out = []
    for record in records:
        record = copy.deepcopy(record)
        record.leader = record.leader[:9] + "a" + record.leader[10:]
        out.append(
            HarvestedRecord(
                local_id=record["001"].data.strip(), raw=record.as_marc(), encoding="iso2709", syntax=syntax
            )
        )  # type: ignore[arg-type]
    return out


def variant(
    record: pymarc.Record,
    local_id: str,
    *,
    isbns: list[str] | None = None,
    title: str | None = None,
    part: str | None = None,
    edition: str | None = None,
    year: str | None = None,
    author: str | None = None,
    pages: str | None = None,
    publisher: str | None = None,
) -> pymarc.Record:
    """A copy of a real record as another library (or a later edition) would have catalogued it."""
    rec = copy.deepcopy(record)
    rec.remove_fields("001", "010", "015", "016", "035")  # another library's own numbers
    rec.add_ordered_field(pymarc.Field(tag="001", data=local_id))
    if isbns is not None:
        rec.remove_fields("020")
        for isbn in isbns:
            rec.add_ordered_field(
                pymarc.Field(tag="020", indicators=[" ", " "], subfields=[pymarc.Subfield("a", isbn)])
            )
    if title is not None or part is not None:
        field = rec["245"]
        if title is not None:
            field["a"] = title
            for linked in rec.get_fields("880"):
                if (linked.get("6") or "").startswith("245"):
                    rec.remove_field(linked)
        if part is not None:
            field.add_subfield("n", part)
            for linked in rec.get_fields("880"):
                if (linked.get("6") or "").startswith("245"):
                    linked.add_subfield("n", part)
    if author is not None:
        rec.remove_fields("100", "110", "111")
        for linked in rec.get_fields("880"):
            if (linked.get("6") or "")[:1] == "1":
                rec.remove_field(linked)
        rec.add_ordered_field(pymarc.Field(tag="100", indicators=["1", " "], subfields=[pymarc.Subfield("a", author)]))
    if pages is not None:
        rec.remove_fields("300")
        rec.add_ordered_field(pymarc.Field(tag="300", indicators=[" ", " "], subfields=[pymarc.Subfield("a", pages)]))
    if edition is not None:
        rec.remove_fields("250")
        rec.add_ordered_field(pymarc.Field(tag="250", indicators=[" ", " "], subfields=[pymarc.Subfield("a", edition)]))
    if publisher is not None:
        for linked in rec.get_fields("880"):
            if (linked.get("6") or "").startswith(("260", "264")):
                rec.remove_field(linked)
        for f in rec.get_fields("260", "264"):
            f["b"] = publisher
    if year is not None:
        data = rec["008"].data
        rec["008"].data = data[:7] + year + data[11:]
        for tag in ("260", "264"):
            for f in rec.get_fields(tag):
                if f.get("c"):
                    f["c"] = year
    return rec


def isbn13(first12: str) -> str:
    """A valid ISBN-13 from its first 12 digits (test records need numbers that really check)."""
    total = sum((1 if i % 2 == 0 else 3) * int(d) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def admin_headers(services: object, member: str = "nlc", username: str = "console-admin") -> dict[str, str]:
    """A consortium administrator's bearer token, for the administrators' endpoints."""
    from ill.auth import create_account, issue_token

    account = create_account(services, member_code=member, username=username,  # type: ignore[arg-type]
                             password="admin password", kind="admin")
    return {"Authorization": f"Bearer {issue_token(services, account)}"}  # type: ignore[arg-type]


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a real `unicat` process needs to use this test's database, index and var dir."""
    return {
        **os.environ,
        "UNICAT_VAR_DIR": str(settings.var_dir),
        "UNICAT_DATABASE_URL": settings.sqlalchemy_url,
        "UNICAT_ES_URL": settings.es_url,
        "UNICAT_INDEX_PREFIX": settings.index_prefix,
        **extra,
    }


def run_cli(services: object, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run `python -m unicat.cli ARGS` against the test's services and capture its output."""
    env = cli_env(services.settings)  # type: ignore[attr-defined]
    return subprocess.run(
        [sys.executable, "-m", "unicat.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
