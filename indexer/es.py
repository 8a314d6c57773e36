"""Elasticsearch client construction (local node or an external cluster with auth and a CA)."""

from __future__ import annotations

from typing import Any, Protocol

from elasticsearch import Elasticsearch


class EsSettings(Protocol):
    es_url: str
    es_username: str | None
    es_password: str | None
    es_api_key: str | None
    es_ca_file: Any


def make_es_client(settings: EsSettings, *, timeout: float = 30.0) -> Elasticsearch:
    # As many pooled connections as the API's worker threads may use at once (the default, 10,
    # queues concurrent searches inside the client).
    kwargs: dict[str, Any] = {"request_timeout": timeout, "retry_on_timeout": True, "max_retries": 2,
                              "connections_per_node": 40}
    try:
        from elasticsearch.serializer import OrjsonSerializer

        kwargs["serializer"] = OrjsonSerializer()
    except ImportError:  # pragma: no cover - orjson is a dependency; the stdlib serializer also works
        pass
    if settings.es_api_key:
        kwargs["api_key"] = settings.es_api_key
    elif settings.es_username:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password or "")
    if settings.es_ca_file:
        kwargs["ca_certs"] = str(settings.es_ca_file)
    return Elasticsearch(settings.es_url, **kwargs)
