"""``store.db.execute_many`` writes what SQLAlchemy's own executemany writes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from store.db import EncodedJson, encode_json, execute_many, make_engine
from store.models import Base, Cluster, HarvestRun, Member, SourceRecord
from tests.core.test_postgres import fresh_database

_INSERT = insert(SourceRecord.__table__)
_MOVE = (
    update(SourceRecord.__table__)
    .where(SourceRecord.__table__.c.id == bindparam("rid"))
    .values(cluster_id=bindparam("cid"), updated_at=bindparam("at"))
)


def _row(local_id: str, when: datetime, document: Any) -> dict[str, Any]:
    return {
        "member_code": "m", "local_id": local_id, "feed": "files", "syntax": "marc21", "encoding": "iso2709",
        "raw": b"\x1e00000\x1d", "checksum": "c" * 64, "datestamp": when, "deleted": document is None,
        "document": document, "harvest_run_id": 1, "updated_at": when, "first_seen": when, "cluster_id": None,
    }  # fmt: skip


def _stored(session: Session, prefix: str) -> list[dict[str, Any]]:
    """The rows whose local id starts with ``prefix``, without their ids, in local id order."""
    table = SourceRecord.__table__
    rows = session.execute(
        select(*(c for c in table.c if c.name not in ("id", "local_id")))
        .where(table.c.local_id.like(f"{prefix}%"))
        .order_by(table.c.local_id)
    )
    return [dict(row._mapping) for row in rows]


def _written_both_ways(engine: sa.Engine) -> None:
    Base.metadata.create_all(engine)
    when = datetime(2026, 12, 3, 12, 0, 0, 123456, tzinfo=UTC)
    documents = [{"title": "紅樓夢", "isbns": ["9787020002207"]}, EncodedJson(encode_json({"title": "Pride"})), None]
    with Session(engine) as session:
        session.add(Member(code="m", name_zh="m", name_en="m", region="r"))
        session.flush()
        session.add(HarvestRun(id=1, member_code="m", feed="files"))
        session.add(Cluster(id="u1", size=1))
        session.flush()
        session.execute(_INSERT, [_row(f"a{i}", when, doc) for i, doc in enumerate(documents)])
        execute_many(session, _INSERT, [_row(f"b{i}", when, doc) for i, doc in enumerate(documents)])
        assert _stored(session, "a") == _stored(session, "b")
        assert {row["updated_at"].replace(tzinfo=None) for row in _stored(session, "b")} == {when.replace(tzinfo=None)}
        assert [row["document"] for row in _stored(session, "b")][:2] == [documents[0], {"title": "Pride"}]
        # An UPDATE by primary key, and a row set whose statement needs a column default (first_seen):
        ids = dict(session.execute(select(SourceRecord.local_id, SourceRecord.id)).tuples().all())
        session.execute(_MOVE, [{"rid": ids[f"a{i}"], "cid": "u1", "at": when} for i in range(3)])
        execute_many(session, _MOVE, [{"rid": ids[f"b{i}"], "cid": "u1", "at": when} for i in range(3)])
        rows = [_row(f"c{i}", when, {"t": i}) for i in range(2)]
        execute_many(session, _INSERT, [{k: v for k, v in row.items() if k != "first_seen"} for row in rows])
        assert _stored(session, "a") == _stored(session, "b")
        assert all(row["first_seen"] is not None for row in _stored(session, "c"))  # from its default
        session.commit()


def test_execute_many_writes_what_sqlalchemy_writes_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        _written_both_ways(engine)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_execute_many_writes_what_sqlalchemy_writes_on_postgresql(postgres_url):
    engine = make_engine(fresh_database(postgres_url))
    try:
        _written_both_ways(engine)
    finally:
        engine.dispose()
