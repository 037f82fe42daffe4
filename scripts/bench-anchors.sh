#!/usr/bin/env bash
# make bench-anchors: MetaStore-C against etcd 3.4, the peer users would
# otherwise pick, for both linearizable reads and fsync'd writes.  Not a test.
#
# Two 3-member clusters on 127.0.0.1 run for the whole measurement: MetaStore-C
# with its default configuration (storage.fsync: true; a write is acknowledged
# only once it is committed, and the leader counts its own copy towards the
# quorum only after its fsync, the followers ack only after theirs) and etcd
# 3.4 (fsyncs its WAL before it acknowledges, by default).  Both data
# directories are on the same disk.  The same tool, metastore-bench, with the
# same connections, pipeline depth, keys and value size, measures:
#   etcd-put   POST /v3/kv/put on etcd's leader (JSON gateway)
#   ms-put-http  POST /v3/kv/put on MetaStore's leader (HTTP/JSON API)
#   ms-put     Put over MetaStore's binary protocol, leader
#   etcd-get   POST /v3/kv/range, linearizable, on etcd's leader
#   ms-get-http  the same on MetaStore's HTTP API (lease fast path)
#   ms-get     linearizable Range over the binary protocol, leader
# The modes take turns for ROUNDS rounds (the order rotates each round) so
# that other load on a shared machine falls on all of them about equally;
# the summary gives the median and the range over the rounds.
# Skips loudly (exit 0, message on stderr) when etcd is not installed.
# Environment: BUILD, DURATION (3s), ROUNDS (3), CONNS (16), DEPTH (1),
# KEYS (10000), VALUE_SIZE (256), BASE_PORT (27300).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DURATION=${DURATION:-3s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-16}
DEPTH=${DEPTH:-1}
KEYS=${KEYS:-10000}
VALUE_SIZE=${VALUE_SIZE:-256}
BASE=${BASE_PORT:-27300}
EB=$((BASE + 50)) # etcd's ports

if ! command -v etcd >/dev/null 2>&1; then
    echo "bench-anchors: SKIPPED: etcd is not installed (WITH_BENCH=1 scripts/install-deps.sh, or apt-get install etcd-server)" >&2
    exit 0
fi
for b in metastored metastore-bench metastore-cli; do
    [ -x "$BUILD/$b" ] || { echo "bench-anchors: $BUILD/$b missing (make -j2 first)" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "bench-anchors: needs curl" >&2; exit 1; }

DIR=$(mktemp -d /var/tmp/metastore-anchors-XXXXXX)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap 'stop_all; rm -rf "$DIR"' EXIT

endpoints() { echo "127.0.0.1:$((BASE + 10)),127.0.0.1:$((BASE + 20)),127.0.0.1:$((BASE + 30))"; }

ic=""
for i in 1 2 3; do
    ic+="${ic:+,}$i=127.0.0.1:$((BASE + 10 * i + 1))@127.0.0.1:$((BASE + 10 * i))"
done
for i in 1 2 3; do
    "$BUILD/metastored" --node-id $i --name node$i --data-dir "$DIR/n$i" \
        --listen-client 127.0.0.1:$((BASE + 10 * i)) \
        --listen-peer 127.0.0.1:$((BASE + 10 * i + 1)) \
        --listen-admin 127.0.0.1:$((BASE + 10 * i + 2)) \
        --http-listen 127.0.0.1:$((BASE + 10 * i + 3)) \
        --initial-cluster "$ic" --log-level warn 2>>"$DIR/metastore.log" &
    pids+=($!)
done
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

# The HTTP address of the leader among nodes 1..3 whose HTTP port is
# base + 10 * i + off (MetaStore: "role":"leader"; etcd: "leader" equal to
# its own member_id).  Waits up to 30 s for one.
http_leader() { # base, off
    local i addr out deadline=$((SECONDS + 30))
    while [ $SECONDS -lt $deadline ]; do
        for i in 1 2 3; do
            addr=127.0.0.1:$(($1 + 10 * i + $2))
            out=$(curl -s -m 2 -X POST "http://$addr/v3/maintenance/status" || true)
            if printf '%s' "$out" | grep -q '"role":"leader"' ||
                printf '%s' "$out" | awk '{
                    m = $0; sub(/.*"member_id":"/, "", m); sub(/".*/, "", m)
                    l = $0; sub(/.*"leader":"/, "", l); sub(/".*/, "", l)
                    exit !(m != "" && m == l) }'; then
                echo "$addr"
                return 0
            fi
        done
        sleep 0.2
    done
    return 1
}

