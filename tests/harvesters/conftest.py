"""Fixtures for harvester tests: the real sample data and a recorder for the harvester's sleeps."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.harvesters.fault_server import Sleeps

DATA = Path(__file__).resolve().parents[1] / "data" / "oai"
FILES = DATA / "files"


@pytest.fixture
def oai_data() -> Path:
    return DATA


@pytest.fixture
def files_data() -> Path:
    return FILES


@pytest.fixture
def pennstate_page() -> bytes:
    return gzip.decompress((DATA / "pennstate-listrecords-300-one-malformed.xml.gz").read_bytes())


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
