"""A throw-away PostgreSQL server from Debian's ``postgresql`` package (tests and benchmarks).

``initdb`` and ``pg_ctl`` refuse to run as root, so as root the cluster belongs to the unprivileged
``postgres`` system user that the package creates.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from unicat.localsvc.process import LocalServiceError, ensure_service_user, is_root, make_traversable, wait_for_port


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise LocalServiceError(
            "PostgreSQL is not installed (Debian package 'postgresql'; scripts/setup.sh installs it)"
        )
    return Path(found[-1]).parent


@dataclass
class PostgresProcess:
    url: str
    data_dir: Path
    user: str | None

    def stop(self) -> None:
        _run(self.user, [str(pg_bin() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"], check=False)


def _run(user: str | None, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise LocalServiceError(f"{' '.join(argv)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def start(base: Path, port: int, database: str = "unicat") -> PostgresProcess:
    """Create a cluster under ``base`` and start it on 127.0.0.1:``port``; returns its SQLAlchemy URL."""
    user = None
    if is_root():
        account = ensure_service_user("postgres")
        user = account.name if account else "postgres"
        make_traversable(base)
    data = base / "pgdata"
    data.mkdir(parents=True, exist_ok=True)
    if user:
        shutil.chown(base, user)
        shutil.chown(data, user)
    bindir = pg_bin()
    _run(
        user,
        [str(bindir / "initdb"), "-D", str(data), "-U", "unicat", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
    )
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} -c fsync=off"
    _run(
        user, [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "postgres.log"), "-w", "start"]
    )
    if not wait_for_port("127.0.0.1", port, timeout=30):
        raise LocalServiceError(f"PostgreSQL did not listen on {port}")
    _run(user, [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "unicat", database])
    return PostgresProcess(url=f"postgresql://unicat@127.0.0.1:{port}/{database}", data_dir=data, user=user)
