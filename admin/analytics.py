"""Search analytics without personal data: daily counts only. No address, account, session id,
cookie or time of day is stored, and no row links one search to another; each search adds 1 to a
few ``(day, metric, key)`` counters. Rows older than ``analytics_retention_days`` are removed.

Metrics: ``searches`` (key ``all``), ``query`` (the folded query text), ``zero`` (queries with no
hit), ``click`` (queries a result was opened from), ``position`` (the result position opened),
``facet`` (a filter used), ``script`` (``chinese`` | ``latin`` | ``pinyin`` | ``mixed``).

Counts wait in this process's memory for at most :data:`FLUSH_SECONDS` and are then written in one
transaction, so that a search costs a dictionary update instead of a write transaction of its own
(on SQLite, twenty searching clients queued behind each other's write lock). A process that stops
writes what it holds on its way out (:func:`flush_counts` from the app's shutdown); one that is
killed loses at most those last seconds of counts."""

from __future__ import annotations

import csv
import io
import logging
import re
import threading
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from admin.models import SearchDaily
from catalog.context import Services
from mappings.textnorm import fold, has_han
from store.db import chunks, transaction

KEY_LENGTH = 255
#: Longest wait of a count in memory before it is written.
FLUSH_SECONDS = 2.0
log = logging.getLogger(__name__)
#: Mandarin syllables (toneless or with a tone digit): initial + final, or a final alone.
_SYLLABLE = (r"(?:(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
             r"(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|van|ai|ei|ao|ou|an|en|er|in|un|ia|ie|iu|ua|uo|ui|ue|ve|"
             r"a|o|e|i|u|v|ü)[1-5]?)")
_PINYIN_WORD = re.compile(rf"^{_SYLLABLE}+$")


def script_of(query: str) -> str:
    """``chinese`` (Han only), ``latin``, ``pinyin`` (every word splits into syllables), ``mixed``."""
    text = query.strip()
    han, latin = has_han(text), bool(re.search(r"[A-Za-z]", text))
    if han and latin:
        return "mixed"
    if han:
        return "chinese"
    words = re.findall(r"[A-Za-zü]+", text.lower())
    if words and all(len(w) >= 2 and _PINYIN_WORD.match(w) for w in words):
        return "pinyin"
    return "latin"


def normalise(query: str) -> str:
    return " ".join(fold(query).split())[:KEY_LENGTH]


def _bump(session: Session, day: date, counts: dict[tuple[str, str], int]) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    rows = [{"day": day, "metric": m, "key": k, "count": n} for (m, k), n in counts.items()]
    stmt = insert(SearchDaily).values(rows)
    stmt = stmt.on_conflict_do_update(index_elements=["day", "metric", "key"],
                                      set_={"count": SearchDaily.count + stmt.excluded.count})
    session.execute(stmt)


_purged_on: dict[str, date] = {}


def observe(services: Services, query: Any, result: dict[str, Any]) -> None:
    """The hook the search API and the search page call after answering: never lets a counting
    problem reach the searcher."""
    try:
        facets = [name for name, values in (query.filters or {}).items() if values]
        if query.year_from is not None or query.year_to is not None:
            facets.append("year")
        record_search(services, query.q or "", int(result.get("total") or 0), facets, page=query.page)
    except Exception:  # analytics must never break a search
        log.exception("search analytics could not count a search")


