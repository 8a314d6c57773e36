"""The lock that keeps clustering by several processes equal to clustering one page after another.

Re-clustering a page reads the closure of its records through match keys, old union records and
merge decisions, then rewrites that closure. Two processes doing this at the same time on
PostgreSQL (READ COMMITTED) would each miss the other's uncommitted records and write two union
records where a sequential run writes one. So the clustering step of a page — from reading the
closure to the commit of the page — holds one transaction-scoped advisory lock
(``pg_advisory_xact_lock``), released by the commit or rollback, never left behind by a killed
process.

Why one lock and not one per match key: the closure is transitive through records that are
already committed (a record of member A holding keys of both B's and C's pages links them), so
per-key locks would have to be taken while the closure is discovered, in no global order, with
deadlocks to detect and pages to retry; a page of 500 records also holds a few thousand keys,
which would fill PostgreSQL's shared lock table (``max_locks_per_transaction`` × connections,
6,400 by default) with two or three workers. Fetching, crosswalking, storing the records and
their keys, and indexing stay parallel; only clustering is serial, and its share is measured
(``bench/parallel_harvest.py``). On SQLite the database's single writer lock already serialises
whole page transactions, so nothing is taken there.

A transaction that loses a deadlock or a serialisation check anyway (another lock order in a
maintenance job) is retried by the caller: :func:`is_retryable` says which errors those are.
"""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

#: The advisory lock id for clustering (any fixed 64-bit number; "unicatcl" in ASCII).
CLUSTER_LOCK_ID = 0x756E69636174636C
#: SQLSTATEs after which the whole transaction may simply be run again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
#: The server going away or coming back: admin_shutdown, crash_shutdown, cannot_connect_now.
RESTART_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def lock_clustering(session: Session) -> None:
    """Wait for, then hold until the end of the transaction, the right to re-cluster. The moment
    it was first granted is left in ``session.info["clustering_since"]`` (see :func:`held_since`)."""
    if "clustering_since" in session.info:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": CLUSTER_LOCK_ID})
    session.info["clustering_since"] = time.perf_counter()


def held_since(session: Session) -> float | None:
    """When this transaction was granted the clustering lock (``time.perf_counter()``), if it was.
    Forgotten on reading, so the next transaction of the same session starts afresh."""
    return session.info.pop("clustering_since", None)


def connection_lost(exc: BaseException) -> bool:
    """PostgreSQL's connection was cut or cannot be made (the server restarting, failing over):
    nothing of the transaction was kept, unless its commit reached the server before the cut."""
    if not isinstance(exc, OperationalError) or not type(exc.orig).__module__.startswith("psycopg"):
        return False
    state = getattr(exc.orig, "sqlstate", None)
    return exc.connection_invalidated or state is None or state in RESTART_SQLSTATES


def is_retryable(exc: BaseException) -> bool:
    """A deadlock or serialisation failure: the rolled-back transaction can be run again as is."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
