#!/usr/bin/env bash
# make bench-reads: the read paths of MetaStore-C side by side, in one run,
# with the same clients, keys and concurrency, on a 3-node cluster on
# 127.0.0.1.  Not a test: it prints throughput and p50/p99 latency per mode
# and the ratios the lease read design is judged by:
#   lease      linearizable reads on the leader, lease fast path
#   readindex  linearizable reads on the leader, lease disabled
#   log        every read through the Raft log (read_mode: log)
#   follower   linearizable reads on the followers (read index from leader)
#   serial     serializable reads on the leader (local state, no guarantee)
#   ping       the protocol alone
#   lease-tls  lease reads again, TLS on the client and peer ports
#              (certificates from scripts/gen-test-certs.sh; skipped
#              without the openssl command)
#   http       linearizable reads on the leader through the HTTP/JSON API
# plus, when redis-benchmark is installed (apt-get install redis-server), a
# Redis GET anchor: the ceiling of one event loop on this machine;
# plus, when etcd is installed (WITH_BENCH=1 scripts/install-deps.sh), the
# same reads through etcd 3.4's JSON gateway on a 3-node etcd cluster,
# measured by the same tool (metastore-bench --http).
# Puts against etcd, and reads in alternating rounds: make bench-anchors
# (scripts/bench-anchors.sh).
# Environment: BUILD, DURATION (10s), CONNS (64), DEPTH (16), KEYS (10000),
# HTTP_DEPTH (1: requests in flight per HTTP connection).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
DEPTH=${DEPTH:-16}
KEYS=${KEYS:-10000}
HTTP_DEPTH=${HTTP_DEPTH:-1}
BASE=${BASE_PORT:-27100}
DIR=$(mktemp -d /tmp/metastore-bench-XXXXXX)
pids=()
CLIENT_TLS=() # metastore-cli / metastore-bench flags for a TLS cluster

stop_cluster() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap 'stop_cluster; rm -rf "$DIR"' EXIT

endpoints() { echo "127.0.0.1:$((BASE + 10)),127.0.0.1:$((BASE + 20)),127.0.0.1:$((BASE + 30))"; }

start_cluster() { # extra metastored flags...
    stop_cluster
    rm -rf "$DIR"/n*
    local ic="" i
    for i in 1 2 3; do
        ic+="${ic:+,}$i=127.0.0.1:$((BASE + 10 * i + 1))@127.0.0.1:$((BASE + 10 * i))"
    done
    for i in 1 2 3; do
        "$BUILD/metastored" --node-id $i --name node$i --data-dir "$DIR/n$i" \
            --listen-client 127.0.0.1:$((BASE + 10 * i)) \
            --listen-peer 127.0.0.1:$((BASE + 10 * i + 1)) \
            --listen-admin 127.0.0.1:$((BASE + 10 * i + 2)) \
            --http-listen 127.0.0.1:$((BASE + 10 * i + 3)) \
            --initial-cluster "$ic" --log-level warn "$@" 2>>"$DIR/log" &
        pids+=($!)
    done
    local deadline=$((SECONDS + 30))
    until "$BUILD/metastore-cli" "${CLIENT_TLS[@]}" --endpoints="$(endpoints)" endpoint status -w table 2>/dev/null | grep -q true; do
        [ $SECONDS -lt $deadline ] || { echo "bench-reads: no leader" >&2; cat "$DIR/log" >&2; exit 1; }
        sleep 0.2
    done
}

