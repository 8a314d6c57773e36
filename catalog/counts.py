"""The catalogue's size as its front page shows it ("N works, M records from K member libraries").

The front page is the most visited page, and counting a million live records takes tens of
milliseconds even from an index, so each process counts at most once every :data:`COUNTS_TTL`
seconds; the figures are that much behind a running harvest at most."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from catalog.context import Services
from store.models import Cluster, Member, SourceRecord

COUNTS_TTL = 60.0
_EXTRA = "catalogue_counts"


def catalogue_counts(services: Services) -> dict[str, int]:
    """``{"members", "records", "works"}``: member libraries, live source records, union records."""
    now = time.monotonic()
    cached = services.extras.get(_EXTRA)
    if isinstance(cached, tuple) and now - cached[0] < COUNTS_TTL:
        return dict(cached[1])
    with services.db() as session:
        counts = {
            "members": session.scalar(select(func.count()).select_from(Member)) or 0,
            "records": session.scalar(
                select(func.count()).select_from(SourceRecord).where(SourceRecord.deleted.is_(False))) or 0,
            "works": session.scalar(select(func.count()).select_from(Cluster)) or 0,
        }
    services.extras[_EXTRA] = (now, counts)
    return dict(counts)
