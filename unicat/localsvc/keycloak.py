"""Keycloak (Maven Central's ``keycloak-quarkus-dist``) as a local OpenID Connect / SAML provider for
development and the sign-in tests: fetched once into ``var/keycloak/dist``, started in dev mode with an
in-memory database and realms imported from JSON, on loopback only.

``python -m unicat.localsvc.keycloak fetch`` places the distribution (scripts/setup.sh runs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from unicat.localsvc.elasticsearch import _unzip
from unicat.localsvc.process import LocalServiceError, find_java_home

VERSION = "26.7.3"
ARTIFACT = "org.keycloak:keycloak-quarkus-dist:{version}:zip"


def dist_home(var_dir: Path, version: str = VERSION) -> Path:
    return Path(var_dir) / "keycloak" / "dist" / f"keycloak-{version}"


def ensure_distribution(var_dir: Path, version: str = VERSION) -> Path:
    """The unpacked server; fetched with Maven only when absent."""
    home = dist_home(var_dir, version)
    if (home / "bin" / "kc.sh").exists():
        return home
    dist = home.parent
    dist.mkdir(parents=True, exist_ok=True)
    archive = dist / f"keycloak-quarkus-dist-{version}.zip"
    if not archive.exists():
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LocalServiceError("Maven (`mvn`) is needed to fetch Keycloak: `apt-get install maven`")
        result = subprocess.run([mvn, "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT.format(version=version)}",
                                 f"-DoutputDirectory={dist}"], capture_output=True, text=True, check=False)
        if result.returncode != 0 or not archive.exists():
            tail = (result.stdout + result.stderr).strip().splitlines()[-20:]
            raise LocalServiceError(f"mvn could not fetch Keycloak {version}:\n" + "\n".join(tail))
    _unzip(archive, dist)
    if not (home / "bin" / "kc.sh").exists():
        raise LocalServiceError(f"{archive} did not unpack to {home}")
    return home


@dataclass
class KeycloakNode:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    boot_seconds: float

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(home: Path, port: int, realms: list[dict[str, Any]], work: Path, timeout: float = 400.0) -> KeycloakNode:
    """Start ``kc.sh start-dev`` with these realms; returns once the first realm's discovery answers.

    The realm files go into the distribution's ``data/import`` (read at every start; ``dev-mem`` keeps
    nothing between starts).
    """
    imports = home / "data" / "import"
    shutil.rmtree(imports, ignore_errors=True)
    imports.mkdir(parents=True)
    for realm in realms:
        (imports / f"{realm['realm']}-realm.json").write_text(json.dumps(realm), encoding="utf-8")
    log = work / "keycloak.log"
    env = {**os.environ, "JAVA_HOME": str(find_java_home(minimum=17, preferred_max=25)),
           "KC_BOOTSTRAP_ADMIN_USERNAME": "admin", "KC_BOOTSTRAP_ADMIN_PASSWORD": "admin"}
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen([str(home / "bin" / "kc.sh"), "start-dev", "--db=dev-mem", "--http-host=127.0.0.1",
                                    f"--http-port={port}", "--hostname-strict=false", "--import-realm"],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    probe = f"{url}/realms/{realms[0]['realm']}/.well-known/openid-configuration"
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise LocalServiceError(f"Keycloak exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(probe, timeout=2).status_code == 200:
                return KeycloakNode(url, process, log, time.monotonic() - started)
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise LocalServiceError(f"Keycloak did not answer within {timeout:.0f} s:\n{log.read_text()[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if args != ["fetch"]:
        print("usage: python -m unicat.localsvc.keycloak fetch", file=sys.stderr)
        return 2
    from unicat.settings import Settings

    try:
        print(ensure_distribution(Settings().var_dir))
    except LocalServiceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
