"""Engine and session construction (never at import time)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import ARRAY, ColumnElement, Engine, String, any_, bindparam, create_engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker


def encode_json(value: Any) -> str:
    """``value`` as the store's JSON columns hold it."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def decode_json(text: str | bytes) -> Any:
    return orjson.loads(text)


class EncodedJson(str):
    """The text of a value :func:`encode_json` encoded, for a JSON column: written as it is.

    The crosswalk workers encode each document (one orjson call costs less than pickling the
    nested dict back to the main process), and the store then writes that text instead of
    encoding the document a second time."""


def _json_dumps(value: Any) -> str:
    if type(value) is EncodedJson:
        return value
    return encode_json(value)


#: JSON columns (every stored record's document) are written and read with orjson: the standard
#: library's encoder cost ~40 µs per stored record, more than the INSERT itself.
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": decode_json}


#: SQLite's page cache per connection, KiB (its default is 2 MiB). A harvest inserts into indexes
#: keyed at random (match keys, union ids, the records' union ids), so every page of records touches
#: a new leaf of each, and with 2 MiB most of those leaves were read again from the file.
SQLITE_CACHE_KIB = 32 * 1024
#: Pages of write-ahead log before SQLite copies them back into the database (its default is
#: 1,000, about 4 MiB). One page of a large harvest dirties more than 1,000 pages, so the default
#: checkpointed after every commit, copying the same index leaves back again and again. At 10,000
#: (about 40 MiB of log) a checkpoint copies several commits' changes of a leaf once. Together with
#: the larger cache: the pipeline thread's CPU for a 100,000-record harvest 348 → 320 µs a record
#: (bench/RESULTS.md, "SQLite's page cache and checkpoints").
SQLITE_CHECKPOINT_PAGES = 10_000


def make_engine(url: str) -> Engine:
    """Build an engine; SQLite gets WAL, a busy timeout and foreign keys so that the API,
    a harvest and the worker can share one file."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **JSON_CODEC)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **JSON_CODEC)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


#: Values per look-up, insert or delete of a batch job (one ``in_values`` list, one statement).
CHUNK = 500


def chunks(values: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    """``values`` in lists of ``size`` (the last one shorter), for one statement each."""
    batch: list[Any] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def in_values(session: Session, column: Any, values: Iterable[str | int]) -> ColumnElement[bool]:
    """``column IN (values)`` bound as one parameter, for the look-ups of hundreds of ids a page.

    ``column.in_(values)`` binds every value as a parameter of its own, and SQLAlchemy coerces,
    names and renders each one on every execution: for the clustering's 500-value lists that cost
    more than SQLite's work. Here the whole list is one value: a JSON array read by ``json_each``
    on SQLite (the planner still searches the column's index once per value), an array compared
    with ``= ANY`` on PostgreSQL; other databases get the plain ``IN``. Values are strings or
    integers (JSON keeps them apart, so an integer column is compared with integers)."""
    values = list(values)
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        listed = func.json_each(bindparam(None, orjson.dumps(values).decode(), type_=String)).table_valued("value")
        return column.in_(select(listed.c.value))
    if dialect == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


_PREPARED: dict[tuple[str, Any, tuple[str, ...]], tuple[str, list[tuple[str, Any]]] | None] = {}


def _prepared(session: Session, stmt: Any, keys: tuple[str, ...]) -> tuple[str, list[tuple[str, Any]]] | None:
    """The SQL of ``stmt`` for this database and, per parameter in the driver's order, its name
    and the type's bind processor; None when the statement binds a value the rows do not carry
    (a column default), which only SQLAlchemy's own path fills in."""
    dialect = session.get_bind().dialect
    cache_key = (dialect.name, stmt, keys)
    if cache_key not in _PREPARED:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        names = list(compiled.positiontup or []) if dialect.positional else list(compiled.binds)
        if set(names) - set(keys):
            _PREPARED[cache_key] = None
        else:
            binds = compiled.binds
            procs = [(n, binds[n].type.dialect_impl(dialect).bind_processor(dialect)) for n in names]
            _PREPARED[cache_key] = (str(compiled), procs)
    return _PREPARED[cache_key]


def execute_many(session: Session, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """Run ``stmt`` (an INSERT or UPDATE without RETURNING, built once by the caller and reused)
    once per row, in one driver ``executemany``. Every row has the same keys.

    ``session.execute(stmt, rows)`` compiles and processes each row's parameters in Python
    (``construct_params``, per-row dictionaries): for the pages of match keys, union records and
    outbox rows a harvest writes, more CPU than SQLite's own work. Here the statement is compiled
    once per database and key set, and each row becomes a tuple through the column types' own
    bind processors, so what reaches the database is what SQLAlchemy would have sent."""
    if not rows:
        return
    keys = tuple(rows[0])
    prepared = _prepared(session, stmt, keys)
    if prepared is None:
        session.execute(stmt, rows)
        return
    sql, procs = prepared
    procs = [(n, _memoised(p) if p else None) for n, p in procs]
    if session.get_bind().dialect.positional:
        params: list[Any] = [tuple(p(row[n]) if p else row[n] for n, p in procs) for row in rows]
    else:
        params = [{n: p(row[n]) if p else row[n] for n, p in procs} for row in rows]
    session.connection().exec_driver_sql(sql, params)


def _memoised(process: Any) -> Any:
    """``process`` remembering its last value: a page's rows share their timestamps (one ``now``),
    which SQLite's date type would otherwise format again for every row."""
    last: list[Any] = [_UNSET, None]

    def remembered(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return remembered


_UNSET = object()