ms_http=$(http_leader "$BASE" 3) || { echo "bench-anchors: MetaStore has no leader" >&2; cat "$DIR/metastore.log" >&2; exit 1; }
etcd_http=$(http_leader "$EB" 0) || { echo "bench-anchors: etcd has no leader" >&2; cat "$DIR/etcd.log" >&2; exit 1; }

# Same keys and values in both systems before anything is timed.
"$BUILD/metastore-bench" --endpoints "$(endpoints)" --keys "$KEYS" --value-size "$VALUE_SIZE" \
    --op put --preload --requests 1 --json >/dev/null
"$BUILD/metastore-bench" --http --endpoints "$etcd_http" --keys "$KEYS" --value-size "$VALUE_SIZE" \
    --op put --preload --requests 1 --json >/dev/null

# Prints "ops_per_sec p50_us p99_us errors" for one run.
run_bench() { # metastore-bench flags...
    "$BUILD/metastore-bench" --conns "$CONNS" --depth "$DEPTH" --keys "$KEYS" \
        --value-size "$VALUE_SIZE" --duration "$DURATION" --json "$@" | awk '
        { line = line $0 }
        END {
            n = split(line, f, /[,{}]/)
            for (i = 1; i <= n; i++) {
                split(f[i], kv, ":"); gsub(/[" ]/, "", kv[1])
                v[kv[1]] = kv[2]
            }
            printf "%s %s %s %s\n", v["ops_per_s"], v["p50"], v["p99"], (v["errors"] == "" ? 0 : v["errors"])
        }'
}

modes=(etcd-put ms-put-http ms-put etcd-get ms-get-http ms-get)
flags() { # mode -> metastore-bench flags
    case $1 in
    etcd-put) echo "--http --endpoints $etcd_http --op put" ;;
    ms-put-http) echo "--http --endpoints $ms_http --op put" ;;
    ms-put) echo "--endpoints $(endpoints) --target leader --op put" ;;
    etcd-get) echo "--http --endpoints $etcd_http --op range --consistency l" ;;
    ms-get-http) echo "--http --endpoints $ms_http --op range --consistency l" ;;
    ms-get) echo "--endpoints $(endpoints) --target leader --op range --consistency l" ;;
    esac
}

echo "MetaStore-C vs etcd $(etcd --version 2>/dev/null | awk '/etcd Version/ {print $3}'), 3 members each on 127.0.0.1, $(nproc) cores, $(date -u '+%F %H:%M') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "clients: $CONNS connections x depth $DEPTH, $KEYS keys of $VALUE_SIZE bytes, $DURATION per mode, $ROUNDS rounds; both clusters fsync before acknowledging"
echo
declare -A res
for r in $(seq 1 "$ROUNDS"); do
    n=${#modes[@]}
    for j in $(seq 0 $((n - 1))); do
        m=${modes[$(((j + r - 1) % n))]}
        # shellcheck disable=SC2046
        read -r ops p50 p99 errs < <(run_bench $(flags "$m"))
        res[$m,$r]=$ops
        printf 'round %d %-12s %12.0f ops/s   p50 %8s us   p99 %8s us   errors %s\n' "$r" "$m" "$ops" "$p50" "$p99" "$errs"
    done
done

# median and min-max of one mode over the rounds
stat() { # mode
    local r
    for r in $(seq 1 "$ROUNDS"); do echo "${res[$1,$r]}"; done | sort -g | awk '
        { v[NR] = $1 }
        END { med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.0f %.0f %.0f\n", med, v[1], v[NR] }'
}
# ratio a/b per round: median and range
rstat() { # a, b
    local r
    for r in $(seq 1 "$ROUNDS"); do
        awk -v a="${res[$1,$r]}" -v b="${res[$2,$r]}" 'BEGIN { printf "%.2f\n", (b > 0 ? a / b : 0) }'
    done | sort -g | awk '
        { v[NR] = $1 }
        END { med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.2fx (rounds %.2fx-%.2fx)\n", med, v[1], v[NR] }'
}

echo
echo "median ops/s (min-max over $ROUNDS rounds):"
for m in "${modes[@]}"; do
    read -r med lo hi < <(stat "$m")
    printf '  %-12s %10s  (%s-%s)\n' "$m" "$med" "$lo" "$hi"
done
echo
echo "ratios, per round, median (target: several times over, i.e. >= 3x):"
echo "  puts,  MetaStore binary / etcd : $(rstat ms-put etcd-put)"
echo "  puts,  MetaStore HTTP   / etcd : $(rstat ms-put-http etcd-put)"
echo "  reads, MetaStore binary / etcd : $(rstat ms-get etcd-get)"
echo "  reads, MetaStore HTTP   / etcd : $(rstat ms-get-http etcd-get)"