# Prints "ops_per_sec p50_us p99_us" for one bench run.
run_bench() { # metastore-bench flags...
    "$BUILD/metastore-bench" "${CLIENT_TLS[@]}" --endpoints "${BENCH_ENDPOINTS:-$(endpoints)}" --conns "$CONNS" \
        --depth "${BENCH_DEPTH:-$DEPTH}" --keys "$KEYS" --value-size 256 --duration "$DURATION" \
        --json "$@" | awk '
        { line = line $0 }
        END {
            n = split(line, f, /[,{}]/)
            for (i = 1; i <= n; i++) {
                split(f[i], kv, ":"); gsub(/[" ]/, "", kv[1])
                v[kv[1]] = kv[2]
            }
            printf "%s %s %s\n", v["ops_per_s"], v["p50"], v["p99"]
        }'
}

# The HTTP address (host:port) of the leader among nodes 1..3 whose HTTP
# port is base + 10 * i + off: the node whose status says it leads
# (MetaStore: "role":"leader"; etcd: "leader" equal to its own member_id).
http_leader() { # base, off
    local i addr out
    for _ in $(seq 1 50); do
        for i in 1 2 3; do
            addr=127.0.0.1:$(($1 + 10 * i + $2))
            out=$(curl -s -X POST "http://$addr/v3/maintenance/status" || true)
            if printf '%s' "$out" | grep -q '"role":"leader"' ||
                printf '%s' "$out" | awk '{
                    m = $0; sub(/.*"member_id":"/, "", m); sub(/".*/, "", m)
                    l = $0; sub(/.*"leader":"/, "", l); sub(/".*/, "", l)
                    exit !(m != "" && m == l) }'; then
                echo "$addr"
                return
            fi
        done
        sleep 0.2
    done
    echo "bench-reads: no HTTP leader found" >&2
    exit 1
}

declare -A ops p50 p99
measure() { # name, bench flags...
    local name=$1
    shift
    read -r ops[$name] p50[$name] p99[$name] < <(run_bench "$@")
    printf '%-10s %12.0f ops/s   p50 %8s us   p99 %8s us\n' "$name" "${ops[$name]}" "${p50[$name]}" "${p99[$name]}"
}

echo "MetaStore-C read paths, 3 nodes on 127.0.0.1, $(nproc) cores, $(date -u +%F)"
echo "clients: $CONNS connections x depth $DEPTH, $KEYS keys of 256 bytes, $DURATION per mode"
echo

start_cluster
"$BUILD/metastore-bench" --endpoints "$(endpoints)" --keys "$KEYS" --value-size 256 --op put --preload --requests 1 --json >/dev/null
measure lease --op range --consistency l --target leader
measure follower --op range --consistency l --target followers
measure serial --op range --consistency s --target leader
measure ping --op ping --target leader
# The HTTP/JSON API on the leader, with the same tool in HTTP mode.
BENCH_ENDPOINTS=$(http_leader "$BASE" 3) BENCH_DEPTH=$HTTP_DEPTH \
    measure http --http --op range --consistency l

if command -v openssl >/dev/null 2>&1; then
    scripts/gen-test-certs.sh "$DIR/certs" >/dev/null
    C="$DIR/certs"
    CLIENT_TLS=(--cacert "$C/ca.pem")
    start_cluster --cert-file "$C/server.pem" --key-file "$C/server-key.pem" \
        --peer-cert-file "$C/peer.pem" --peer-key-file "$C/peer-key.pem" \
        --peer-trusted-ca-file "$C/ca.pem" --peer-client-cert-auth
    "$BUILD/metastore-bench" "${CLIENT_TLS[@]}" --endpoints "$(endpoints)" --keys "$KEYS" --value-size 256 --op put --preload --requests 1 --json >/dev/null
    measure lease-tls --op range --consistency l --target leader
    CLIENT_TLS=()
fi

start_cluster --set lease_read.enable=false --set lease_read.read_mode=readindex
"$BUILD/metastore-bench" --endpoints "$(endpoints)" --keys "$KEYS" --value-size 256 --op put --preload --requests 1 --json >/dev/null
measure readindex --op range --consistency l --target leader

start_cluster --set lease_read.read_mode=log
"$BUILD/metastore-bench" --endpoints "$(endpoints)" --keys "$KEYS" --value-size 256 --op put --preload --requests 1 --json >/dev/null
measure log --op range --consistency l --target leader
stop_cluster

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }
echo
echo "lease / readindex : $(ratio "${ops[lease]}" "${ops[readindex]}")   (target >= 2x)"
echo "lease / log       : $(ratio "${ops[lease]}" "${ops[log]}")   (target >= 10x)"
echo "lease / ping      : $(ratio "${ops[lease]}" "${ops[ping]}")   (target >= 0.8x)"
if [ -n "${ops[lease-tls]:-}" ]; then
    echo "lease-tls / lease : $(ratio "${ops[lease-tls]}" "${ops[lease]}")   (the cost of TLS; p99 ${p99[lease-tls]} vs ${p99[lease]} us)"
