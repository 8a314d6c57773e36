"""Shared helpers for the issue 2 benchmarks (build throughput, search latency).

Both benches keep their state (SQLite store, a private Elasticsearch node's data) in one work
folder, ``<var>/bench/issue2`` by default, so the search bench runs over the index the build bench
made. Large corpora are read from ``$UNICAT_SHARED_DATA`` (default ``../shared/data`` beside the
repository root).
"""

from __future__ import annotations

import gzip
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx

from unicat.localsvc.process import free_port, wait_for_http
from unicat.settings import PROJECT_ROOT, Settings

HEADING = "## Build throughput and search latency (issue 2)"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
LC_FILE = "marc21/lc-booksall-2016-part01.mrc.gz"
INDEX_PREFIX = os.environ.get("UNICAT_BENCH_INDEX_PREFIX", "bench2")
MEMBER_CODE = "lc"


def shared_data() -> Path:
    return Path(os.environ.get("UNICAT_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data")).resolve()


def default_work_dir() -> Path:
    return Path(Settings().var_dir) / "bench" / "issue2"


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def write_marc_subset(source: Path, target: Path, count: int) -> int:
    """Copy the first ``count`` ISO 2709 records of ``source`` (optionally gzipped) to ``target``."""
    opener = gzip.open if source.suffix == ".gz" else open
    written = 0
    with opener(source, "rb") as inp, open(target, "wb") as out:
        buf = b""
        while written < count:
            chunk = inp.read(1 << 20)
            if not chunk:
                break
            buf += chunk
            parts = buf.split(b"\x1d")
            buf = parts.pop()
            for rec in parts:
                if written >= count:
                    break
                out.write(rec + b"\x1d")
                written += 1
    return written


def bench_settings(work: Path, es_url: str) -> Settings:
    return Settings(
        var_dir=work,
        database_url=f"sqlite:///{work / 'store.sqlite3'}",
        es_url=es_url,
        index_prefix=INDEX_PREFIX,
        redis_url="redis://127.0.0.1:1/0",
    )


@contextmanager
def es_node(work: Path) -> Iterator[str]:
    """The Elasticsearch URL to use: ``$UNICAT_ES_URL`` when set, else a private node started here.

    The private node listens on a free port, keeps its data in ``work/es/data`` (so a later bench
    finds the index again) and is stopped on exit.
    """
    if os.environ.get("UNICAT_ES_URL"):
        yield os.environ["UNICAT_ES_URL"].rstrip("/")
        return
    from unicat.localsvc.elasticsearch import start
    from unicat.localsvc.process import free_port

    started = time.perf_counter()
    node = start(Settings(), port=free_port(), data_dir=work / "es" / "data")
    print(f"private Elasticsearch node on {node.url} (up in {time.perf_counter() - started:.0f} s)", flush=True)
    try:
        yield node.url
    finally:
        node.stop()


