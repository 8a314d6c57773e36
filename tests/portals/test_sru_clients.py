"""Clients nobody here wrote, against ``unicat serve`` as a separate process: YAZ's yaz-client in
SRU mode, and unicat's own SRU harvester harvesting unicat into a second installation."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from sqlalchemy import func, select

from catalog.context import build_services
from catalog.members import sync_members
from catalog.pipeline import harvest_member
from store.db import transaction
from store.models import SourceRecord
from tests.portals.conftest import load_catalogue

pytestmark = pytest.mark.skipif(shutil.which("yaz-client") is None, reason="yaz (Debian) is installed by setup.sh")


def yaz(url: str, commands: list[str]) -> str:
    script = "\n".join([*commands, "quit", ""])
    done = subprocess.run(
        ["yaz-client", "-u", "", url], input=script, capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout + done.stderr


def test_yaz_client_explains_and_searches(settings, served):
    services = build_services(settings())
    try:
        load_catalogue(services)
        url = served(services.settings)
        out = yaz(f"{url}/sru", ["sru get 1.2", "explain"])
        assert "schema=http://explain.z3950.org/dtd/2.0/" in out and "<name set=\"dc\">title</name>" in out, out
        out = yaz(f"{url}/sru", ["sru get 1.2", "format xml", "schema marcxml", "find dc.title=pride", "show 1+2"])
        assert "Number of hits:" in out, out
        hits = int(out.split("Number of hits:")[1].split()[0].rstrip(","))
        title = {"match": {"title_t": "pride"}}
        assert hits == services.es.count(index=services.settings.records_alias, query=title)["count"]
        assert 'tag="852"' in out and "Pride" in out, out
        out = yaz(f"{url}/sru", ["sru get 1.2", "find dc.colour=red"])
        assert "info:srw/diagnostic/1/16" in out or "Unsupported index" in out, out
    finally:
        services.close()


def test_unicat_harvests_unicat_over_sru_with_the_same_record_count(settings, served):
    first = build_services(settings())
    second = build_services(settings())
    try:
        load_catalogue(first)
        url = served(first.settings)
        unions = first.es.count(index=first.settings.records_alias)["count"]
        with transaction(second.db) as session:
            member = {"code": "union", "name": {"zh": "联合目录", "en": "Union catalogue"}, "region": "national"}
            sru = {"url": f"{url}/sru", "version": "1.2", "record_schema": "marcxml", "batch": 10}
            sync_members(session, [{**member, "role": "member", "sru": sru}])
        reports = harvest_member(second, "union")
        assert [r.status for r in reports] == ["ok"], reports
        assert reports[0].added == unions and reports[0].rejected == 0
        second.es.indices.refresh(index=second.settings.records_alias)
        with second.db() as session:
            stored = session.scalar(select(func.count()).select_from(SourceRecord))
        assert stored == unions
        # the harvested copy is searchable in the second installation, Chinese included
        phrase = {"match_phrase": {"title_t": "文艺理论"}}
        assert second.es.count(index=second.settings.records_alias, query=phrase)["count"] == 1
    finally:
        first.close()
        second.close()