else
    echo "lease-tls: not measured (the openssl command is not installed)"
fi

echo "http / lease      : $(ratio "${ops[http]}" "${ops[lease]}")   (the cost of HTTP + JSON, depth $HTTP_DEPTH vs $DEPTH)"

# etcd 3.4 anchor: the same reads through etcd's JSON gateway on a 3-node
# etcd cluster on this machine, measured by the same tool in HTTP mode.
if command -v etcd >/dev/null; then
    EB=$((BASE + 50))
    eic=""
    for i in 1 2 3; do eic+="${eic:+,}e$i=http://127.0.0.1:$((EB + 10 * i + 1))"; done
    for i in 1 2 3; do
        etcd --name e$i --data-dir "$DIR/etcd$i" \
            --listen-client-urls http://127.0.0.1:$((EB + 10 * i)) \
            --advertise-client-urls http://127.0.0.1:$((EB + 10 * i)) \
            --listen-peer-urls http://127.0.0.1:$((EB + 10 * i + 1)) \
            --initial-advertise-peer-urls http://127.0.0.1:$((EB + 10 * i + 1)) \
            --initial-cluster "$eic" --log-level error >>"$DIR/etcd.log" 2>&1 &
        pids+=($!)
    done
    eleader=$(http_leader "$EB" 0)
    # The anchor is an extra: when the etcd cluster does not serve (it has
    # refused connections here once, cause not found), say so and go on.
    if "$BUILD/metastore-bench" --http --endpoints "$eleader" --keys "$KEYS" --value-size 256 \
        --op put --preload --requests 1 --json >/dev/null; then
        BENCH_ENDPOINTS=$eleader BENCH_DEPTH=$HTTP_DEPTH \
            measure etcd-http --http --op range --consistency l
        echo "http / etcd-http : $(ratio "${ops[http]}" "${ops[etcd-http]}")   (MetaStore's HTTP API vs etcd 3.4's gateway, same tool)"
    else
        echo "etcd anchor NOT measured: the etcd cluster did not take the preload (last lines of its log:)"
        tail -n 5 "$DIR/etcd.log" | sed 's/^/  etcd: /'
    fi
    stop_cluster
    echo "(one pair; fsync'd puts vs etcd and reads in alternating rounds: make bench-anchors)"
else
    echo "etcd not installed: no etcd anchor (WITH_BENCH=1 scripts/install-deps.sh installs etcd-server)"
fi

if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
    redis-server --port $((BASE + 90)) --save '' --appendonly no --daemonize no >/dev/null 2>&1 &
    rpid=$!
    sleep 0.5
    for pipe in 1 "$DEPTH"; do
        r=$(redis-benchmark -p $((BASE + 90)) -t get -c "$CONNS" -d 256 -P "$pipe" -n 1000000 -q | tr '\r' '\n' | awk '/GET.*requests per second/ {print $2}' | tail -n 1)
        # Only the same pipeline depth on both sides is a fair ratio.
        if [ "$pipe" = "$DEPTH" ]; then
            echo "redis GET (-c $CONNS -P $pipe): $r ops/s; lease reads / redis: $(ratio "${ops[lease]}" "$r")   (target >= 0.5x)"
        else
            echo "redis GET (-c $CONNS -P $pipe): $r ops/s (for lease reads at depth $pipe: DEPTH=$pipe make bench-reads)"
        fi
    done
    kill "$rpid"
else
    echo "redis-benchmark not installed: no Redis anchor (apt-get install redis-server)"
fi
