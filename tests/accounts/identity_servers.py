"""Real identity servers for sign-in tests, each started in a throw-away folder on a free loopback port.

- :func:`private_slapd`: Debian's OpenLDAP ``slapd`` (ldap:// with StartTLS and ldaps://, a test CA),
  loaded with the people of a university directory over LDAP itself (so ``memberOf`` is filled).
- :func:`private_simplesamlphp`: Debian's SimpleSAMLphp 1.19 as a SAML 2.0 IdP under PHP's built-in
  server, with its own signing key and a username/password login form.

``scripts/setup.sh`` installs both (``slapd ldap-utils simplesamlphp php-cli php-xml php-mbstring xmlsec1``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from unicat.localsvc.process import free_port, port_open

BASE_DN = "dc=pku,dc=example"
PEOPLE = {  # uid: (password, cn, displayName, mail, employeeType)
    "alice": ("alice-secret", "Alice Zhang", "张爱丽", "alice@pku.example", "staff"),
    "bob": ("bob-secret", "Bob Li", "Bob Li", "bob@pku.example", "student"),
    "carol": ("carol-secret", "Carol Wang", "Carol Wang", "carol@pku.example", "disabled"),
}


def _run(*args: str, **kw: object) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout  # type: ignore[call-overload, no-any-return]


def make_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a localhost/127.0.0.1 server certificate signed by it: (ca.pem, server.pem, server.key)."""
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr, ext = folder / "server.pem", folder / "server.key", folder / "server.csr", folder / "san.ext"
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", "/CN=Test CA",
         "-keyout", str(ca_key), "-out", str(ca))
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", str(key),
         "-out", str(csr))
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
         "-days", "3650", "-out", str(cert), "-extfile", str(ext))
    return ca, cert, key


@dataclass
class Slapd:
    ldap_url: str
    ldaps_url: str
    ca_file: Path
    process: subprocess.Popen[bytes]


def _ldif() -> str:
    parts = [f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: pku\no: PKU Example\n",
             f"dn: ou=people,{BASE_DN}\nobjectClass: organizationalUnit\nou: people\n",
             f"dn: ou=groups,{BASE_DN}\nobjectClass: organizationalUnit\nou: groups\n"]
    for uid, (password, cn, display, mail, etype) in PEOPLE.items():
        hashed = _run("slappasswd", "-s", password).strip()
        parts.append(f"dn: uid={uid},ou=people,{BASE_DN}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\n"
                     f"sn: {cn.split()[-1]}\ndisplayName: {display}\nmail: {mail}\nemployeeType: {etype}\n"
                     f"userPassword: {hashed}\n")
    parts.append(f"dn: cn=librarians,ou=groups,{BASE_DN}\nobjectClass: groupOfNames\ncn: librarians\n"
                 f"member: uid=alice,ou=people,{BASE_DN}\n")
    return "\n".join(parts)


def _slapd_conf(folder: Path, ca: Path, cert: Path, key: Path) -> str:
    rootpw = _run("slappasswd", "-s", "adminpw").strip()
    return f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {folder}/slapd.pid
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
database mdb
maxsize 104857600
suffix "{BASE_DN}"
rootdn "cn=admin,{BASE_DN}"
rootpw {rootpw}
directory {folder}/data
index objectClass,uid,mail eq
overlay memberof
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
"""


@contextmanager
def private_slapd() -> Iterator[Slapd]:
    if not shutil.which("slapd") and not Path("/usr/sbin/slapd").exists():
        raise RuntimeError("slapd is missing: scripts/setup.sh installs it (apt-get install slapd ldap-utils)")
    folder = Path(tempfile.mkdtemp(prefix="unicat-test-ldap-"))
    (folder / "data").mkdir()
    ca, cert, key = make_ca(folder)
    conf = folder / "slapd.conf"
    conf.write_text(_slapd_conf(folder, ca, cert, key))
    plain, tls = free_port(), free_port()
    urls = f"ldap://127.0.0.1:{plain}/ ldaps://127.0.0.1:{tls}/"
    process = subprocess.Popen(["/usr/sbin/slapd", "-f", str(conf), "-h", urls, "-d", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not port_open("127.0.0.1", plain):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"slapd did not start (exit {process.poll()})")
            time.sleep(0.05)
        (folder / "data.ldif").write_text(_ldif(), encoding="utf-8")
        _run("ldapadd", "-x", "-H", f"ldap://127.0.0.1:{plain}/", "-D", f"cn=admin,{BASE_DN}", "-w", "adminpw",
             "-f", str(folder / "data.ldif"))
        yield Slapd(f"ldap://127.0.0.1:{plain}", f"ldaps://127.0.0.1:{tls}", ca, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")
