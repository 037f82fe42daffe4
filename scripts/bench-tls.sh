#!/usr/bin/env bash
# make bench-tls: what TLS costs lease reads.  Two 3-node clusters on
# 127.0.0.1 run side by side for the whole run, one plain, one with TLS on
# the client and peer ports (mutual TLS between members, client
# certificates required); the same metastore-bench load (lease reads on the
# leader) goes to one at a time, alternating over ROUNDS rounds and
# swapping which goes first each round, so that load from elsewhere on a
# shared machine falls on both about equally.  Prints each measurement, the
# ratio per round and the median ratio.  Not a test.
# Environment: BUILD, DURATION (5s), ROUNDS (3), CONNS (64), DEPTH (16),
# KEYS (10000), BASE_PORT (21700: below the ephemeral port range).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
DEPTH=${DEPTH:-16}
KEYS=${KEYS:-10000}
BASE=${BASE_PORT:-21700}
if ! command -v openssl >/dev/null 2>&1; then
    echo "bench-tls: the openssl command is not installed (apt-get install openssl)" >&2
    exit 2
fi
DIR=$(mktemp -d /tmp/metastore-bench-tls-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DIR"' EXIT

scripts/gen-test-certs.sh "$DIR/certs" >/dev/null
C=$DIR/certs
TLS_SERVER=(--cert-file "$C/server.pem" --key-file "$C/server-key.pem"
    --trusted-ca-file "$C/ca.pem" --client-cert-auth
    --peer-cert-file "$C/peer.pem" --peer-key-file "$C/peer-key.pem"
    --peer-trusted-ca-file "$C/ca.pem" --peer-client-cert-auth)
TLS_CLIENT=(--cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client-key.pem")

endpoints() { # base
    echo "127.0.0.1:$(($1 + 10)),127.0.0.1:$(($1 + 20)),127.0.0.1:$(($1 + 30))"
}

start_cluster() { # name, base port, extra metastored flags...
    local name=$1 base=$2 ic="" i
    shift 2
    for i in 1 2 3; do
        ic+="${ic:+,}$i=127.0.0.1:$((base + 10 * i + 1))@127.0.0.1:$((base + 10 * i))"
    done
    for i in 1 2 3; do
        "$BUILD/metastored" --node-id $i --name node$i --data-dir "$DIR/$name$i" \
            --listen-client 127.0.0.1:$((base + 10 * i)) \
            --listen-peer 127.0.0.1:$((base + 10 * i + 1)) \
            --listen-admin 127.0.0.1:$((base + 10 * i + 2)) \
            --initial-cluster "$ic" --log-level warn "$@" 2>>"$DIR/$name.log" &
        pids+=($!)
    done
}

wait_leader() { # base, client flags...
    local base=$1 deadline=$((SECONDS + 30))
    shift
    until "$BUILD/metastore-cli" "$@" --endpoints="$(endpoints "$base")" endpoint status -w table 2>/dev/null | grep -q true; do
        [ $SECONDS -lt $deadline ] || { echo "bench-tls: no leader" >&2; cat "$DIR"/*.log >&2; exit 1; }
        sleep 0.2
    done
    "$BUILD/metastore-bench" "$@" --endpoints "$(endpoints "$base")" --keys "$KEYS" \
        --value-size 256 --op put --preload --requests 1 --json >/dev/null
}

# Prints "ops_per_sec p50_us p99_us".
run_bench() { # base, client flags...
    local base=$1
    shift
    "$BUILD/metastore-bench" "$@" --endpoints "$(endpoints "$base")" --conns "$CONNS" \
        --depth "$DEPTH" --keys "$KEYS" --value-size 256 --duration "$DURATION" \
        --op range --consistency l --target leader --json | awk '
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

PLAIN=$BASE
TLS=$((BASE + 100))
start_cluster plain "$PLAIN"
start_cluster tls "$TLS" "${TLS_SERVER[@]}"
wait_leader "$PLAIN"
wait_leader "$TLS" "${TLS_CLIENT[@]}"

echo "MetaStore-C lease reads with and without TLS, 3 nodes on 127.0.0.1, $(nproc) cores, $(date -u +%F)"
echo "clients: $CONNS connections x depth $DEPTH, $KEYS keys of 256 bytes, $DURATION per measurement, $ROUNDS rounds"
echo "TLS cluster: TLS 1.3, client certificates required, mutual TLS between members (P-256 keys)"
echo
ratios=()
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="plain tls"; else order="tls plain"; fi
    for which in $order; do
        if [ "$which" = plain ]; then
            read -r p_ops p_p50 p_p99 < <(run_bench "$PLAIN")
        else
            read -r t_ops t_p50 t_p99 < <(run_bench "$TLS" "${TLS_CLIENT[@]}")
        fi
    done
    ratio=$(awk -v a="$t_ops" -v b="$p_ops" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
    ratios+=("$ratio")
    printf 'round %d: plain %9.0f ops/s (p50 %7s us, p99 %7s us)   tls %9.0f ops/s (p50 %7s us, p99 %7s us)   tls/plain %s\n' \
        "$r" "$p_ops" "$p_p50" "$p_p99" "$t_ops" "$t_p50" "$t_p99" "$ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
echo
echo "lease reads with TLS / without: median ${median}x over $ROUNDS rounds"
