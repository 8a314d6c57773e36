"""A local Elasticsearch node: fetched from Maven Central, run as an unprivileged user.

``python -m unicat.localsvc.elasticsearch fetch|start|stop|status [--port P]``
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from unicat.localsvc.process import (
    LocalServiceError,
    ServiceUser,
    chown_tree,
    ensure_service_user,
    find_java_home,
    free_port,
    http_get,
    make_traversable,
    pid_alive,
    read_pidfile,
    service_cli,
    tail,
    terminate,
    wait_for_http,
    write_pidfile,
)
from unicat.settings import Settings

SERVICE_USER = "unicat-es"
ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
HOST = "127.0.0.1"


@dataclass
class EsProcess:
    """A running local node. ``pid`` is ``None`` when the node was already running."""

    url: str
    port: int
    pid: int | None = None
    home: Path | None = None
    data_dir: Path | None = None
    log_dir: Path | None = None
    pidfile: Path | None = None
    started: bool = field(default=False)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the node if this process started it."""
        if self.pid is not None and self.started:
            terminate(self.pid, timeout=timeout, group=True)
            if self.pidfile is not None and read_pidfile(self.pidfile) == self.pid:
                self.pidfile.unlink(missing_ok=True)


# --------------------------------------------------------------------------- layout


def es_dir(settings: Settings) -> Path:
    return Path(settings.var_dir) / "es"


def dist_home(settings: Settings) -> Path:
    return es_dir(settings) / "dist" / f"elasticsearch-{settings.es_version}"


def pidfile_for(state_dir: Path, port: int) -> Path:
    return state_dir / f"elasticsearch-{port}.pid"


def _service_user() -> ServiceUser | None:
    return ensure_service_user(SERVICE_USER)


# --------------------------------------------------------------------------- fetch


