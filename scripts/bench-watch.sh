#!/usr/bin/env bash
# make bench-watch: what watchers cost writes, before and after live watch
# events.  Two single-node servers (memory engine) run side by side for
# the whole run: "history" with server.watch_live_events=false (every
# watcher reads each revision from the engine's history, the old path) and
# "live" with the default (applied writes hand their events to caught-up
# watchers).  For each case (no watcher; 1,000 and 10,000 single-key
# watchers; 1,000 prefix watchers over KEYS keys) build/bench-watch runs
# against one server, then the other, swapping which goes first each case,
# so load from elsewhere on a shared machine falls on both about equally.
# Prints one markdown table.  Not a test.
# Environment: BUILD, DURATION (seconds per phase, 3), THREADS (4),
# KEYS (500), BASE_PORT (21800: below the ephemeral port range).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DURATION=${DURATION:-3}
THREADS=${THREADS:-4}
KEYS=${KEYS:-500}
BASE=${BASE_PORT:-21800}
DIR=$(mktemp -d /tmp/metastore-bench-watch-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DIR"' EXIT

start_node() { # name, base port, extra flags...
    local name=$1 base=$2
    shift 2
    "$BUILD/metastored" --data-dir "$DIR/$name" \
        --listen-client 127.0.0.1:$base --listen-peer 127.0.0.1:$((base + 1)) \
        --listen-admin 127.0.0.1:$((base + 2)) --log-level warn "$@" \
        2>>"$DIR/$name.log" &
    pids+=($!)
}

start_node history "$BASE" --set server.watch_live_events=false
start_node live $((BASE + 10))
sleep 1

# Prints the fields of one run: key=value pairs.
run() { # port, watchers, kind
    "$BUILD/bench-watch" --endpoint 127.0.0.1:$1 --watchers "$2" --kind "$3" \
        --keys "$KEYS" --seconds "$DURATION" --threads "$THREADS"
}

field() { # line, name
    echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

echo "bench-watch: one node, memory engine, $KEYS keys, ${DURATION}s per phase, $THREADS writer threads"
echo
echo "| watchers | mode | put mean ms | put p50 ms | put p99 ms | sequential puts/s | puts/s, $THREADS clients | events delivered | drain after last put ms |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
i=0
for c in "0 key" "1000 key" "10000 key" "1000 prefix"; do
    set -- $c
    declare -A out=()
    order=(history live)
    if [ $((i % 2)) -eq 1 ]; then order=(live history); fi
    for mode in "${order[@]}"; do
        port=$BASE
        [ "$mode" = live ] && port=$((BASE + 10))
        out[$mode]=$(run "$port" "$1" "$2")
    done
    for mode in history live; do
        l=${out[$mode]}
        label="$1 $2"
        [ "$1" = 0 ] && label="none"
        echo "| $label | $mode | $(field "$l" put_mean_ms) | $(field "$l" put_p50_ms) | $(field "$l" put_p99_ms) | $(field "$l" seq_puts_per_s) | $(field "$l" conc_puts_per_s) | $(field "$l" events) | $(field "$l" drain_ms) |"
    done
    unset out
    i=$((i + 1))
done
