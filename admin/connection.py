""""Check connection": run a feed's real protocol against the member's server, briefly, and report
what the server answered and how long each step took, within a time limit.

- OAI-PMH: Identify, then ListMetadataFormats (is the configured prefix offered?).
- Z39.50: init (connect), then the feed's first query and one record fetched.
- SRU: explain.
- Files over HTTP(S): a HEAD request (status, size, ETag).
- Holdings (ILS-DI, NCIP, SRU, Z39.50 OPAC): one live look-up of one of the member's records.

The address policy (:mod:`catalog.addresses`) is applied again first.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

import httpx

from catalog.addresses import AddressRefused, check_member
from harvesters.xmlsafe import parse_xml
from unicat.settings import Settings

OAI = "{http://www.openarchives.org/OAI/2.0/}"
Step = dict[str, Any]


class _Clock:
    def __init__(self, limit: float) -> None:
        self.started, self.limit = time.monotonic(), limit

    def left(self) -> float:
        left = self.limit - (time.monotonic() - self.started)
        if left <= 0:
            raise TimeoutError(f"no answer within {self.limit:g} s")
        return left


def _timed(steps: list[Step], name: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    start = time.monotonic()
    try:
        detail = call()
    except Exception as exc:
        steps.append({"name": name, "ok": False, "ms": round((time.monotonic() - start) * 1000),
                      "detail": {"error": f"{type(exc).__name__}: {exc}"}})
        raise
    steps.append({"name": name, "ok": True, "ms": round((time.monotonic() - start) * 1000), "detail": detail})
    return detail


def _oai_get(clock: _Clock, url: str, params: dict[str, str]) -> Any:
    answer = httpx.get(url, params=params, timeout=clock.left(), follow_redirects=False)
    answer.raise_for_status()
    root = parse_xml(answer.content)
    error = root.find(f"{OAI}error")
    if error is not None:
        raise ValueError(f"OAI-PMH error {error.get('code')}: {(error.text or '').strip()}")
    return root


def _check_oai(feed: dict[str, Any], clock: _Clock, steps: list[Step]) -> None:
    def identify() -> dict[str, Any]:
        node = _oai_get(clock, feed["url"], {"verb": "Identify"}).find(f"{OAI}Identify")
        names = ("repositoryName", "protocolVersion", "earliestDatestamp", "deletedRecord", "granularity")
        return {n: (node.findtext(f"{OAI}{n}") or "").strip() for n in names} if node is not None else {}

    def formats() -> dict[str, Any]:
        root = _oai_get(clock, feed["url"], {"verb": "ListMetadataFormats"})
        prefixes = [(e.text or "").strip() for e in root.iter(f"{OAI}metadataPrefix")]
        wanted = feed.get("metadata_prefix", "marc21")
        if wanted not in prefixes:
            raise ValueError(f"the provider does not offer {wanted!r} (it offers {', '.join(prefixes)})")
        return {"formats": prefixes, "configured": wanted}

    _timed(steps, "Identify", identify)
    _timed(steps, "ListMetadataFormats", formats)


def _check_z3950(feed: dict[str, Any], clock: _Clock, steps: list[Step]) -> None:
    from harvesters.zoom import Connection

    holder: dict[str, Any] = {}

    def init() -> dict[str, Any]:
        holder["conn"] = Connection(feed["host"], int(feed.get("port") or 210),
                                    database=feed.get("database", "Default"),
                                    syntax=feed.get("syntax", "usmarc"), timeout=clock.left(),
                                    user=feed.get("user"), password=feed.get("password"))
        return {"target": holder["conn"].target}

    def search() -> dict[str, Any]:
        query = (feed.get("queries") or ["@attr 1=1016 a"])[0]
        with holder["conn"].search(query, feed.get("query_type", "pqf")) as results:
            first = results.fetch(0, 1)
            return {"query": query, "hits": results.size,
                    "first_record_bytes": len(first[0].data) if first else 0}

    try:
        _timed(steps, "Init", init)
        _timed(steps, "Search (one record)", search)
    finally:
        if "conn" in holder:
            holder["conn"].close()


def _check_sru(feed: dict[str, Any], clock: _Clock, steps: list[Step]) -> None:
    def explain() -> dict[str, Any]:
        answer = httpx.get(feed["url"], params={"operation": "explain", "version": feed.get("version", "1.2")},
                           timeout=clock.left())
        answer.raise_for_status()
        root = parse_xml(answer.content)
        schemas = sorted({e.get("name") or "" for e in root.iter() if str(e.tag).endswith("}schema")} - {""})
        titles = [(e.text or "").strip() for e in root.iter() if str(e.tag).endswith("}title")]
        return {"title": titles[0] if titles else "", "schemas": schemas}

    _timed(steps, "explain", explain)


def _check_files(feed: dict[str, Any], clock: _Clock, steps: list[Step]) -> None:
    def head() -> dict[str, Any]:
        answer = httpx.head(feed["url_or_path"], timeout=clock.left())
        answer.raise_for_status()
        return {"status": answer.status_code, "size": answer.headers.get("content-length"),
                "etag": answer.headers.get("etag")}

    _timed(steps, "HEAD", head)


def _check_holdings(feed: dict[str, Any], clock: _Clock, steps: list[Step], sample_id: str | None) -> None:
    """One live look-up through the member's holdings connector (ILS-DI, NCIP, SRU, Z39.50 OPAC)
    for one of its records."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from pydantic import TypeAdapter

    from holdings.config import HoldingsConfig
    from holdings.connectors import LookupContext, connector_for

    if not sample_id:
        raise ValueError("the member has no harvested record to look up yet")
    connector = connector_for(TypeAdapter(HoldingsConfig).validate_python(feed))

    async def lookup() -> list[Any]:
        timeout = clock.left()
        async with httpx.AsyncClient(timeout=timeout) as client:
            with ThreadPoolExecutor(max_workers=1) as executor:
                ctx = LookupContext(http=client, executor=executor, timeout=timeout)
                return await connector.items({"local_ids": [sample_id], "harvested_items": []}, ctx)

    def one() -> dict[str, Any]:
        items = asyncio.run(lookup())
        return {"record": sample_id, "items": [i.to_dict() for i in items][:5], "count": len(items)}

    _timed(steps, f"lookup {feed.get('type')}", one)


