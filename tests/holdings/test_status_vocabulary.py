"""Status words read with each system's own table, from real systems' words and real answers.

The words come from the systems' own sources (see each table's header under holdings/status_words):
Koha's C4/ILSDI/Services.pm and OPAC item-status.inc, Evergreen's config.copy_status seed values,
FOLIO's item status enum, Alma/Primo availability words, Symphony current locations (University
of Virginia's 999 fields), Aleph's OPAC item list, the NCIP CirculationStatus scheme, Voyager and
Innovative WebPAC words, and the words 汇文 and 图创 OPACs show.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import get_args

import httpx
import pytest
from fastapi.testclient import TestClient

from catalog.context import Services
from catalog.members import MembersFileError, parse_members
from holdings.config import IlsName, StatusName
from holdings.connectors.base import normalise_status
from holdings.connectors.ilsdi import parse_get_availability
from holdings.connectors.ncip import lookup_item_request, parse_lookup_item
from holdings.service import availability_for_record, summarise, unknown_status_words
from holdings.vocabulary import STATUSES, SYSTEMS, StatusReader, chain_for, table
from tests.holdings.helpers import holding
from tests.holdings.test_consortium import api_app
from tests.peers.fake_ils import FakeItem, IlsData, ils_server, koha_get_availability

DATA = Path(__file__).parent.parent / "data" / "ncip"
VUFIND_LOOKUP_ITEM = DATA / "vufind-xcncip2-LookupItem.xml"


@pytest.mark.parametrize(("word", "ils", "status"), [
    # read as "available" by the pattern list before: they say the opposite
    ("不可借", "huiwen", "not_for_loan"), ("在架不可借", "interlib", "not_for_loan"),
    ("暂不可借", "huiwen", "not_for_loan"), ("暂不可借", None, "not_for_loan"),
    ("Item not in place", "alma", "unavailable"), ("Not on shelf", None, "unknown"),
    # read as "on loan" before
    ("Not checked out", None, "available"), ("Available – due back 2026-12-24", None, "available"),
    # each system's own words
    ("借出-应还日期：2026-12-24", "huiwen", "on_loan"), ("可借", "huiwen", "available"), ("剔旧", "huiwen", "missing"),
    ("在馆", "interlib", "available"), ("馆内阅览", "interlib", "not_for_loan"),
    ("Item withdrawn", "koha", "missing"), ("Item damaged", "koha", "not_for_loan"),
    ("On holds shelf", "evergreen", "on_hold_shelf"), ("Reshelving", "evergreen", "available"),
    ("Long Overdue", "evergreen", "lost"), ("Aged to lost", "folio", "lost"),
    ("Awaiting pickup", "folio", "on_hold_shelf"), ("In process (non-requestable)", "folio", "not_for_loan"),
    ("check_holdings", "alma", "unknown"), ("On loan until 2026/12/24", "alma", "on_loan"),
    ("CHECKEDOUT", "sirsi", "on_loan"), ("LOST-ASSUM", "sirsi", "lost"), ("BY-REQUEST", "sirsi", "available"),
    ("On Shelf", "aleph", "available"), ("Requested", "aleph", "unavailable"),
    ("DUE 09-29-24", "innovative", "on_loan"), ("Circulation Status Undefined", None, "unknown"),
])
def test_real_status_words(word: str, ils: str | None, status: str) -> None:
    assert StatusReader(chain_for(ils)).status(word) == status


def test_every_table_loads_and_only_names_our_statuses() -> None:
    for system in SYSTEMS:
        assert table(system).words, system
    # the members file accepts exactly the systems with a table and exactly the API's statuses
    assert set(get_args(IlsName)) | {"ncip"} == set(SYSTEMS)
    assert set(get_args(StatusName)) == set(STATUSES)


def test_a_word_no_table_knows_is_unknown_and_counted_never_guessed() -> None:
    reader = StatusReader(chain_for("huiwen"))
    assert reader.status("闭架借阅") == "unknown"
    assert reader.status("Not lost") == "unknown"  # a negation outside the entry that matched
    assert reader.unknown == {"闭架借阅": 1, "Not lost": 1}
    assert normalise_status("") == "unknown"


def test_member_words_come_first() -> None:
    own = chain_for("huiwen", own={"闭架借阅": "not_for_loan", "可借": "unavailable"})
    assert own.classify("闭架借阅") == "not_for_loan" and own.classify("可借") == "unavailable"


def test_members_file_validates_status_words(tmp_path: Path) -> None:
    path = tmp_path / "members.toml"
    path.write_text('''
[[member]]
code = "hw"
name = { zh = "汇文馆", en = "Huiwen Library" }
region = "east"
oai = { url = "http://127.0.0.1:1/oai" }
holdings = { type = "harvested", ils = "huiwen", status_words = { "闭架借阅" = "not_for_loan" } }

[[member]]
code = "bad"
name = { zh = "坏", en = "Bad" }
region = "east"
oai = { url = "http://127.0.0.1:1/oai" }
holdings = { type = "harvested", ils = "dbase", status_words = { "闭架" = "closed", "--" = "available" } }
''', encoding="utf-8")
    with pytest.raises(MembersFileError) as caught:
        parse_members(path)
    problems = "\n".join(caught.value.problems)
    assert "member 'bad': holdings.harvested.ils" in problems
    assert "member 'bad': holdings.harvested.status_words.闭架" in problems
    assert "member 'hw'" not in problems
    path.write_text(path.read_text(encoding="utf-8").split("[[member]]\ncode = \"bad\"")[0], encoding="utf-8")
    (hw,) = parse_members(path)
    assert hw["holdings"]["ils"] == "huiwen" and hw["holdings"]["status_words"] == {"闭架借阅": "not_for_loan"}


def captured_body(path: Path) -> bytes:
    return path.read_bytes().partition(b"\n\n")[2]


def test_ncip_due_date_inside_item_optional_fields() -> None:
    """VuFind's captured LookupItem answer carries DateDue in ItemOptionalFields; it used to be lost."""
    item = parse_lookup_item(captured_body(VUFIND_LOOKUP_ITEM), "318300321322")
    assert (item.status, item.due_date, item.call_number, item.location, item.status_text) == (
        "on_loan", "2019-11-17T23:00:00Z", "Q", "Středisko Opava VF", "On Loan")


