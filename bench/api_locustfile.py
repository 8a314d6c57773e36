"""Locust users for ``bench/api_load.py``: search, a record page, live availability, in a 3:2:2 mix.

The union ids and queries come from ``UNICAT_LOAD_IDS`` and ``UNICAT_LOAD_QUERIES`` (comma and
``|`` separated), written by the bench from the store it built.
"""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, between, task

IDS = [i for i in os.environ.get("UNICAT_LOAD_IDS", "").split(",") if i]
QUERIES = [q for q in os.environ.get("UNICAT_LOAD_QUERIES", "").split("|") if q]


class Reader(FastHttpUser):
    wait_time = between(0, 0.05)

    @task(3)
    def search(self) -> None:
        self.client.get("/api/v1/search", params={"q": random.choice(QUERIES)}, name="search")

    @task(2)
    def record_page(self) -> None:
        self.client.get(f"/records/{random.choice(IDS)}", name="record page")

    @task(2)
    def availability(self) -> None:
        self.client.get(f"/api/v1/records/{random.choice(IDS)}/availability", name="availability")
