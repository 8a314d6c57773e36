"""How long ``unicat members load`` takes for a consortium-sized members file (2,000 members).

The file is generated: members shaped like the demo's (a name in both languages, a region of
seven, a role, an OAI-PMH feed with a set and a timeout, a live-holdings table of one of the
library systems with its own status words) under the ``[regions]`` table. Timed: the whole
command in a fresh process (interpreter start and imports included), loading into an empty
SQLite store, then again with every member already there (updates); CPU from the kernel.

    .venv/bin/python bench/members_file.py [--members 2000] [--write]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, replace_section, stamp  # noqa: E402

HEADING = "## A members file of a large consortium (issue 19)"
REGIONS = ["north", "northeast", "east", "central", "south", "southwest", "northwest"]
SYSTEMS = ["koha", "folio", "alma", "aleph", "huiwen", "interlib", "sirsi"]


def members_toml(count: int) -> str:
    lines = ["[regions]"]
    lines += [f'{r} = {{ zh = "{r}区", en = "{r.title()}" }}' for r in REGIONS]
    for n in range(count):
        region, system = REGIONS[n % len(REGIONS)], SYSTEMS[n % len(SYSTEMS)]
        lines += [
            "", "[[member]]", f'code = "m{n:04d}"', f'name = {{ zh = "第{n}图书馆", en = "Library {n}" }}',
            f'region = "{region}"', f'role = "{"regional" if n % 50 == 0 else "member"}"', 'schedule = "1h"',
            f'oai = {{ url = "https://opac{n}.example.edu/oai", metadata_prefix = "marc21", set = "books", '
            "timeout = 60 }",
            "[member.holdings]", 'type = "ils-di"', f'url = "https://opac{n}.example.edu/ilsdi"', f'ils = "{system}"',
            'status_words = { "闭架借阅" = "not_for_loan" }',
        ]  # fmt: skip
    return "\n".join(lines) + "\n"


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="unicat-bench-members-"))
    path = work / "members.toml"
    path.write_text(members_toml(args.members))
    env = {**os.environ, "UNICAT_DATABASE_URL": f"sqlite:///{work / 'store.sqlite3'}", "UNICAT_VAR_DIR": str(work),
           # the generated hosts resolve nowhere: the address policy trusts the listed domain as named
           "UNICAT_FEED_ALLOWLIST": '[".example.edu"]'}
    argv = [sys.executable, "-m", "unicat.cli", "members", "load", "--file", str(path)]
    upgrade = [sys.executable, "-m", "unicat.cli", "db", "upgrade"]
    subprocess.run(upgrade, env=env, check=True, stdout=subprocess.DEVNULL)
    baseline = _timed([sys.executable, "-m", "unicat.cli", "--help"], env)
    first, again = _timed(argv, env), _timed(argv, env)
    lines = [
        HEADING,
        "",
        f"{stamp()}; {machine()} (shared with other work, load average {os.getloadavg()[0]:.1f}). "
        f"`bench/members_file.py --members {args.members}`: a generated file of {args.members:,} members "
        f"({path.stat().st_size / 1e6:.1f} MB; OAI feed, ILS-DI holdings with its own status words, regions).",
        "",
        "| run | wall s | CPU s |",
        "|---|---|---|",
        f"| `unicat --help` (interpreter and CLI start, the floor) | {baseline[0]:.2f} | {baseline[1]:.2f} |",
        f"| `unicat members load`, empty store | {first[0]:.2f} | {first[1]:.2f} |",
        f"| `unicat members load` again (all updates) | {again[0]:.2f} | {again[1]:.2f} |",
        "",
    ]
    print("\n".join(lines))
    if args.write:
        replace_section(HEADING, lines)


if __name__ == "__main__":
    main()