def machine() -> str:
    """One line naming the machine: cores, CPU model, RAM, OS, Python, Elasticsearch heap."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    heap = os.environ.get("UNICAT_ES_JAVA_OPTS", "-Xms512m -Xmx1g")
    return (
        f"{os.cpu_count()} cores ({model}){ram}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; Elasticsearch heap `{heap}`"
    )


def git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def cpu_us(fn: Callable[[bytes], object], raws: list[bytes]) -> float:
    """CPU µs of this process per call of ``fn`` over ``raws``, one call each."""
    started = time.process_time()
    for raw in raws:
        fn(raw)
    return (time.process_time() - started) / len(raws) * 1e6


def stamp() -> str:
    return f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {git_revision()}"


def _header() -> str:
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        nproc = str(os.cpu_count())
    return f"# Benchmark results\n\nMachine: {machine()} (`nproc` = {nproc}).\n"


def write_section(section_name: str, text: str, path: Path = RESULTS, heading: str = HEADING) -> None:
    """Replace (or append) ``### section_name`` inside the ``heading`` section of bench/RESULTS.md
    (the whole heading line must match, so "### Search latency" never replaces a longer title)."""
    content = path.read_text() if path.exists() else _header()
    if heading not in content:
        content = content.rstrip("\n") + f"\n\n{heading}\n"
    head, _, rest = content.partition(heading)
    nxt = rest.find("\n## ")
    mine, tail = (rest, "") if nxt < 0 else (rest[:nxt], rest[nxt:])
    sub = f"### {section_name}"
    start = mine.find(f"\n{sub}\n")
    if start >= 0:
        end = mine.find("\n### ", start + 1)
        mine = mine[: start + 1] + mine[end + 1 if end >= 0 else len(mine) :]
    mine = mine.rstrip("\n") + f"\n\n{sub}\n\n{text.strip()}\n"
    path.write_text(head + heading + mine + tail)


def replace_section(heading: str, lines: list[str], path: Path = RESULTS) -> None:
    """Replace the whole ``heading`` section of bench/RESULTS.md (up to the next ``## ``) with
    ``lines``, or append it when the file has none yet."""
    text = path.read_text()
    block = "\n".join(lines)
    if heading in text:
        start = text.index(heading)
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + block + (text[end:] if end != -1 else "\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


class LoadTarget(Protocol):
    """One way of sending the bench's i-th request (through the API, or straight to Elasticsearch)."""

    kind: str

    def send(self, client: httpx.Client, i: int) -> int: ...


def load(target: LoadTarget, clients: int, per_client: int) -> tuple[list[float], float, int]:
    """(latencies in s, wall seconds, errors) for ``clients`` threads × ``per_client`` requests."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    barrier = threading.Barrier(clients + 1)

    def client_loop(c: int) -> None:
        with httpx.Client(timeout=60) as client:
            target.send(client, c)  # open the keep-alive connection before the clock starts
            barrier.wait()
            for j in range(per_client):
                started = time.perf_counter()
                status = target.send(client, c * 7 + j)
                latencies[c].append(time.perf_counter() - started)
                errors[c] += status != 200

    threads = [threading.Thread(target=client_loop, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return [x for lat in latencies for x in lat], wall, sum(errors)


def summary(lat: list[float], wall: float) -> dict[str, float]:
    """Percentiles and mean in ms, throughput in requests per second."""
    return {"p50": pct(lat, 50) * 1e3, "p95": pct(lat, 95) * 1e3, "p99": pct(lat, 99) * 1e3,
            "mean": statistics.fmean(lat) * 1e3, "rps": len(lat) / wall}


LATENCY_TABLE = [
    "| path | p50 (ms) | p95 (ms) | p99 (ms) | mean (ms) | throughput (req/s) | errors |",
    "|---|---|---|---|---|---|---|",
]


def latency_row(label: str, t: dict[str, float], errors: object) -> str:
    """One row of :data:`LATENCY_TABLE` from a :func:`summary`."""
    return (f"| {label} | {t['p50']:.1f} | {t['p95']:.1f} | {t['p99']:.1f} | {t['mean']:.1f} | "
            f"{t['rps']:.0f} | {errors} |")


def start_api(settings: Settings, probe: str, timeout: float = 60,
              extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """The real API (uvicorn, one worker, as ``unicat serve``) over ``settings`` (its Redis too);
    waits up to ``timeout`` seconds until ``probe`` (a path with query) answers."""
    port = free_port()
    env = {**os.environ, "UNICAT_ES_URL": settings.es_url, "UNICAT_INDEX_PREFIX": settings.index_prefix,
           "UNICAT_DATABASE_URL": settings.sqlalchemy_url, "UNICAT_VAR_DIR": str(settings.var_dir),
           "UNICAT_REDIS_URL": settings.redis_url, **(extra_env or {})}
    cmd = [sys.executable, "-m", "uvicorn", "unicat.app:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    if not wait_for_http(f"{base}{probe}", timeout=timeout, alive=[proc.pid]):
        proc.kill()
        raise SystemExit("the API did not start")
    return proc, base


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used so far, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def node_cpu(es_url: str) -> float:
    """CPU seconds the Elasticsearch node(s) behind ``es_url`` have used so far."""
    stats = httpx.get(f"{es_url}/_nodes/stats/process", timeout=30).json()["nodes"]
    return sum(node["process"]["cpu"]["total_in_millis"] for node in stats.values()) / 1000