CHECKS = {"oai": _check_oai, "z3950": _check_z3950, "sru": _check_sru, "files": _check_files,
          "holdings": _check_holdings}


def check_connection(settings: Settings, config: dict[str, Any], kind: str,
                     sample_id: str | None = None) -> dict[str, Any]:
    """{"feed", "ok", "ms", "steps": [{"name", "ok", "ms", "detail"}], "error"} for one feed of a member."""
    feed = config.get(kind)
    result: dict[str, Any] = {"feed": kind, "ok": False, "ms": 0, "steps": [], "error": None}
    if not isinstance(feed, dict) or kind not in CHECKS:
        result["error"] = f"no {kind} feed to check" if kind in CHECKS else f"{kind} cannot be checked here"
        return result
    refused: list[AddressRefused] = check_member(settings, {kind: feed})
    if refused:
        result["error"] = f"{refused[0].field}: {refused[0].message}"
        return result
    limit = settings.connection_check_timeout
    clock = _Clock(limit)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    extra = (sample_id,) if kind == "holdings" else ()
    future = pool.submit(CHECKS[kind], feed, clock, result["steps"], *extra)
    try:
        future.result(timeout=limit + 0.5)
        result["ok"] = True
    except concurrent.futures.TimeoutError:
        result["error"] = f"no answer within {limit:g} s"
    except Exception as exc:  # the server's answer (or silence) is the result
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        pool.shutdown(wait=False)
    result["ms"] = round((time.monotonic() - clock.started) * 1000)
    return result
