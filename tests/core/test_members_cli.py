"""The members file through the real CLI: invalid entries are named and nothing is changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import select

from catalog.context import build_services
from store.models import Member

GOOD = """
[[member]]
code = "pku"
name = { zh = "北京大学图书馆", en = "Peking University Library" }
region = "north"
oai = { url = "http://127.0.0.1:8081/oai", metadata_prefix = "marc21" }
"""
BAD = (
    GOOD.replace('code = "pku"', 'code = "pku"\nrole = "emperor"')
    + """
[[member]]
code = "Bad Code"
name = { zh = "坏" }
region = "east"
files = { url_or_path = "x.mrc", format = "pdf" }
"""
)
LOOPBACK = ["127.0.0.1/32"]  # the members here harvest providers on this machine, as the demo's do


def run_cli(settings, members_file, *args):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "UNICAT_VAR_DIR": str(settings.var_dir),
        "UNICAT_DATABASE_URL": settings.sqlalchemy_url,
        "UNICAT_MEMBERS": str(members_file),
        "UNICAT_ES_URL": settings.es_url,
        "UNICAT_INDEX_PREFIX": settings.index_prefix,
        "UNICAT_FEED_ALLOWLIST": json.dumps(settings.feed_allowlist),
        "UNICAT_FEED_ALLOW_PRIVATE": str(settings.feed_allow_private).lower(),
    }
    return subprocess.run(
        [sys.executable, "-m", "unicat.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_invalid_members_file_names_member_and_field_and_changes_nothing(settings, tmp_path):
    s = settings(es=False, feed_allowlist=LOOPBACK)
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(BAD, encoding="utf-8")
    assert run_cli(s, good, "members", "load").returncode == 0
    result = run_cli(s, bad, "members", "load")
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "member 'pku': role" in message
    assert "member 'Bad Code': code" in message and "name.en" in message and "files.format" in message
    services = build_services(s)
    with services.db() as session:
        members = session.scalars(select(Member)).all()
    services.close()
    assert [(m.code, m.role) for m in members] == [("pku", "member")]


def test_broken_toml_and_unknown_member_are_named_errors(settings, tmp_path):
    s = settings(es=False, feed_allowlist=LOOPBACK)
    broken = tmp_path / "broken.toml"
    broken.write_text("[[member]\ncode = ", encoding="utf-8")
    result = run_cli(s, broken, "members", "load")
    assert result.returncode == 2 and "not valid TOML" in result.stderr
    good = tmp_path / "good.toml"
    good.write_text(GOOD, encoding="utf-8")
    result = run_cli(s, good, "harvest", "nosuch")
    assert result.returncode == 2 and "unknown member 'nosuch'" in result.stderr


def test_regions_table_names_regions_and_every_member_region_must_be_in_it(settings, tmp_path):
    s = settings(es=False, feed_allowlist=LOOPBACK)
    named = tmp_path / "named.toml"
    named.write_text('[regions]\nnorth = { zh = "华北地区", en = "North China" }\n' + GOOD, encoding="utf-8")
    assert run_cli(s, named, "members", "load").returncode == 0
    services = build_services(s)
    with services.db() as session:
        (member,) = session.scalars(select(Member)).all()
    services.close()
    assert member.config["region_name"] == {"zh": "华北地区", "en": "North China"}
    missing = tmp_path / "missing.toml"
    missing.write_text('[regions]\neast = { zh = "华东地区" }\n' + GOOD, encoding="utf-8")
    result = run_cli(s, missing, "members", "load")
    message = " ".join(result.stderr.split())
    assert result.returncode == 2
    assert "member 'pku': region: 'north' is not declared in [regions]" in message
    assert "region 'east': en" in message


def test_members_load_applies_the_consoles_address_policy_and_stores_nothing(settings, tmp_path):
    """The default policy refuses loopback, private and link-local feeds in the file as in the
    console, worded like the file's other problems; files on the server stay allowed."""
    strict = settings(es=False)
    listed = tmp_path / "listed.toml"
    listed.write_text(GOOD + """
[[member]]
code = "bnu"
name = { zh = "北京师范大学图书馆", en = "Beijing Normal University Library" }
region = "north"
files = { url_or_path = "bnu.xml", format = "marcxml" }
z3950 = { host = "10.0.0.7", port = 210, database = "books" }
[member.holdings]
type = "ils-di"
url = "http://169.254.169.254/latest/meta-data"
""", encoding="utf-8")
    result = run_cli(strict, listed, "members", "load")
    message = " ".join(result.stderr.split())
    assert result.returncode == 2, result.stdout
    assert "member 'pku': oai.url: 127.0.0.1 resolves to the loopback address 127.0.0.1" in message
    assert "member 'bnu': z3950.host: 10.0.0.7 resolves to the private or reserved address 10.0.0.7" in message
    assert "member 'bnu': holdings.url: 169.254.169.254 resolves to the link-local address" in message
    assert "files.url_or_path" not in message, "the operator's own files are no address"
    services = build_services(strict)
    with services.db() as session:
        assert session.scalars(select(Member)).all() == [], "nothing half-saved"
    services.close()

    allowed = settings(es=False, feed_allowlist=["127.0.0.1/32", "10.0.0.0/8", "169.254.169.254"])
    assert run_cli(allowed, listed, "members", "load").returncode == 0
    lenient = settings(es=False, feed_allow_private=True)
    assert run_cli(lenient, listed, "members", "load").returncode == 0