class _Held:
    """The counts of one store not written yet; a timer writes them :data:`FLUSH_SECONDS` after
    the first one arrived."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.lock = threading.Lock()
        self.counts: Counter[tuple[date, str, str]] = Counter()
        self.timer: threading.Timer | None = None

    def add(self, day: date, counts: dict[tuple[str, str], int]) -> None:
        with self.lock:
            for (metric, key), n in counts.items():
                self.counts[(day, metric, key)] += n
            if self.timer is None:
                self.timer = threading.Timer(FLUSH_SECONDS, self.write)
                self.timer.daemon = True
                self.timer.start()

    def write(self) -> None:
        with self.lock:
            counts, self.counts = self.counts, Counter()
            timer, self.timer = self.timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        if not counts:
            return
        by_day: dict[date, dict[tuple[str, str], int]] = defaultdict(dict)
        for (day, metric, key), n in counts.items():
            by_day[day][(metric, key)] = n
        try:
            _write(self.services, by_day)
        except Exception:  # analytics must never break a search: these counts are lost, said so
            log.exception("search analytics could not write %d counters", len(counts))

    close = write  # Services.close() closes its extras: what is held is written first


_held_lock = threading.Lock()
HELD_EXTRA = "search_counts"


def _held_for(services: Services) -> _Held:
    """The counts held for this store (one per set of services; ``Services.close`` writes them)."""
    with _held_lock:
        held = services.extras.get(HELD_EXTRA)
        if not isinstance(held, _Held):
            held = services.extras[HELD_EXTRA] = _Held(services)
        return held


def _write(services: Services, by_day: dict[date, dict[tuple[str, str], int]]) -> None:
    today = max(by_day)
    if _purged_on.get(services.settings.sqlalchemy_url) != today:
        _purged_on[services.settings.sqlalchemy_url] = today
        purge(services, today)
    with transaction(services.db) as session:
        for day, counts in sorted(by_day.items()):
            for batch in chunks(counts.items()):
                _bump(session, day, dict(batch))


def flush_counts(services: Services) -> None:
    """Write the counts this process holds for ``services`` now (reports, shutdown, tests)."""
    held = services.extras.get(HELD_EXTRA)
    if isinstance(held, _Held):
        held.write()


def record_search(services: Services, query: str, total: int, facets: list[str], *, page: int = 1,
                  day: date | None = None) -> None:
    """Count one search (first result pages only count as a query; later pages are paging)."""
    text = normalise(query)
    if not text or page > 1:
        return
    counts = {("searches", "all"): 1, ("query", text): 1, ("script", script_of(query)): 1}
    if total == 0:
        counts[("zero", text)] = 1
    for name in sorted(set(facets)):
        counts[("facet", name[:KEY_LENGTH])] = 1
    _held_for(services).add(day or datetime.now(UTC).date(), counts)


def record_click(services: Services, query: str, position: int, *, day: date | None = None) -> None:
    text = normalise(query)
    if not text or not 1 <= position <= 1000:
        return
    _held_for(services).add(day or datetime.now(UTC).date(), {("click", text): 1, ("position", str(position)): 1})


def purge(services: Services, today: date | None = None) -> int:
    """Drop the counters older than the retention period; how many rows went."""
    keep = services.settings.analytics_retention_days
    cutoff = (today or datetime.now(UTC).date()) - timedelta(days=keep)
    with transaction(services.db) as session:
        return session.execute(delete(SearchDaily).where(SearchDaily.day < cutoff)).rowcount or 0


def _totals(session: Session, metric: str, since: date) -> dict[str, int]:
    rows = session.execute(select(SearchDaily.key, func.sum(SearchDaily.count))
                           .where(SearchDaily.metric == metric, SearchDaily.day >= since)
                           .group_by(SearchDaily.key)).all()
    return {k: int(n) for k, n in rows}


def _top(counts: dict[str, int], n: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def report(services: Services, days: int = 30, top: int = 20) -> dict[str, Any]:
    flush_counts(services)
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    with services.db() as session:
        queries, zero = _totals(session, "query", since), _totals(session, "zero", since)
        clicks, positions = _totals(session, "click", since), _totals(session, "position", since)
        scripts, facets = _totals(session, "script", since), _totals(session, "facet", since)
        searches = _totals(session, "searches", since).get("all", 0)
        daily = session.execute(select(SearchDaily.day, SearchDaily.count)
                                .where(SearchDaily.metric == "searches", SearchDaily.day >= since)
                                .order_by(SearchDaily.day)).all()
    no_click = {q: n for q, n in queries.items() if q not in clicks}
    return {
        "days": days, "searches": searches,
        "top": _top(queries, top), "zero": _top(zero, top), "no_click": _top(no_click, top),
        "ctr_by_position": [(int(p), n, round(n / searches, 4) if searches else 0.0)
                            for p, n in sorted(positions.items(), key=lambda kv: int(kv[0]))][:20],
        "facets": _top(facets, top),
        "scripts": {s: round(scripts.get(s, 0) / searches, 3) if searches else 0.0
                    for s in ("chinese", "latin", "pinyin", "mixed")},
        "daily": [(d.isoformat(), n) for d, n in daily],
    }


def report_csv(services: Services, days: int = 30) -> str:
    """Every counter of the period as ``day,metric,key,count`` rows."""
    flush_counts(services)
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", "metric", "key", "count"])
    with services.db() as session:
        for row in session.scalars(select(SearchDaily).where(SearchDaily.day >= since)
                                   .order_by(SearchDaily.day, SearchDaily.metric, SearchDaily.key)):
            writer.writerow([row.day.isoformat(), row.metric, row.key, row.count])
    return out.getvalue()
