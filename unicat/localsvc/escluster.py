"""A local Elasticsearch cluster of one or more nodes, with x-pack security on when asked.

Every node runs the same Maven Central server (see :mod:`unicat.localsvc.elasticsearch`) with its
own configuration folder (``ES_PATH_CONF``), data, logs, HTTP and transport port; the nodes find
each other through ``discovery.seed_hosts`` and bootstrap with ``cluster.initial_master_nodes``.

With ``secure`` the cluster runs as production runs it: TLS on HTTP and transport (a CA and a node
certificate made by the server's own ``elasticsearch-certutil``), and a user of the file realm made
with ``elasticsearch-users``; unicat then connects with ``UNICAT_ES_CA_FILE`` and
``UNICAT_ES_USERNAME``/``UNICAT_ES_PASSWORD`` (see :meth:`EsCluster.client_env`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from unicat.localsvc.elasticsearch import HOST, SERVICE_USER, ensure_distribution, es_dir, spawn
from unicat.localsvc.process import (
    LocalServiceError,
    chown_tree,
    ensure_service_user,
    find_java_home,
    make_traversable,
    pid_alive,
    read_pidfile,
    tail,
    terminate,
    write_pidfile,
)
from unicat.settings import Settings

#: Small heaps: several clusters and test runs share one machine.
CLUSTER_JAVA_OPTS = "-Xms256m -Xmx512m"
USERNAME = "unicat"
#: Config files copied from the distribution into every node's own configuration folder.
_CONFIG_FILES = ("jvm.options", "log4j2.properties", "roles.yml", "role_mapping.yml", "elasticsearch.keystore")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    ca_file: Path


@dataclass
class EsNode:
    name: str
    http_port: int
    transport_port: int
    state_dir: Path
    pid: int | None = None

    @property
    def pidfile(self) -> Path:
        return self.state_dir / "elasticsearch.pid"

    @property
    def conf_dir(self) -> Path:
        return self.state_dir / "config"


@dataclass
class EsCluster:
    """Nodes of one cluster under ``base``; start, kill and restart them one by one."""

    base: Path
    nodes: list[EsNode]
    settings: Settings
    secure: bool = False
    credentials: Credentials | None = None
    name: str = "unicat"
    java_opts: str = CLUSTER_JAVA_OPTS
    _started: set[str] = field(default_factory=set)

    # ------------------------------------------------------------------ addresses
    @property
    def scheme(self) -> str:
        return "https" if self.secure else "http"

    def node_url(self, node: EsNode) -> str:
        return f"{self.scheme}://{HOST}:{node.http_port}"

    @property
    def url(self) -> str:
        """Every node's address, comma-separated: the form ``UNICAT_ES_URL`` takes for a cluster."""
        return ",".join(self.node_url(n) for n in self.nodes)

    def client_env(self) -> dict[str, str]:
        """The ``UNICAT_ES_*`` settings that reach this cluster."""
        env = {"UNICAT_ES_URL": self.url}
        if self.credentials is not None:
            env.update(
                UNICAT_ES_USERNAME=self.credentials.username,
                UNICAT_ES_PASSWORD=self.credentials.password,
                UNICAT_ES_CA_FILE=str(self.credentials.ca_file),
            )
        return env

    # ------------------------------------------------------------------ requests
    def request(self, node: EsNode, path: str, timeout: float = 5.0) -> tuple[int, dict]:
        """GET ``path`` from one node with the cluster's credentials; raises OSError when it is down."""
        req = urllib.request.Request(f"{self.node_url(node)}{path}")  # noqa: S310 - local URLs only
        context = None
        if self.credentials is not None:
            token = base64.b64encode(f"{self.credentials.username}:{self.credentials.password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
            context = ssl.create_default_context(cafile=str(self.credentials.ca_file))
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:  # noqa: S310
                return int(resp.status), json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            body = err.read()
            with contextlib.suppress(ValueError):
                return int(err.code), json.loads(body or b"{}")
            return int(err.code), {}

    def health(self, timeout: float = 5.0) -> dict | None:
        """Cluster health as any live node reports it; ``None`` when none answers."""
        for node in self.nodes:
            if node.pid is not None and not pid_alive(node.pid):
                continue
            try:
                code, body = self.request(node, "/_cluster/health?timeout=1s", timeout=timeout)
            except OSError:
                continue
            if code == 200:
                return body
        return None

    def wait_for(self, nodes: int | None = None, status: str = "yellow", timeout: float = 240.0) -> float:
        """Wait until ``nodes`` nodes (default all) form the cluster with at least ``status``;
        returns the seconds waited."""
        wanted = len(self.nodes) if nodes is None else nodes
        order = {"red": 0, "yellow": 1, "green": 2}
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            health = self.health()
            if (
                health
                and health.get("number_of_nodes") == wanted
                and order.get(health.get("status", "red"), 0) >= order[status]
            ):
                return time.monotonic() - began
            dead = [n.name for n in self.nodes if n.name in self._started and not pid_alive(n.pid or 0)]
            if len(self.nodes) - len(dead) < wanted:
                break
            time.sleep(0.5)
        logs = "\n".join(f"--- {n.name}\n{tail(n.state_dir / 'logs' / (self.name + '.log'), 15)}" for n in self.nodes)
        raise LocalServiceError(f"cluster {self.name} did not reach {wanted} nodes / {status}:\n{logs}")

    # ------------------------------------------------------------------ processes
    def start_node(self, node: EsNode) -> None:
        """Start (or restart, on its old data) one node; returns at once."""
        home = ensure_distribution(self.settings)
        user = ensure_service_user(SERVICE_USER)
        for sub in ("data", "logs", "tmp"):
            (node.state_dir / sub).mkdir(parents=True, exist_ok=True)
        self._write_config(node, home)
        chown_tree(node.state_dir, user)
        if user is not None:
            make_traversable(node.state_dir)
            make_traversable(home)
        proc = spawn(
            home, [], node.state_dir, node.state_dir / "logs", find_java_home(), user,
            java_opts=self.java_opts, conf_dir=node.conf_dir,
        )  # fmt: skip
        node.pid = proc.pid
        write_pidfile(node.pidfile, proc.pid)
        self._started.add(node.name)

    def start(self, wait: bool = True) -> EsCluster:
        if self.secure and self.credentials is None:
            self.credentials = make_security(self.base, self.settings)
        for node in self.nodes:
            pid = read_pidfile(node.pidfile)
            if pid and pid_alive(pid):
                node.pid = pid
                continue
            self.start_node(node)
        if wait:
            self.wait_for()
        return self

    def kill(self, node: EsNode) -> None:
        """``kill -9`` the node (launcher and server JVM): no shutdown, no goodbye to the cluster."""
        if node.pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(node.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid_alive(node.pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop_node(self, node: EsNode, timeout: float = 30.0) -> bool:
        pid = node.pid or read_pidfile(node.pidfile)
        if not pid or not pid_alive(pid):
            node.pidfile.unlink(missing_ok=True)
            return False
        terminate(pid, timeout=timeout, group=True)
        node.pidfile.unlink(missing_ok=True)
        return True

    def stop(self) -> int:
        """Stop every node; returns how many were running."""
        return sum(self.stop_node(node) for node in self.nodes)

    def master(self) -> EsNode | None:
        """The node elected master right now."""
        for node in self.nodes:
            with contextlib.suppress(OSError):
                code, body = self.request(node, "/_nodes/_master?filter_path=nodes.*.name")
                if code == 200:
                    names = [v["name"] for v in body.get("nodes", {}).values()]
                    return next((n for n in self.nodes if n.name in names), None)
        return None

    # ------------------------------------------------------------------ configuration
    def _write_config(self, node: EsNode, home: Path) -> None:
        conf = node.conf_dir
        conf.mkdir(parents=True, exist_ok=True)
        for name in _CONFIG_FILES:
            if (home / "config" / name).exists() and not (conf / name).exists():
                shutil.copy2(home / "config" / name, conf / name)
        (conf / "jvm.options.d").mkdir(exist_ok=True)
        lines = [
            f"cluster.name: {self.name}",
            f"node.name: {node.name}",
            f"network.host: {HOST}",
            f"http.port: {node.http_port}",
            f"transport.port: {node.transport_port}",
            f"path.data: {node.state_dir / 'data'}",
            f"path.logs: {node.state_dir / 'logs'}",
            "cluster.routing.allocation.disk.threshold_enabled: false",
            "action.destructive_requires_name: false",
        ]
        if len(self.nodes) == 1:
            lines.append("discovery.type: single-node")
        else:
            seeds = ", ".join(f'"{HOST}:{n.transport_port}"' for n in self.nodes)
            masters = ", ".join(f'"{n.name}"' for n in self.nodes)
            lines += [f"discovery.seed_hosts: [{seeds}]", f"cluster.initial_master_nodes: [{masters}]"]
        lines += self._security_lines(conf)
        (conf / "elasticsearch.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _security_lines(self, conf: Path) -> list[str]:
        if not self.secure:
            return ["xpack.security.enabled: false"]
        security = self.base / "security"
        certs = conf / "certs"
        certs.mkdir(exist_ok=True)
        for name in ("ca.crt", "node.crt", "node.key"):
            shutil.copy2(security / name, certs / name)
        for name in ("users", "users_roles"):
            shutil.copy2(security / name, conf / name)
        lines = ["xpack.security.enabled: true"]
        for layer in ("http", "transport"):
            lines += [
                f"xpack.security.{layer}.ssl.enabled: true",
                f"xpack.security.{layer}.ssl.key: certs/node.key",
                f"xpack.security.{layer}.ssl.certificate: certs/node.crt",
                f"xpack.security.{layer}.ssl.certificate_authorities: [certs/ca.crt]",
            ]
        lines.append("xpack.security.transport.ssl.verification_mode: certificate")
        return lines


# --------------------------------------------------------------------------- security material


def make_security(base: Path, settings: Settings) -> Credentials:
    """CA, node certificate (for 127.0.0.1/localhost) and a superuser of the file realm, made once
    under ``base/security`` with the server's own tools; the password is kept in ``credentials.json``
    (mode 0600)."""
    security = base / "security"
    saved = security / "credentials.json"
    if saved.exists():
        data = json.loads(saved.read_text())
        return Credentials(data["username"], data["password"], Path(data["ca_file"]))
    security.mkdir(parents=True, exist_ok=True)
    home = ensure_distribution(settings)
    work = security / "tool-config"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(home / "config", work)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ES_JAVA_HOME": str(find_java_home()),
        "ES_PATH_CONF": str(work),
        "ES_JAVA_OPTS": "-Xms64m -Xmx256m",
        "HOME": str(security),
    }

    def tool(*args: str) -> None:
        done = subprocess.run(  # noqa: S603 - fixed command
            [str(home / "bin" / args[0]), *args[1:]], env=env, capture_output=True, text=True, timeout=180, check=False
        )
        if done.returncode != 0:
            raise LocalServiceError(f"{args[0]} {args[1]} failed: {(done.stdout + done.stderr).strip()[-800:]}")

    tool("elasticsearch-certutil", "ca", "--pem", "--silent", "--days", "3650", "--out", str(security / "ca.zip"))
    _unzip_flat(security / "ca.zip", security, {"ca/ca.crt": "ca.crt", "ca/ca.key": "ca.key"})
    tool(
        "elasticsearch-certutil", "cert", "--pem", "--silent", "--days", "3650", "--name", "node",
        "--ca-cert", str(security / "ca.crt"), "--ca-key", str(security / "ca.key"),
        "--ip", HOST, "--dns", "localhost", "--out", str(security / "node.zip"),
    )  # fmt: skip
    _unzip_flat(security / "node.zip", security, {"node/node.crt": "node.crt", "node/node.key": "node.key"})
    password = secrets.token_urlsafe(18)
    tool("elasticsearch-users", "useradd", USERNAME, "-p", password, "-r", "superuser")
    for name in ("users", "users_roles"):
        shutil.copy2(work / name, security / name)
    shutil.rmtree(work, ignore_errors=True)
    secret = json.dumps({"username": USERNAME, "password": password, "ca_file": str(security / "ca.crt")})
    fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret)
    # The CA certificate is public; everyone (the server's user, unicat's) must read it.
    (security / "ca.crt").chmod(0o644)
    security.chmod(0o755)
    return Credentials(USERNAME, password, security / "ca.crt")


def _unzip_flat(archive: Path, dest: Path, names: dict[str, str]) -> None:
    with zipfile.ZipFile(archive) as zf:
        for inner, outer in names.items():
            (dest / outer).write_bytes(zf.read(inner))
    archive.unlink()


# --------------------------------------------------------------------------- planning


def plan(
    base: Path,
    settings: Settings,
    nodes: int,
    http_ports: list[int],
    transport_ports: list[int],
    *,
    secure: bool = False,
    name: str = "unicat",
) -> EsCluster:
    """A cluster of ``nodes`` nodes under ``base`` (``node-1`` …), not started yet."""
    if nodes < 1 or len(http_ports) < nodes or len(transport_ports) < nodes:
        raise LocalServiceError(f"a cluster needs at least one node and a port pair per node (asked {nodes})")
    members = [
        EsNode(f"{name}-node-{i + 1}", http_ports[i], transport_ports[i], base / f"node-{i + 1}") for i in range(nodes)
    ]
    return EsCluster(base, members, settings, secure=secure, name=name)


def local_cluster(settings: Settings, nodes: int, *, secure: bool = False) -> EsCluster:
    """The cluster ``unicat es start --nodes N`` runs: under ``<var>/es/cluster``, HTTP ports from
    ``UNICAT_ES_PORT`` up, transport ports 100 above them."""
    first = settings.es_port
    http = [first + i for i in range(nodes)]
    return plan(es_dir(settings) / "cluster", settings, nodes, http, [p + 100 for p in http], secure=secure)


def running_cluster(settings: Settings) -> EsCluster | None:
    """The local cluster started earlier (its layout is read back from its folder), if any."""
    base = es_dir(settings) / "cluster"
    saved = base / "cluster.json"
    if not saved.exists():
        return None
    data = json.loads(saved.read_text())
    cluster = plan(base, settings, data["nodes"], data["http_ports"], data["transport_ports"], secure=data["secure"])
    if data["secure"]:
        cluster.credentials = make_security(base, settings)
    for node in cluster.nodes:
        pid = read_pidfile(node.pidfile)
        node.pid = pid if pid and pid_alive(pid) else None
    return cluster


def remember(cluster: EsCluster) -> None:
    """Write the cluster's layout so that ``unicat es stop|status`` find every node later."""
    cluster.base.mkdir(parents=True, exist_ok=True)
    layout = {
        "nodes": len(cluster.nodes),
        "http_ports": [n.http_port for n in cluster.nodes],
        "transport_ports": [n.transport_port for n in cluster.nodes],
        "secure": cluster.secure,
    }
    (cluster.base / "cluster.json").write_text(json.dumps(layout))


def node_status(cluster: EsCluster) -> list[dict[str, object]]:
    """One row per node: name, URL, pid, whether it answers and whether it is the master."""
    master = cluster.master()
    rows: list[dict[str, object]] = []
    for node in cluster.nodes:
        answering = False
        with contextlib.suppress(OSError):
            # (this minimal server has no `GET /`: the node's own info stands in for it)
            answering = cluster.request(node, "/_nodes/_local?filter_path=nodes.*.name", timeout=3.0)[0] == 200
        rows.append(
            {"node": node.name, "url": cluster.node_url(node), "pid": node.pid, "answering": answering,
             "master": master is not None and master.name == node.name}
        )  # fmt: skip
    return rows
