"""Status words and protocol answers from real systems map to the API's statuses."""

from __future__ import annotations

import pytest

from holdings.connectors.base import normalise_status
from holdings.connectors.harvested import items_from_holdings
from holdings.connectors.ilsdi import parse_get_availability
from holdings.connectors.ncip import lookup_item_request, parse_lookup_item
from holdings.connectors.z3950_opac import parse_opac
from tests.peers.fake_ils import FakeItem, IlsData, koha_get_availability, ncip_lookup_item_response


def request_for(item_id: str) -> bytes:
    return lookup_item_request(item_id, "A", "unicat")


@pytest.mark.parametrize(("word", "status"), [
    ("CHECKEDOUT", "on_loan"), ("LOST", "lost"), ("LOSTCLOSED", "lost"), ("MISSING", "missing"),
    ("STACKS", "available"), ("Available On Shelf", "available"), ("Available For Pickup", "on_hold_shelf"),
    ("In Transit Between Library Locations", "in_transit"), ("Not for loan", "not_for_loan"),
    ("unavailable", "unavailable"), ("Checked out", "on_loan"), ("在架可借", "available"), ("已借出", "on_loan"),
    ("", "unknown"), ("whatever", "unknown"),
])
def test_normalise_status(word: str, status: str) -> None:
    assert normalise_status(word) == status


def test_koha_and_ncip_documents_parse() -> None:
    data = IlsData(bibs={"7": [FakeItem("i1", "notforloan"), FakeItem("i2", "lost")]})
    items = parse_get_availability(koha_get_availability(data, ["7"], "bib").encode())
    assert [i.status for i in items] == ["not_for_loan", "lost"]
    data.bibs["7"][0] = FakeItem("i1", "checked_out", "Main", "QA76", "2026-01-02T00:00:00Z")
    item = parse_lookup_item(ncip_lookup_item_response(data, request_for("i1")).encode(), "i1")
    assert (item.status, item.due_date, item.call_number, item.location) == (
        "on_loan", "2026-01-02T00:00:00Z", "QA76", "Main")
    gone = parse_lookup_item(ncip_lookup_item_response(data, request_for("nope")).encode(), "nope")
    assert gone.status == "missing" and gone.requestable is False


def test_opac_without_circulation_and_harvested_grouping() -> None:
    xml = b"<opacRecord><holdings><holding><callNumber>QA1</callNumber></holding></holdings></opacRecord>"
    assert [(i.call_number, i.status) for i in parse_opac(xml)] == [("QA1", "unknown")]
    items = items_from_holdings([{"call_number": "X", "location": "ALDERMAN", "collection": "STACKS", "items": 3}])
    assert len(items) == 3 and {i.to_dict()["requestable"] for i in items} == {True}
