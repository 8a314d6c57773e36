"""Bulk requests (:mod:`indexer.bulk`) against the real Elasticsearch: every action's outcome, in
order, as the client's ``streaming_bulk`` helper reports them."""

from __future__ import annotations

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from indexer.bulk import BULK_RESPONSE, send
from indexer.index import latest_spec


def _actions(index: str) -> list[dict]:
    return [
        {"_op_type": "index", "_index": index, "_id": "u1", "_source": {"id": "u1", "title_t": "红楼梦"}},
        # refused: the mapping is strict, and this field is not in it
        {"_op_type": "index", "_index": index, "_id": "u2", "_source": {"id": "u2", "no_such_field": 1}},
        {"_op_type": "delete", "_index": index, "_id": "never-indexed"},
        {"_op_type": "index", "_index": index, "_id": "u3", "_source": {"id": "u3", "year": 1791}},
        {"_op_type": "delete", "_index": index, "_id": "u1"},
    ]


def _shape(outcomes: list) -> list:
    return [(ok, op, item["_id"], item["status"], bool(item.get("error"))) for ok, answer in outcomes
            for op, item in answer.items()]


def test_each_action_s_outcome_comes_back_in_order_as_the_helper_gives_it(es_url: str) -> None:
    es = Elasticsearch(es_url)
    body = latest_spec().body
    ours, helper = "bulk-test-ours", "bulk-test-helper"
    for name in (ours, helper):
        es.options(ignore_status=404).indices.delete(index=name)
        es.indices.create(index=name, **body)
    try:
        got = list(send(es, _actions(ours), chunk_size=2))
        expected = list(streaming_bulk(es, _actions(helper), chunk_size=2, raise_on_error=False,
                                       raise_on_exception=False, max_retries=2, filter_path=BULK_RESPONSE))
        assert _shape(got) == _shape(expected)
        assert _shape(got) == [
            (True, "index", "u1", 201, False),
            (False, "index", "u2", 400, True),
            (False, "delete", "never-indexed", 404, False),
            (True, "index", "u3", 201, False),
            (True, "delete", "u1", 200, False),
        ]
        es.indices.refresh(index=ours)
        assert [hit["_id"] for hit in es.search(index=ours)["hits"]["hits"]] == ["u3"]
    finally:
        for name in (ours, helper):
            es.options(ignore_status=404).indices.delete(index=name)