def ensure_distribution(settings: Settings) -> Path:
    """The unpacked server for ``settings.es_version``; fetched with Maven only when absent."""
    home = dist_home(settings)
    user = _service_user()
    if (home / "bin" / "elasticsearch").exists():
        return home
    dist = home.parent
    dist.mkdir(parents=True, exist_ok=True)
    archive = dist / f"elasticsearch-{settings.es_version}.zip"
    if not archive.exists():
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LocalServiceError("Maven (`mvn`) is needed to fetch Elasticsearch: `apt-get install maven`")
        cmd = [
            mvn,
            "-q",
            "-B",
            "dependency:copy",
            f"-Dartifact={ARTIFACT.format(version=settings.es_version)}",
            f"-DoutputDirectory={dist}",
            "-Dmdep.stripVersion=false",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        fetched = sorted(dist.glob(f"elasticsearch-{settings.es_version}*.zip"))
        if result.returncode != 0 or not fetched:
            output = (result.stdout + result.stderr).strip().splitlines()[-20:]
            raise LocalServiceError(f"mvn could not fetch Elasticsearch {settings.es_version}:\n" + "\n".join(output))
        if fetched[0] != archive:
            fetched[0].rename(archive)
    _unzip(archive, dist)
    if not (home / "bin" / "elasticsearch").exists():
        raise LocalServiceError(f"{archive} did not unpack to {home}")
    chown_tree(home, user)
    return home


def _unzip(archive: Path, dest: Path) -> None:
    """Unpack keeping the executable bits (``zipfile`` alone drops them)."""
    tmp = dest / f".unpack-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = Path(zf.extract(info, tmp))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                target.chmod(mode)
    for child in tmp.iterdir():
        final = dest / child.name
        if final.exists():
            shutil.rmtree(final)
        child.rename(final)
    tmp.rmdir()


# --------------------------------------------------------------------------- start / stop / status


def _answering(url: str) -> bool:
    try:
        status, _ = http_get(f"{url}/_cluster/health", timeout=2.0)
    except OSError:
        return False
    return status == 200


def start(
    settings: Settings,
    port: int | None = None,
    data_dir: Path | None = None,
    wait: bool = True,
    timeout: float = 180.0,
) -> EsProcess:
    """Start a single-node server on 127.0.0.1:``port`` (default ``settings.es_port``).

    Idempotent: when something already answers there, it is returned as is. With ``data_dir``
    the node keeps data, logs and pidfile beside it (``data_dir``'s parent); otherwise under
    ``<var>/es/``.
    """
    port = port or settings.es_port
    url = f"http://{HOST}:{port}"
    state_dir = Path(data_dir).parent if data_dir else es_dir(settings)
    data = Path(data_dir) if data_dir else state_dir / "data"
    logs = state_dir / "logs"
    pidfile = pidfile_for(state_dir, port)
    old = read_pidfile(pidfile)
    if _answering(url):
        return EsProcess(url, port, old if old and pid_alive(old) else None, pidfile=pidfile)
    if old and pid_alive(old):
        if not wait or wait_for_http(f"{url}/_cluster/health", timeout=timeout, alive=[old]):
            return EsProcess(url, port, old, pidfile=pidfile, data_dir=data, log_dir=logs)
        raise LocalServiceError(f"Elasticsearch pid {old} runs but does not answer on {url}")

    home = ensure_distribution(settings)
    java = find_java_home()
    user = _service_user()
    tmp = state_dir / "tmp"
    for folder in (data, logs, tmp):
        folder.mkdir(parents=True, exist_ok=True)
        chown_tree(folder, user)
    if user is not None:
        for folder in (home, data, logs, tmp):
            make_traversable(folder)

    cmd = [
        str(home / "bin" / "elasticsearch"),
        "-E", "discovery.type=single-node",
        "-E", f"network.host={HOST}",
        "-E", f"http.port={port}",
        "-E", f"transport.port={free_port()}",
        "-E", "xpack.security.enabled=false",
        "-E", f"path.data={data}",
        "-E", f"path.logs={logs}",
        "-E", "cluster.routing.allocation.disk.threshold_enabled=false",
        "-E", f"cluster.name=unicat-{port}",
        "-E", f"node.name=unicat-{port}",
    ]  # fmt: skip
    proc = spawn(home, cmd[1:], state_dir, logs, java, user)
    write_pidfile(pidfile, proc.pid)
    console = logs / "console.log"
    es = EsProcess(url, port, proc.pid, home, data, logs, pidfile, started=True)
    if wait and not wait_for_http(f"{url}/_cluster/health", timeout=timeout, alive=[proc.pid]):
        why = "exited" if proc.poll() is not None else f"did not answer within {timeout:.0f} s"
        es.stop(timeout=10)
        log_text = tail(logs / f"unicat-{port}.log", 20)
        raise LocalServiceError(
            f"Elasticsearch on {url} {why}.\n--- {console}\n{tail(console, 20)}\n--- server log\n{log_text}"
        )
    return es


def spawn(
    home: Path,
    args: list[str],
    state_dir: Path,
    logs: Path,
    java: Path,
    user: ServiceUser | None,
    *,
    java_opts: str = "-Xms512m -Xmx1g",
    conf_dir: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Run ``bin/elasticsearch ARGS`` in its own session (so the launcher and the server JVM can be
    signalled together) as ``user``, output appended to ``logs/console.log``. ``conf_dir`` is the
    node's own ``ES_PATH_CONF`` (security files, certificates); by default the distribution's."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "ES_JAVA_HOME": str(java),
        "ES_JAVA_OPTS": os.environ.get("UNICAT_ES_JAVA_OPTS", java_opts),
        "ES_TMPDIR": str(state_dir / "tmp"),
        "HOME": str(state_dir),
    }
    if conf_dir is not None:
        env["ES_PATH_CONF"] = str(conf_dir)
    with open(logs / "console.log", "ab") as out:
        return subprocess.Popen(  # noqa: S603 - fixed command
            [str(home / "bin" / "elasticsearch"), *args],
            cwd=home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user.uid if user else None,
            group=user.gid if user else None,
            extra_groups=[] if user else None,
        )


def stop(settings: Settings, port: int | None = None, timeout: float = 30.0) -> bool:
    """Stop the node this module started for ``port``; ``False`` when none was running."""
    port = port or settings.es_port
    pidfile = pidfile_for(es_dir(settings), port)
    pid = read_pidfile(pidfile)
    if pid is None or not pid_alive(pid):
        pidfile.unlink(missing_ok=True)
        return False
    terminate(pid, timeout=timeout, group=True)
    pidfile.unlink(missing_ok=True)
    return True


def status(settings: Settings) -> dict[str, object]:
    """Whether ``settings.es_url`` answers, with version, health and index count."""
    url = settings.es_url.split(",")[0].strip().rstrip("/")
    port = urlsplit(url).port or settings.es_port
    pid = read_pidfile(pidfile_for(es_dir(settings), port))
    info: dict[str, object] = {
        "running": False,
        "url": url,
        "pid": pid if pid and pid_alive(pid) else None,
        "version": None,
        "cluster_status": None,
        "indices": None,
        "distribution": str(dist_home(settings)) if dist_home(settings).exists() else None,
    }
    try:
        code, body = http_get(f"{url}/_cluster/health", timeout=3.0)
    except OSError:
        return info
    if code != 200:
        return info
    info["running"] = True
    info["cluster_status"] = json.loads(body).get("status")
    try:
        code, body = http_get(f"{url}/_nodes/_local", timeout=3.0)
        if code == 200:
            nodes = json.loads(body).get("nodes", {})
            info["version"] = next((n.get("version") for n in nodes.values()), None)
        code, body = http_get(f"{url}/_cat/indices?format=json", timeout=3.0)
        if code == 200:
            info["indices"] = len(json.loads(body))
    except (OSError, ValueError):
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    def started(settings: Settings, port: int | None) -> str:
        es = start(settings, port=port)
        return f"Elasticsearch answers on {es.url} (pid {es.pid or 'unknown'})"

    return service_cli(
        "python -m unicat.localsvc.elasticsearch",
        argv,
        {
            "fetch": lambda settings, _port: ensure_distribution(settings),
            "start": started,
            "stop": lambda settings, port: "stopped" if stop(settings, port=port) else "not running",
            "status": lambda settings, _port: status(settings),
        },
        lambda settings, port: settings.model_copy(update={"es_port": port, "es_url": f"http://{HOST}:{port}"}),
    )


if __name__ == "__main__":
    raise SystemExit(main())
