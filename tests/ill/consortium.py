"""A crafted consortium for ILL tests: members in two regions, their policies, accounts and records.

Union records and live availability are served from plain dicts through the ILL source hooks
(``services.extras["ill.get_record"]`` / ``["ill.availability"]``); switching to the catalogue's
record store and the holdings service is a change in this file only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog.context import Services
from ill.auth import hash_password
from ill.models import IllAccount
from ill.policies import get_policy, update_policy
from store.db import transaction
from store.models import Member

PASSWORD = "correct horse battery"
MEMBERS = [  # code, region, zh, en
    ("PKU", "north", "北京大学图书馆", "Peking University Library"),
    ("TSU", "north", "清华大学图书馆", "Tsinghua University Library"),
    ("BNU", "north", "北京师范大学图书馆", "Beijing Normal University Library"),
    ("FDU", "east", "复旦大学图书馆", "Fudan University Library"),
    ("SJTU", "east", "上海交通大学图书馆", "Shanghai Jiao Tong University Library"),
]


@dataclass
class Catalogue:
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: union id -> member -> "available" | "on_loan" | "unknown"
    live: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, union_id: str, title: str, holders: dict[str, str], fmt: str = "book") -> dict[str, Any]:
        regions = {code: region for code, region, _, _ in MEMBERS}
        self.records[union_id] = {
            "id": union_id, "title": title, "authors": ["Test Author"], "year": "2020", "format": fmt,
            "isbns": [], "holdings": [{"member": m, "member_name": {"zh": m, "en": m}, "region": regions[m],
                                       "local_ids": [f"{m}-{union_id}"], "call_number": f"CN/{m}",
                                       "location": "stacks", "items": 1, "as_of": None} for m in holders]}
        self.live[union_id] = dict(holders)
        return self.records[union_id]

    def get_record(self, services: Services, union_id: str) -> dict[str, Any] | None:
        return self.records.get(union_id)

    async def availability(self, services: Services, record: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for member, status in self.live.get(record["id"], {}).items():
            if status == "unknown":
                out.append({"member": member, "state": "unknown", "items": []})
            else:
                out.append({"member": member, "state": "ok", "items": [
                    {"status": status, "requestable": True, "call_number": "", "location": "", "due_date": None}]})
        return out

    def install(self, services: Services) -> None:
        services.extras["ill.get_record"] = self.get_record
        services.extras["ill.availability"] = self.availability


def seed(services: Services) -> dict[str, Any]:
    """Members, default policies (with e-mail), a patron per member, desks and an admin."""
    with transaction(services.db) as session:
        for code, region, zh, en in MEMBERS:
            session.add(Member(code=code, name_zh=zh, name_en=en, region=region, role="member", config={}))
    with transaction(services.db) as session:
        for code, *_ in MEMBERS:
            get_policy(session, code)
            update_policy(session, code, {"email": f"ill@{code.lower()}.example", "holidays": [],
                                          "pickup_locations": [f"{code} main desk", f"{code} branch"]})
    hashed = hash_password(PASSWORD)  # once: argon2 is slow on purpose
    specs = {}
    for code, *_ in MEMBERS:
        low = code.lower()
        specs[f"patron_{low}"] = (code, f"p_{low}", "patron", [], f"patron@{low}.example")
        specs[f"patron2_{low}"] = (code, f"q_{low}", "patron", [], f"q@{low}.example")
        specs[f"staff_{low}"] = (code, f"s_{low}", "staff", ["borrowing", "lending"], f"staff@{low}.example")
    specs["admin"] = ("PKU", "admin", "admin", [], None)
    accounts: dict[str, Any] = {}
    with transaction(services.db) as session:
        for key, (code, username, kind, desks, email) in specs.items():
            accounts[key] = IllAccount(member_code=code, username=username, display_name=username, email=email,
                                       kind=kind, desks=desks, password_hash=hashed)
            session.add(accounts[key])
    return accounts
