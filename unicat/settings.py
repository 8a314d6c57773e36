"""Settings read from ``UNICAT_*`` environment variables, with working local defaults.

Nothing here is built at import time: call :func:`get_settings` (or construct
:class:`Settings`) in an app factory, a CLI command or a worker start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNICAT_", extra="ignore")

    #: Where local state lives (SQLite file, Elasticsearch data, logs, uploads).
    var_dir: Path = PROJECT_ROOT / "var"
    members: Path = PROJECT_ROOT / "demo" / "members.toml"
    database_url: str = ""
    #: One node's address, or every node of a cluster comma-separated (the client spreads requests
    #: over them and retries a request on another node when one is down).
    es_url: str = "http://127.0.0.1:9200"
    es_username: str | None = None
    es_password: str | None = None
    es_api_key: str | None = None
    es_ca_file: Path | None = None
    es_version: str = "8.19.8"
    es_port: int = 9200
    #: Primary shards and replicas of each new records index; unset, the mapping file's (1 and 0,
    #: right for one node). A rebuild (``unicat reindex``) applies new values to a live index.
    es_shards: int | None = Field(default=None, ge=1, le=1024)
    es_replicas: int | None = Field(default=None, ge=0, le=16)
    index_prefix: str = "unicat"
    #: The catalogue's public address (``https://unicat.example.edu``) for permalinks; when empty,
    #: the address the request came to.
    public_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: Search paging never goes deeper than this many hits (from + size).
    max_result_window: int = 1000
    #: SRU searchRetrieve serves no record position past this (Elasticsearch's own
    #: ``index.max_result_window`` of the records index).
    sru_max_window: int = 10000
    #: Result-list exports (``/api/v1/search/export``) stop at this many records.
    export_max_records: int = 1000
    #: Requests per window for callers without an API key, per client address (``limits`` notation).
    anonymous_rate: str = "120/minute"
    #: Rate-limit counters: "redis" (shared by every API process) or "memory" (one process, tests).
    rate_limit_storage: str = "redis"
    #: The live search profile (``catalog/profiles/<name>.toml``, a name for its highest version, or a path).
    search_profile: str = "default-v1"
    #: A cluster growing beyond this many source records is reported, not grown.
    max_cluster_size: int = 500
    #: Secret for signing session cookies and CSRF tokens; refused when left empty in production.
    secret_key: str = Field(default="dev-only-not-secret", repr=False)
    #: Processes that crosswalk harvested pages (0 = one per core but one, at most 4, none on one
    #: core: see catalog.crosswalk_pool.auto_workers; 1 = in process; 2 or more = that many).
    crosswalk_workers: int = 0
    #: The largest share of a member's records one full harvest may withdraw without an
    #: administrator (a member's ``withdraw_limit`` in the members file overrides it).
    withdraw_limit: float = Field(default=0.2, ge=0, le=1)
    harvest_timeout: float = 30.0
    harvest_retries: int = 4
    availability_timeout: float = 2.0
    availability_cache_ttl: int = 60
    # Interlibrary loan: e-mail sent by the worker, delivered copies, the session cookie.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "ill@unicat.invalid"
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    #: Uploaded PDFs of delivered copies; defaults to ``var_dir / "ill-uploads"``.
    ill_upload_dir: Path | None = None
    ill_upload_max_bytes: int = 50 * 1024 * 1024
    ill_delivery_days: int = 14
    #: Send the session cookie only over HTTPS (turn off for local plain-HTTP development and tests).
    session_cookie_secure: bool = True
    session_max_age: int = 12 * 3600
    # ISO 18626 peers: the schema version used for a peer that has not spoken yet (``1.2`` | ``2021``),
    # and the outbox's capped exponential backoff (seconds) and most attempts per message.
    ill_iso18626_default_version: str = "1.2"
    ill_peer_backoff_base: float = 30.0
    ill_peer_backoff_cap: float = 3600.0
    ill_peer_max_attempts: int = 12
    #: How long a sender holds a message it is posting; a sender killed mid-post leaves it due again after this.
    ill_peer_lease_seconds: float = 120.0
    #: The arq queue of the ILL worker (timers, e-mail, peer outbox), apart from harvests.
    ill_queue_name: str = "unicat:ill"
    # Administration console: which addresses feeds entered in the web may point at (SSRF guard).
    #: Allow feeds on private, loopback and link-local addresses (a consortium on one private network).
    feed_allow_private: bool = False
    #: Hosts or networks allowed even when private (JSON list: ``["10.1.0.0/16", "opac.lan"]``).
    feed_allowlist: list[str] = Field(default_factory=list)
    #: Where "harvest now" in the console runs: ``worker`` (queued for ``unicat worker`` through
    #: Redis), ``thread`` (a thread of the web process, for a setup without a worker) or ``auto``
    #: (the worker when Redis answers and a harvest worker has reported in, else a thread).
    console_harvests: Literal["auto", "worker", "thread"] = "auto"
    #: Seconds a "check connection" may take, all requests included.
    connection_check_timeout: float = 10.0
    #: Days the daily search counters are kept (no personal data is stored in them).
    analytics_retention_days: int = Field(default=180, ge=1)
    # Sign-in (accounts/): failure limits (``limits`` notation), where the counters live, the shortest
    # time a failed sign-in takes (so timing does not tell whether an account exists), and the public
    # URL the identity providers send readers back to (SAML ACS, OIDC redirect, SP metadata).
    signin_failures_per_account: str = "5/15 minutes"
    signin_failures_per_client: str = "50/15 minutes"
    signin_rate_storage: str = "memory://"
    signin_failure_floor: float = 0.5

    @property
    def sso_public_url(self) -> str:
        """Where identity providers send readers back (SAML ACS, OIDC redirect, SP metadata):
        ``UNICAT_PUBLIC_URL``, else the local demo address."""
        return self.public_url.rstrip("/") or "http://127.0.0.1:8000"

    @field_validator("index_prefix")
    @classmethod
    def _prefix_is_index_safe(cls, value: str) -> str:
        if not value or value != value.lower() or any(c in value for c in ' "*\\<|,>/?#:'):
            raise ValueError('index prefix must be lowercase and contain no spaces or \\/*?"<>|,#:')
        return value

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'unicat.sqlite3'}"

    @property
    def records_alias(self) -> str:
        return f"{self.index_prefix}-records"


def get_settings() -> Settings:
    return Settings()
