"""ILL benchmark: requests created and routed per second with N concurrent patrons, and the time from
a lender's "unfilled" to the request reaching the next lender.

    python -m bench.ill_routing                       # SQLite in a temporary folder
    python -m bench.ill_routing --database-url postgresql://user@host:port/db

Uses the crafted consortium of the ILL tests (5 members, 2 regions) with records served from memory,
so it measures the ILL service and the database, not the catalogue or live availability.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from catalog.context import build_services
from ill import intake
from ill.auth import actor_of
from ill.policies import update_policy
from ill.service import Details, transition
from store.db import transaction
from tests.ill.consortium import Catalogue, seed
from unicat.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL and use it")
    parser.add_argument("--patrons", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="per patron")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ill-bench-"))
    server = None
    if args.postgres:
        from unicat.localsvc import postgres
        from unicat.localsvc.process import free_port

        tmp.chmod(0o755)
        server = postgres.start(tmp / "pg", free_port())
        args.database_url = server.url
    settings = Settings(var_dir=tmp, database_url=args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}")
    services = build_services(settings)
    catalogue = Catalogue()
    catalogue.install(services)
    accounts = seed(services)
    with transaction(services.db) as session:  # measure routing, not the lending limits
        for code in ("PKU", "TSU", "BNU", "FDU", "SJTU"):
            update_policy(session, code, {"max_open_lending": 1_000_000})
    for i in range(200):
        catalogue.add(f"b{i}", f"Book {i}", {"TSU": "available", "BNU": "unknown", "FDU": "available",
                                             "SJTU": "available"})
    patron = actor_of(accounts["patron_pku"])

    def one_patron(n: int) -> list[int]:
        ids = []
        for k in range(args.requests):
            form = intake.RequestForm(union_id=f"b{(n * args.requests + k) % 200}")
            ids.append(asyncio.run(intake.create(services, patron, form)).id)
        return ids

    started = time.perf_counter()
    with ThreadPoolExecutor(args.patrons) as pool:
        ids = [i for chunk in pool.map(one_patron, range(args.patrons)) for i in chunk]
    elapsed = time.perf_counter() - started
    print(f"{settings.sqlalchemy_url.split(':')[0]}: {len(ids)} requests created and routed by {args.patrons} "
          f"concurrent patrons in {elapsed:.2f}s = {len(ids) / elapsed:.1f}/s")
    lenders = {c: actor_of(accounts[f"staff_{c.lower()}"]) for c in ("TSU", "BNU", "FDU", "SJTU")}
    waits = []
    with services.db() as session:
        from ill.models import IllRequest

        current = {r.id: r.lender_code for r in session.query(IllRequest).filter(IllRequest.id.in_(ids[:200]))}
    for rid, lender in current.items():
        if lender is None:
            continue
        t0 = time.perf_counter()
        req = transition(services, rid, "unfilled", lenders[lender], details=Details(reason="NotOnShelf"))
        waits.append((time.perf_counter() - t0) * 1000)
        assert req.lender_code != lender
    print(f"unfilled -> next lender: median {statistics.median(waits):.1f} ms, "
          f"p95 {sorted(waits)[int(len(waits) * 0.95)]:.1f} ms over {len(waits)} requests")
    services.close()
    if server is not None:
        server.stop()


if __name__ == "__main__":
    main()
