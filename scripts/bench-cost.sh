#!/usr/bin/env bash
# bench-cost.sh: what one lease read and one Ping cost, in CPU time and in
# instructions, on the server and in metastore-bench, so that a wall-clock
# ratio measured with both on the same cores can be explained (see
# docs/benchmarks.md).  Not a test.
#
# 1. CPU time per request: one single-node metastored (memory engine) with
#    KEYS keys of 256 bytes; metastore-bench sends REQUESTS lease reads,
#    then REQUESTS Pings (CONNS x DEPTH), ROUNDS times; the server's user
#    and system time come from /proc/PID/stat, the bench's from
#    /usr/bin/time.  Deterministic enough to compare, but clock ticks are
#    10 ms, so keep REQUESTS large.
# 2. With valgrind installed (CALLGRIND=0 skips it), instructions per
#    request (callgrind, deterministic even on a shared machine):
#    - the bench: run under callgrind for 20,000 and 60,000 requests; the
#      difference divided by 40,000, so start-up cancels out;
#    - the server: run under callgrind, counters zeroed after preload and
#      2,000 requests of warm-up, then 20,000 requests, then dumped.
#    Both with 1,000 keys and 8 connections x depth 16, as in the
#    measurements in docs/benchmarks.md.
# Environment: BUILD, KEYS (10000), REQUESTS (600000), CONNS (64),
# DEPTH (16), ROUNDS (2), CALLGRIND (1), BASE_PORT (21800).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
KEYS=${KEYS:-10000}
REQUESTS=${REQUESTS:-600000}
CONNS=${CONNS:-64}
DEPTH=${DEPTH:-16}
ROUNDS=${ROUNDS:-2}
CALLGRIND=${CALLGRIND:-1}
BASE=${BASE_PORT:-21800}
DIR=$(mktemp -d /tmp/metastore-bench-cost-XXXXXX)
spid=""
stop_server() {
    if [ -n "$spid" ]; then
        kill "$spid" 2>/dev/null || true
        wait "$spid" 2>/dev/null || true
        spid=""
    fi
}
trap 'stop_server; rm -rf "$DIR"' EXIT

# Starts one server on port $1 (client), $1+1 (peer), $1+2 (admin); any
# prefix command (valgrind ...) comes first.  Waits until it answers.
start_server() { # port, [prefix command...]
    local port=$1
    shift
    rm -rf "$DIR/data"
    "$@" "$BUILD/metastored" --data-dir "$DIR/data" \
        --listen-client "127.0.0.1:$port" --listen-peer "127.0.0.1:$((port + 1))" \
        --listen-admin "127.0.0.1:$((port + 2))" --log-level warn 2>>"$DIR/log" &
    spid=$!
    local deadline=$((SECONDS + 60))
    until "$BUILD/metastore-cli" --endpoints "127.0.0.1:$port" endpoint status >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { echo "bench-cost: server did not start" >&2; cat "$DIR/log" >&2; exit 1; }
        sleep 0.2
    done
}

bench() { # port, keys, bench flags...
    local port=$1 keys=$2
    shift 2
    "$BUILD/metastore-bench" --endpoints "127.0.0.1:$port" --keys "$keys" \
        --value-size 256 --json "$@"
}

json_field() { grep -o "\"$1\":[0-9.]*" | head -n 1 | cut -d: -f2; }

echo "MetaStore-C cost per request, one node on 127.0.0.1, $(nproc) cores, $(date -u '+%F %T') UTC"
echo
echo "CPU time per request ($KEYS keys of 256 bytes, $CONNS connections x depth $DEPTH, $REQUESTS requests):"
start_server "$BASE"
bench "$BASE" "$KEYS" --op put --preload --requests 1 >/dev/null
tck=$(getconf CLK_TCK)
for round in $(seq 1 "$ROUNDS"); do
    for op in range ping; do
        read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$spid/stat")
        out=$({ /usr/bin/time -f "BENCHTIME %U %S" "$BUILD/metastore-bench" \
            --endpoints "127.0.0.1:$BASE" --keys "$KEYS" --value-size 256 --json \
            --conns "$CONNS" --depth "$DEPTH" --requests "$REQUESTS" \
            --duration 10m --op "$op"; } 2>&1)
        read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$spid/stat")
        n=$(printf '%s\n' "$out" | json_field requests)
        ops=$(printf '%s\n' "$out" | json_field ops_per_s)
        read -r bu bs < <(printf '%s\n' "$out" | awk '/BENCHTIME/ {print $2, $3}')
        awk -v r="$round" -v op="$op" -v n="$n" -v ops="$ops" -v su=$((u1 - u0)) \
            -v ss=$((s1 - s0)) -v t="$tck" -v bu="$bu" -v bs="$bs" 'BEGIN {
            sv = (su + ss) / t * 1e6 / n; bv = (bu + bs) * 1e6 / n
            printf "  round %d %-5s %9.0f ops/s  server user %.2f sys %.2f us   bench user %.2f sys %.2f us   total %.2f us\n",
                r, op, ops, su / t * 1e6 / n, ss / t * 1e6 / n, bu * 1e6 / n, bs * 1e6 / n, sv + bv }'
    done
done
stop_server

if [ "$CALLGRIND" != 1 ] || ! command -v valgrind >/dev/null; then
    echo
    echo "instructions per request: skipped (CALLGRIND=1 and valgrind needed)"
    exit 0
fi

echo
echo "instructions per request (callgrind; 1,000 keys, 8 connections x depth 16):"
port=$((BASE + 10))
start_server "$port"
bench "$port" 1000 --op put --preload --requests 1 >/dev/null
for op in range ping; do
    ir=()
    for n in 20000 60000; do
        valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.bench.$op.$n" \
            "$BUILD/metastore-bench" --endpoints "127.0.0.1:$port" --keys 1000 \
            --conns 8 --depth 16 --op "$op" --requests "$n" --json >/dev/null 2>>"$DIR/log"
        ir+=("$(awk '/^summary:/ {print $2; exit}' "$DIR/cg.bench.$op.$n")")
    done
    echo "  bench  $op: $(((ir[1] - ir[0]) / 40000))"
done
stop_server

port=$((BASE + 20))
start_server "$port" valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.server"
bench "$port" 1000 --op put --preload --requests 1 >/dev/null
for op in range ping; do
    bench "$port" 1000 --conns 8 --depth 16 --op "$op" --requests 2000 >/dev/null
    callgrind_control -z "$spid" >/dev/null 2>&1
    bench "$port" 1000 --conns 8 --depth 16 --op "$op" --requests 20000 >/dev/null
    callgrind_control -d "$spid" >/dev/null 2>&1
    f=$(ls -t "$DIR"/cg.server.* | head -n 1)
    ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
    echo "  server $op: $((ir / 20000))"
    rm -f "$f"
done
