"""The explicit dependencies every service function receives, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field

from elasticsearch import Elasticsearch
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from indexer.es import make_es_client
from indexer.index import IndexLayout
from store.db import make_engine, make_sessionmaker
from unicat.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: Engine
    db: sessionmaker[Session]
    es: Elasticsearch
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def index_layout(self) -> IndexLayout:
        """Shards and replicas for every index created from now on (``UNICAT_ES_SHARDS``/``_REPLICAS``)."""
        return IndexLayout(self.settings.es_shards, self.settings.es_replicas)

    def close(self) -> None:
        for extra in self.extras.values():
            close = getattr(extra, "close", None)
            if callable(close) and not hasattr(extra, "__aenter__"):
                close()
        self.es.close()
        self.engine.dispose()


def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    """Build engine, session factory and Elasticsearch client; bring the schema up to date."""
    if migrate:
        from store.migrate import upgrade

        upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    return Services(settings=settings, engine=engine, db=make_sessionmaker(engine), es=make_es_client(settings))
