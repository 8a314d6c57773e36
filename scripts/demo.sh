#!/usr/bin/env bash
# The whole demo on one machine: set up, start Elasticsearch, Redis and the members' OAI-PMH
# providers in the background, load the members, harvest everything and serve the web site.
#   bash scripts/demo.sh          # then open http://127.0.0.1:8000
#   bash scripts/demo.sh stop     # stop the background services again
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
RUN="${UNICAT_VAR_DIR:-var}/demo"
mkdir -p "$RUN"
# The demo's members harvest providers on this machine: loopback feeds are allowed explicitly (the
# default policy refuses private and loopback addresses, in `members load` as in the console).
export UNICAT_FEED_ALLOWLIST="${UNICAT_FEED_ALLOWLIST:-[\"127.0.0.1/32\"]}"

# port member-code "Repository name" records-folder
PROVIDERS=(
    "8081 pku 北京大学图书馆 Peking University Library demo/data/pku"
    "8082 sjtu 上海交通大学图书馆 Shanghai Jiao Tong University Library demo/data/sjtu"
)

WORKERS=(harvest ill)

stop_all() {
    for queue in "${WORKERS[@]}"; do
        pidfile="$RUN/worker-$queue.pid"
        if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            kill "$(cat "$pidfile")" && echo "demo: stopped the $queue worker"
        fi
        rm -f "$pidfile"
    done
    for line in "${PROVIDERS[@]}"; do
        port="${line%% *}"
        pidfile="$RUN/oai-$port.pid"
        if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            kill "$(cat "$pidfile")" && echo "demo: stopped OAI provider on $port"
        fi
        rm -f "$pidfile"
    done
    "$PY" -m unicat.localsvc.redis stop || true
    "$PY" -m unicat.localsvc.elasticsearch stop || true
}

if [ "${1:-}" = "stop" ]; then
    stop_all
    exit 0
fi

bash scripts/setup.sh
"$PY" -m unicat.localsvc.elasticsearch start
"$PY" -m unicat.localsvc.redis start

for line in "${PROVIDERS[@]}"; do
    read -r port code rest <<<"$line"
    records="${rest##* }"
    name="${rest% *}"
    pidfile="$RUN/oai-$port.pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "demo: OAI provider for $code already runs on $port"
        continue
    fi
    nohup "$PY" -m demo.oai_provider --port "$port" --records "$records" --id "$code" --name "$name" \
        --batch 100 --state "$RUN/oai-$port-state.json" >"$RUN/oai-$port.log" 2>&1 &
    echo $! >"$pidfile"
done
for line in "${PROVIDERS[@]}"; do
    port="${line%% *}"
    for _ in $(seq 1 100); do
        if "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
            "http://127.0.0.1:$port/oai?verb=Identify" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    echo "demo: OAI provider on http://127.0.0.1:$port/oai"
done

.venv/bin/unicat members load
.venv/bin/unicat harvest --all
# Two workers, one per queue: scheduled harvests, and ILL timers / e-mail / the ISO 18626 outbox
# (forwarding on timeout, notifications and messages to peers only happen while this one runs).
for queue in "${WORKERS[@]}"; do
    pidfile="$RUN/worker-$queue.pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "demo: the $queue worker already runs"
        continue
    fi
    nohup .venv/bin/unicat worker --queue "$queue" >"$RUN/worker-$queue.log" 2>&1 &
    echo $! >"$pidfile"
    echo "demo: $queue worker started (log $RUN/worker-$queue.log)"
done
echo "demo: serving on http://127.0.0.1:8000 (stop background services with: bash scripts/demo.sh stop)"
exec .venv/bin/unicat serve --host 127.0.0.1 --port 8000
