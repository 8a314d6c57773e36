"""Real identity servers for sign-in tests, each started in a throw-away folder on a free loopback port.

- :func:`private_slapd`: Debian's OpenLDAP ``slapd`` (ldap:// with StartTLS and ldaps://, a test CA),
  loaded with the people of a university directory over LDAP itself (so ``memberOf`` is filled).
- :func:`private_simplesamlphp`: Debian's SimpleSAMLphp 1.19 as a SAML 2.0 IdP under PHP's built-in
  server, with its own signing key and a username/password login form.

``scripts/setup.sh`` installs both (``slapd ldap-utils simplesamlphp php-cli php-xml php-mbstring xmlsec1``).
"""

from __future__ import annotations

import os
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


SAML_PEOPLE = {  # username: (password, attributes)
    "alice": ("alice-secret", {"uid": ["alice"], "mail": ["alice@nlc.example"], "displayName": ["张爱丽"],
                               "eduPersonPrincipalName": ["alice@nlc.example"],
                               "eduPersonScopedAffiliation": ["staff@nlc.example", "member@nlc.example"],
                               "eduPersonEntitlement": ["urn:mace:dir:entitlement:common-lib-terms"]}),
    "bob": ("bob-secret", {"uid": ["bob"], "mail": ["bob@nlc.example"], "displayName": ["Bob Li"],
                           "eduPersonPrincipalName": ["bob@nlc.example"],
                           "eduPersonScopedAffiliation": ["student@nlc.example", "member@nlc.example"],
                           "eduPersonEntitlement": ["urn:mace:dir:entitlement:common-lib-terms"]}),
    "erin": ("erin-secret", {"uid": ["erin"], "mail": ["erin@nlc.example"], "displayName": ["Erin Former"],
                             "eduPersonPrincipalName": ["erin@nlc.example"],
                             "eduPersonScopedAffiliation": ["alum@nlc.example"]}),
}


@dataclass
class SimpleSamlIdp:
    base: str
    process: subprocess.Popen[bytes]

    @property
    def metadata_url(self) -> str:
        return f"{self.base}/saml2/idp/metadata.php"

    entity_id = metadata_url


def _php(value: object) -> str:
    """A PHP literal for strings, lists and dicts of them."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "[" + ", ".join(_php(v) for v in value) + "]"
    if isinstance(value, dict):
        return "[" + ", ".join(f"{_php(k)} => {_php(v)}" for k, v in value.items()) + "]"
    return "true" if value is True else "false" if value is False else str(value)


def make_keypair(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = folder / f"{name}.key", folder / f"{name}.crt"
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert))
    return key, cert


@contextmanager
def private_simplesamlphp(sp_metadata_xml: list[str], assertion_lifetime: int = 300) -> Iterator[SimpleSamlIdp]:
    """SimpleSAMLphp 1.19 (Debian) as an IdP that knows the given SPs (their metadata XML), encrypts
    assertions to them and requires their AuthnRequests to be signed."""
    www = Path("/usr/share/simplesamlphp/www")
    if not www.exists() or not shutil.which("php"):
        raise RuntimeError("simplesamlphp/php missing: scripts/setup.sh installs them")
    folder = Path(tempfile.mkdtemp(prefix="unicat-test-ssp-"))
    for sub in ("config", "metadata", "cert", "log", "data", "tmp", "sessions"):
        (folder / sub).mkdir()
    make_keypair(folder / "cert", "idp")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sources = [{"type": "flatfile", "directory": str(folder / "metadata")}]
    for n, xml in enumerate(sp_metadata_xml):
        (folder / f"sp{n}.xml").write_text(xml, encoding="utf-8")
        sources.append({"type": "xml", "file": str(folder / f"sp{n}.xml")})
    config = {
        "baseurlpath": f"{base}/", "certdir": f"{folder}/cert/", "loggingdir": f"{folder}/log/",
        "datadir": f"{folder}/data/", "tempdir": f"{folder}/tmp", "metadata.sources": sources,
        "attributenamemapdir": "/etc/simplesamlphp/attributemap/", "secretsalt": secrets_hex(),
        "auth.adminpassword": "adminpw", "technicalcontact_name": "Test", "technicalcontact_email": "na@nlc.example",
        "timezone": "UTC", "enable.saml20-idp": True,
        "module.enable": {"exampleauth": True, "core": True, "saml": True},
        "logging.handler": "errorlog", "session.cookie.secure": False,
        "session.phpsession.savepath": f"{folder}/sessions", "store.type": "phpsession",
    }
    (folder / "config" / "config.php").write_text(
        "<?php\n$config = " + _php(config) + ";\n$config['logging.level'] = SimpleSAML\\Logger::INFO;\n")
    users = {f"{u}:{pw}": attrs for u, (pw, attrs) in SAML_PEOPLE.items()}
    (folder / "config" / "authsources.php").write_text(
        "<?php\n$config = " + _php({"admin": ["core:AdminPassword"],
                                    "example-userpass": {0: "exampleauth:UserPass", **users}}) + ";\n")
    hosted = {"host": "__DEFAULT__", "privatekey": "idp.key", "certificate": "idp.crt", "auth": "example-userpass",
              "attributes.NameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
              "validate.authnrequest": True, "assertion.encryption": True,
              "assertion.lifetime": assertion_lifetime,
              "authproc": {100: {"class": "core:AttributeMap", 0: "name2oid"}}}
    (folder / "metadata" / "saml20-idp-hosted.php").write_text(
        "<?php\n$metadata['__DYNAMIC:1__'] = " + _php(hosted) + ";\n")
    env = {**os.environ, "SIMPLESAMLPHP_CONFIG_DIR": str(folder / "config")}
    log_file = (folder / "php.log").open("wb")
    process = subprocess.Popen(["php", "-S", f"127.0.0.1:{port}", "-t", str(www)], env=env, stdout=log_file,
                               stderr=subprocess.STDOUT)
    try:
        wait_http(f"{base}/saml2/idp/metadata.php", process)
        yield SimpleSamlIdp(base, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log_file.close()
        shutil.rmtree(folder, ignore_errors=True)


def secrets_hex() -> str:
    import secrets

    return secrets.token_hex(16)
