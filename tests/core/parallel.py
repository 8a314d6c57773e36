"""Members whose catalogues overlap, harvested by separate ``unicat harvest`` processes.

The records are real (the demo's UVA SirsiDynix and Pride and Prejudice samples); each member
holds an overlapping slice of them under its own 001s, as libraries holding the same books do, so
pages of different members harvested at the same time share match keys.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from tests.core.helpers import DEMO, read_marc, variant

REPO = Path(__file__).resolve().parents[2]


def overlapping_dumps(folder: Path, members: list[str], per_member: int = 900, step: int = 450) -> dict[str, Path]:
    """One ISO 2709 dump per member: member n holds records [n*step, n*step + per_member) of the
    real samples (Pride and Prejudice editions first, which share keys among themselves)."""
    real = read_marc(DEMO / "pku" / "pride-and-prejudice.mrc") + read_marc(DEMO / "pku" / "uva-sirsi.mrc.gz")
    dumps = {}
    for n, code in enumerate(members):
        chosen = real[n * step : n * step + per_member]
        path = folder / f"{code}.mrc"
        path.write_bytes(
            b"".join(variant(rec, f"{code}-{i}").as_marc() for i, rec in enumerate(chosen, n * step))
        )
        dumps[code] = path
    return dumps


def members_config(dumps: dict[str, Path], **feed: object) -> list[dict[str, object]]:
    return [
        {
            "code": code, "name": {"zh": code, "en": code}, "region": "north", "role": "member",
            "files": {"url_or_path": str(path), **feed},
        }  # fmt: skip
        for code, path in dumps.items()
    ]


def harvest_env(database_url: str, redis_url: str, var_dir: Path, es_url: str = "http://127.0.0.1:1") -> dict[str, str]:
    """Settings for a ``unicat`` subprocess (no Elasticsearch by default: projection is deferred)."""
    return {
        **os.environ,
        "UNICAT_DATABASE_URL": database_url,
        "UNICAT_REDIS_URL": redis_url,
        "UNICAT_ES_URL": es_url,
        "UNICAT_VAR_DIR": str(var_dir),
        "UNICAT_INDEX_PREFIX": "par",
    }


def start_harvest(code: str, env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    """``unicat harvest CODE`` in a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "unicat.cli", "harvest", code, *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def clusters(database_url: str) -> set[frozenset[tuple[str, str]]]:
    """The union records of a store as sets of (member, local id): what clustering decided."""
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT cluster_id, member_code, local_id FROM source_record WHERE cluster_id IS NOT NULL")
            ).all()
    finally:
        engine.dispose()
    groups: dict[str, set[tuple[str, str]]] = {}
    for cid, member, local_id in rows:
        groups.setdefault(cid, set()).add((member, local_id))
    return {frozenset(g) for g in groups.values()}


def source_counts(database_url: str) -> dict[str, int]:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT member_code, count(*) FROM source_record GROUP BY member_code")).all()
    finally:
        engine.dispose()
    return dict(rows)  # type: ignore[arg-type]
