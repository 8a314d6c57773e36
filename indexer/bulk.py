"""Bulk requests to Elasticsearch, each action's outcome reported, as ``helpers.streaming_bulk``
with ``raise_on_error=False, raise_on_exception=False, max_retries=2`` reports them.

The client's helper costs the projecting process 18.5 µs a document, 11.3 of which is serialising
the actions, sending the request and reading the answer (10,000 LC union documents against a local
node, ``time.thread_time``): the rest goes to copying each action into a header and a body, and
to pairing each answer with the data sent for it, which a caller that keeps nothing of a failed
document's source does not need. Here each action is written straight into the request body, and
an answer is paired with its action only to retry a rejected one.

What the caller sees is the helper's: ``(ok, {op_type: item})`` for every action in order, where
``item`` holds the answer's ``_id``, ``status`` and ``error``; a request the node refuses as a
whole (an HTTP error) fails each of its actions with that status and the error's text; actions
refused with 429 (the node's queues are full) are sent again, twice at most, after 2 and 4 s; a
node that cannot be reached raises (:class:`elasticsearch.TransportError`), so the caller can
keep the work for later.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from elasticsearch import ApiError, Elasticsearch

#: What is read of a bulk response: each item's id, status and error. Elasticsearch otherwise
#: writes, and the client parses, index, version, shard counts and sequence numbers for every
#: document of every request.
BULK_RESPONSE = "errors,items.*._id,items.*.status,items.*.error"
MAX_RETRIES = 2
RETRY_STATUS = 429
INITIAL_BACKOFF = 2.0

Outcome = tuple[bool, dict[str, Any]]


def send(es: Elasticsearch, actions: Iterable[dict[str, Any]], chunk_size: int = 500) -> Iterator[Outcome]:
    """Send ``actions`` (``_op_type`` "index" with ``_source``, or "delete"; ``_index``, ``_id``)
    in requests of ``chunk_size``; yield each action's outcome in order."""
    stream = iter(actions)
    while chunk := list(islice(stream, chunk_size)):
        yield from _send_chunk(es, chunk)


def _send_chunk(es: Elasticsearch, chunk: list[dict[str, Any]]) -> Iterator[Outcome]:
    """One chunk's outcomes, in order; actions refused with 429 are retried before theirs is given."""
    outcomes: list[Outcome | None] = [None] * len(chunk)
    pending = list(range(len(chunk)))
    for attempt in range(MAX_RETRIES + 1):
        if attempt:
            time.sleep(INITIAL_BACKOFF * 2 ** (attempt - 1))
        answers = _bulk(es, [chunk[i] for i in pending])
        retry = []
        for index, outcome in zip(pending, answers, strict=True):
            if not outcome[0] and attempt < MAX_RETRIES and _status(outcome) == RETRY_STATUS:
                retry.append(index)
            else:
                outcomes[index] = outcome
        if not retry:
            break
        pending = retry
    for outcome in outcomes:
        assert outcome is not None
        yield outcome


def _bulk(es: Elasticsearch, actions: list[dict[str, Any]]) -> list[Outcome]:
    dumps = es.transport.serializers.get_serializer("application/json").dumps
    lines = []
    for action in actions:
        op = action["_op_type"]
        lines.append(dumps({op: {"_index": action["_index"], "_id": action["_id"]}}))
        if op != "delete":
            lines.append(dumps(action["_source"]))
    try:
        items = es.bulk(operations=b"\n".join(lines) + b"\n", filter_path=BULK_RESPONSE).body["items"]
    except ApiError as exc:
        failed = {"error": str(exc), "status": exc.status_code, "exception": exc}
        return [(False, {a["_op_type"]: {**failed, "_index": a["_index"], "_id": a["_id"]}}) for a in actions]
    outcomes = []
    for answer in items:
        ((op, item),) = answer.items()
        outcomes.append((200 <= item.get("status", 500) < 300, {op: item}))
    return outcomes


def _status(outcome: Outcome) -> int | None:
    ((_op, item),) = outcome[1].items()
    return item.get("status")
