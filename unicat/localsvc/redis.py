"""A local Redis from Debian's ``redis-server``: no persistence, bound to 127.0.0.1.

``python -m unicat.localsvc.redis start|stop|status [--port P]``
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis as redis_py

from unicat.localsvc.process import (
    LocalServiceError,
    pid_alive,
    port_open,
    read_pidfile,
    service_cli,
    tail,
    terminate,
)
from unicat.settings import Settings

HOST = "127.0.0.1"


@dataclass
class RedisProcess:
    url: str
    port: int
    pid: int | None = None
    data_dir: Path | None = None
    pidfile: Path | None = None
    started: bool = False

    def stop(self, timeout: float = 10.0) -> None:
        if self.started and self.pid is not None:
            terminate(self.pid, timeout=timeout)
            if self.pidfile is not None:
                self.pidfile.unlink(missing_ok=True)


def redis_dir(settings: Settings) -> Path:
    return Path(settings.var_dir) / "redis"


def settings_port(settings: Settings) -> int:
    return urlsplit(settings.redis_url).port or 6379


def _pidfile(folder: Path, port: int) -> Path:
    return folder / f"redis-{port}.pid"


def _ping(port: int) -> bool:
    if not port_open(HOST, port):
        return False
    client = redis_py.Redis(host=HOST, port=port, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis_py.RedisError:
        return False
    finally:
        client.close()


def start(
    settings: Settings,
    port: int | None = None,
    data_dir: Path | None = None,
    wait: bool = True,
    timeout: float = 20.0,
) -> RedisProcess:
    """Start ``redis-server`` on 127.0.0.1:``port`` (default: the port of ``settings.redis_url``).

    Idempotent: when a Redis already answers on the port it is returned as is.
    """
    port = port or settings_port(settings)
    url = f"redis://{HOST}:{port}/0"
    folder = Path(data_dir) if data_dir else redis_dir(settings)
    pidfile = _pidfile(folder, port)
    if _ping(port):
        old = read_pidfile(pidfile)
        return RedisProcess(url, port, old if old and pid_alive(old) else None, folder, pidfile)
    server = shutil.which("redis-server", path="/usr/local/bin:/usr/bin:/usr/sbin:/bin")
    if server is None:
        raise LocalServiceError("redis-server is not installed: `apt-get install redis-server`")
    folder.mkdir(parents=True, exist_ok=True)
    logfile = folder / f"redis-{port}.log"
    cmd = [
        server,
        "--bind", HOST,
        "--port", str(port),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "yes",
        "--pidfile", str(pidfile),
        "--logfile", str(logfile),
        "--dir", str(folder),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise LocalServiceError(f"redis-server failed to start: {result.stderr.strip()}\n{tail(logfile)}")
    proc = RedisProcess(url, port, None, folder, pidfile, started=True)
    if not wait:
        return proc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.pid = read_pidfile(pidfile)
        if _ping(port):
            proc.pid = read_pidfile(pidfile)
            return proc
        time.sleep(0.1)
    proc.stop()
    raise LocalServiceError(f"Redis on port {port} did not answer within {timeout:.0f} s\n{tail(logfile)}")


def stop(settings: Settings, port: int | None = None) -> bool:
    """Stop the Redis this module started on ``port``; ``False`` when none was running."""
    port = port or settings_port(settings)
    pidfile = _pidfile(redis_dir(settings), port)
    pid = read_pidfile(pidfile)
    if pid is None or not pid_alive(pid):
        pidfile.unlink(missing_ok=True)
        return False
    terminate(pid)
    pidfile.unlink(missing_ok=True)
    return True


def status(settings: Settings) -> dict[str, object]:
    port = settings_port(settings)
    pid = read_pidfile(_pidfile(redis_dir(settings), port))
    info: dict[str, object] = {
        "running": False,
        "url": settings.redis_url,
        "pid": pid if pid and pid_alive(pid) else None,
        "version": None,
    }
    client = redis_py.Redis.from_url(settings.redis_url, socket_timeout=2)
    try:
        server: dict[str, Any] = client.info("server")  # type: ignore[assignment]  # sync client
        info["running"] = True
        info["version"] = server.get("redis_version")
        info["pid"] = info["pid"] or server.get("process_id")
    except redis_py.RedisError:
        pass
    finally:
        client.close()
    return info


def main(argv: list[str] | None = None) -> int:
    def started(settings: Settings, port: int | None) -> str:
        proc = start(settings, port=port)
        return f"Redis answers on {proc.url} (pid {proc.pid or 'unknown'})"

    return service_cli(
        "python -m unicat.localsvc.redis",
        argv,
        {
            "start": started,
            "stop": lambda settings, port: "stopped" if stop(settings, port=port) else "not running",
            "status": lambda settings, _port: status(settings),
        },
        lambda settings, port: settings.model_copy(update={"redis_url": f"redis://{HOST}:{port}/0"}),
    )


if __name__ == "__main__":
    raise SystemExit(main())
