"""Small helpers shared by the local service starters: ports, readiness, pidfiles, users."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from unicat.settings import Settings

log = logging.getLogger(__name__)


class LocalServiceError(RuntimeError):
    """A local service could not be prepared, started or stopped."""


# --------------------------------------------------------------------------- ports


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 30.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(interval)
    return False


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET a URL; returns (status, body). Raises OSError when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - local URLs only
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()


def wait_for_http(
    url: str,
    timeout: float = 60.0,
    ok: Iterable[int] = (200,),
    interval: float = 0.5,
    alive: Iterable[int] = (),
) -> bool:
    """Poll ``url`` until it answers with one of the ``ok`` statuses, or time runs out.

    ``alive`` holds pids that must stay alive: when one dies the wait ends early.
    """
    wanted = set(ok)
    pids = list(alive)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _ = http_get(url, timeout=max(interval, 2.0))
            if status in wanted:
                return True
        except OSError:
            pass
        if pids and not any(pid_alive(pid) for pid in pids):
            return False
        time.sleep(interval)
    return False


# --------------------------------------------------------------------------- pidfiles


def read_pidfile(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def write_pidfile(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists": reap it if it is ours.
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def terminate(pid: int, timeout: float = 20.0, group: bool = False) -> None:
    """SIGTERM a process (or its process group), then SIGKILL it after ``timeout``."""

    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    if not pid_alive(pid):
        return
    send(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.2)
    send(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)


def tail(path: Path, lines: int = 30) -> str:
    try:
        data = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(data[-lines:])


# --------------------------------------------------------------------------- users


@dataclass(frozen=True)
class ServiceUser:
    name: str
    uid: int
    gid: int
    home: str


def is_root() -> bool:
    return os.geteuid() == 0


def ensure_service_user(name: str) -> ServiceUser | None:
    """As root, make sure an unprivileged system user exists and return it; else ``None``."""
    if not is_root():
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        cmd = [useradd, "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        # exit 9: created meanwhile by a concurrent caller
        if result.returncode not in (0, 9):
            raise LocalServiceError(f"cannot create system user {name!r}: {result.stderr.strip()}") from None
        entry = pwd.getpwnam(name)
    return ServiceUser(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


def chown_tree(path: Path, user: ServiceUser | None) -> None:
    """Give ``path`` and everything below it to ``user`` (no-op when not root)."""
    if user is None:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, user.uid, user.gid)
        for name in dirs + files:
            with contextlib.suppress(FileNotFoundError):
                os.chown(os.path.join(root, name), user.uid, user.gid, follow_symlinks=False)


def make_traversable(path: Path) -> None:
    """Let other users pass through every parent folder of ``path`` (adds only the x bit)."""
    for parent in [path, *path.parents]:
        try:
            mode = parent.stat().st_mode
        except OSError:
            continue
        if not mode & 0o001:
            log.info("allowing other users to traverse %s for the service user", parent)
            with contextlib.suppress(OSError):
                os.chmod(parent, mode | 0o001)


# --------------------------------------------------------------------------- java


_VERSION_RE = re.compile(r'JAVA_VERSION="(\d+)')


def java_major(home: Path) -> int | None:
    """The major version of the JDK/JRE at ``home``, or ``None`` if it is not one."""
    if not (home / "bin" / "java").exists():
        return None
    release = home / "release"
    with contextlib.suppress(OSError):
        match = _VERSION_RE.search(release.read_text())
        if match:
            return int(match.group(1))
    try:
        out = subprocess.run(
            [str(home / "bin" / "java"), "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def find_java_home(minimum: int = 17, preferred_max: int = 24) -> Path:
    """A JDK of at least ``minimum``: JAVA_HOME / ES_JAVA_HOME first, then /usr/lib/jvm, then PATH.

    Among the /usr/lib/jvm candidates the newest version not above ``preferred_max`` wins.
    """
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        value = os.environ.get(var)
        if value:
            major = java_major(Path(value))
            if major is not None and major >= minimum:
                return Path(value)
    candidates: list[tuple[int, Path]] = []
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        for home in sorted(jvm.iterdir()):
            if home.is_symlink():
                continue
            major = java_major(home)
            if major is not None and major >= minimum:
                candidates.append((major, home))
    java = shutil.which("java")
    if java:
        home = Path(os.path.realpath(java)).parent.parent
        major = java_major(home)
        if major is not None and major >= minimum:
            candidates.append((major, home))
    if not candidates:
        raise LocalServiceError(
            f"no Java >= {minimum} found (looked at ES_JAVA_HOME, JAVA_HOME, /usr/lib/jvm/*, java on PATH); "
            "install one, e.g. `apt-get install openjdk-17-jre-headless`"
        )
    fitting = [c for c in candidates if c[0] <= preferred_max] or candidates
    return max(fitting, key=lambda c: c[0])[1]


def service_cli(
    prog: str,
    argv: list[str] | None,
    actions: dict[str, Callable[[Settings, int | None], object]],
    settings_for_port: Callable[[Settings, int], Settings],
) -> int:
    """The ``python -m unicat.localsvc.X ACTION [--port P]`` command line shared by the services:
    each action prints what it returns (dicts as JSON); a :class:`LocalServiceError` exits 1."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("action", choices=list(actions))
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    settings = Settings()
    if args.port:
        settings = settings_for_port(settings, args.port)
    try:
        result = actions[args.action](settings, args.port)
    except LocalServiceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str) if isinstance(result, dict) else result)
    return 0
