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
    return Elasticsearch(es_hosts(settings.es_url), **kwargs)


def es_hosts(url: str) -> list[str]:
    """``UNICAT_ES_URL`` as the client's node list: one address, or several comma-separated."""
    return [part.strip().rstrip("/") for part in url.split(",") if part.strip()]


def describe_es_error(exc: Exception) -> str:
    """One sentence a person can act on for a failed Elasticsearch call (bad credentials, an
    untrusted certificate, no node answering) instead of the client's exception text."""
    from elastic_transport import ConnectionError as EsConnectionError
    from elastic_transport import TlsError
    from elasticsearch import ApiError, AuthenticationException, AuthorizationException

    if isinstance(exc, AuthenticationException):
        return (
            "Elasticsearch refused the credentials (HTTP 401): check UNICAT_ES_USERNAME/UNICAT_ES_PASSWORD "
            "or UNICAT_ES_API_KEY"
        )
    if isinstance(exc, AuthorizationException):
        return "Elasticsearch denied the configured user this action (HTTP 403): grant it the unicat indices"
    if isinstance(exc, TlsError):
        return f"the TLS connection to Elasticsearch failed (is UNICAT_ES_CA_FILE its CA?): {exc.message}"
    if isinstance(exc, EsConnectionError):
        return "no Elasticsearch node answers at UNICAT_ES_URL"
    if isinstance(exc, ApiError):
        return f"Elasticsearch answered HTTP {exc.meta.status}: {exc.message}"
    return f"Elasticsearch is not available: {exc}"