def test_responder_replays_the_capture_byte_for_byte(services: Services) -> None:
    data = IlsData(ncip_captured={"318300321322": VUFIND_LOOKUP_ITEM})
    with ils_server(data) as url:
        resp = httpx.post(f"{url}/ncip", content=lookup_item_request("318300321322", "A", "unicat"))
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/xml"
        assert resp.content == captured_body(VUFIND_LOOKUP_ITEM)
        entry, = asyncio.run(availability_for_record(services, {"id": "u1", "holdings": [
            holding("cz", {"type": "ncip", "url": f"{url}/ncip", "agency_id": "A"}, ["b1"],
                    harvested_items=[{"item_id": "318300321322"}])]}))
    assert entry["state"] == "ok"
    assert [(i["status"], i["due_date"]) for i in entry["items"]] == [("on_loan", "2019-11-17T23:00:00Z")]


def test_koha_answer_as_services_pm_prints_it() -> None:
    """Koha sends itemcallnumber and says nothing of transfers or holds (its _availability())."""
    data = IlsData(bibs={"7": [FakeItem("i1", "checked_out", "Centerville", "QA76.73 .P98 2019"),
                               FakeItem("i2", "in_transit", "Centerville", "QA76.73 .P98 2019 c.2"),
                               FakeItem("i3", "withdrawn", "Centerville", "")]})
    body = koha_get_availability(data, ["7"], "bib")
    assert "In transit" not in body and "Waiting" not in body
    assert "<dlf:itemcallnumber>QA76.73 .P98 2019</dlf:itemcallnumber>" in body
    items = parse_get_availability(body.encode())
    assert [(i.status, i.call_number) for i in items] == [
        ("on_loan", "QA76.73 .P98 2019"), ("available", "QA76.73 .P98 2019 c.2"), ("missing", None)]


def test_unknown_words_are_reported_per_member(services: Services) -> None:
    record = {"id": "u9", "holdings": [
        holding("hw", {"type": "harvested", "ils": "huiwen"}, ["9"],
                harvested_items=[{"item_id": "a", "status": "闭架借阅"}, {"item_id": "b", "status": "暂不可借"}]),
        holding("hw2", {"type": "harvested", "ils": "huiwen", "status_words": {"闭架借阅": "not_for_loan"}}, ["9"],
                harvested_items=[{"item_id": "c", "status": "闭架借阅"}]),
    ]}
    hw, hw2 = asyncio.run(availability_for_record(services, record))
    assert [i["status"] for i in hw["items"]] == ["unknown", "not_for_loan"]
    assert hw["items"][0]["status_text"] == "闭架借阅" and hw["unknown_words"] == ["闭架借阅"]
    assert [i["status"] for i in hw2["items"]] == ["not_for_loan"] and "unknown_words" not in hw2
    assert summarise([hw, hw2])["available_somewhere"] is None
    assert unknown_status_words(services) == {"hw": {"闭架借阅": 1}}
    assert unknown_status_words(services, "hw2") == {}
    with TestClient(api_app(services)) as client:
        listed = client.get("/api/v1/status-words/unknown").json()
    assert listed == {"members": [{"member": "hw", "words": [{"word": "闭架借阅", "count": 1}]}]}
