#!/usr/bin/env bash
# Prepare this machine for unicat (idempotent): system packages, .venv, Elasticsearch server.
# Works as root on a fresh Debian 12 (uses sudo only when not root).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

java_ok() {
    local java
    for java in "${JAVA_HOME:-/nonexistent}/bin/java" /usr/lib/jvm/*/bin/java "$(command -v java || true)"; do
        [ -x "$java" ] || continue
        local major
        major="$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
        if [ -n "$major" ] && [ "$major" -ge 17 ]; then return 0; fi
    done
    return 1
}

need=()
# Identity servers the sign-in tests start privately: OpenLDAP, SimpleSAMLphp (SAML IdP under php -S),
# xmlsec1 for pysaml2's signatures. slapd is installed without a directory of its own.
signin_pkgs=(slapd ldap-utils simplesamlphp php-cli php-xml php-mbstring xmlsec1)
for pkg in redis-server idzebra-2.0 idzebra-2.0-examples yaz libyaz5 chromium fonts-noto-cjk postgresql \
    "${signin_pkgs[@]}"; do
    installed "$pkg" || need+=("$pkg")
done
command -v mvn >/dev/null 2>&1 || need+=(maven)
java_ok || need+=(openjdk-17-jre-headless)
command -v python3.11 >/dev/null 2>&1 || need+=(python3.11)
python3.11 -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3.11-venv)
command -v useradd >/dev/null 2>&1 || [ -x /usr/sbin/useradd ] || need+=(passwd)

if [ "${#need[@]}" -gt 0 ]; then
    echo "setup: installing ${need[*]}"
    $SUDO apt-get update -q
    echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
    $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    python3.11 -m venv .venv
fi
stamp=.venv/.unicat-install-stamp
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! .venv/bin/python -c "import unicat, oaipmh" 2>/dev/null; then
    echo "setup: installing unicat and its test dependencies into .venv"
    piplog="$(mktemp)"
    if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e '.[test]'; } \
        >"$piplog" 2>&1; then
        cat "$piplog"
        rm -f "$piplog"
        echo "setup: pip install failed" >&2
        exit 1
    fi
    rm -f "$piplog"
    echo "$want" > "$stamp"
fi

echo "setup: Elasticsearch server at $(.venv/bin/python -m unicat.localsvc.elasticsearch fetch)"
echo "setup: Keycloak (OIDC provider for the sign-in tests) at $(.venv/bin/python -m unicat.localsvc.keycloak fetch)"
