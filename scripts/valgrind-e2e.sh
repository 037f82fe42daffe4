#!/usr/bin/env bash
# Runs one metastored under valgrind memcheck through a short single-node
# session driven by metastore-cli (put, get, del, txn, watch, compaction,
# endpoint status), stops it with SIGTERM and fails on any memory error or definite
# leak.  Usage:
#
#   BUILD=build scripts/valgrind-e2e.sh      (builds the two binaries first)
#
# Valgrind runs with --error-exitcode=99, so metastored's exit status is 99
# when memcheck found an invalid read/write, a use of uninitialised memory,
# a bad free, or a definitely lost block; the script also checks the
# summary lines of the log.  Possible leaks (thread stacks, libraries'
# one-time allocations) are reported in the log but do not fail the run.
# Exit status: 0 clean, 1 a failure (the valgrind log is printed).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
START_TIMEOUT=${START_TIMEOUT:-120}

if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind-e2e: valgrind not found (apt-get install valgrind)" >&2
    exit 1
fi
make --no-print-directory BUILD="$BUILD" "$BUILD/metastored" "$BUILD/metastore-cli" >/dev/null || exit 1

work=$(mktemp -d /tmp/metastore-valgrind-XXXXXX)
log="$work/valgrind.log"
out="$work/server.log"
pid=

cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A port on 127.0.0.1 that nothing listens on right now.
free_port() {
    local p
    while :; do
        # Below Linux's ephemeral range (32768-60999), so that outgoing
        # connections of other programs cannot take it meanwhile.
        p=$((10000 + RANDOM % 22000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
}

fail() {
    echo "valgrind-e2e: FAILED: $*"
    echo "---- metastored output (last 30 lines)"
    tail -n 30 "$out" 2>/dev/null
    echo "---- valgrind log (errors and leak summary)"
    grep -E '^==[0-9]+== ' "$log" 2>/dev/null | tail -n 80
    exit 1
}

cli() {
    "$BUILD/metastore-cli" --endpoints="$ep" --command-timeout=20s "$@"
}

# Starts metastored under memcheck on fresh ports; a port taken between
# choosing and binding it (another program on the machine) means another
# try with new ports, up to three.
start_server() {
    rm -rf "$work/data" # a failed attempt may have started a node there
    cport=$(free_port)
    pport=$(free_port)
    aport=$(free_port)
    while [ "$pport" = "$cport" ]; do pport=$(free_port); done
    while [ "$aport" = "$cport" ] || [ "$aport" = "$pport" ]; do aport=$(free_port); done
    ep="127.0.0.1:$cport"
    valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
        --errors-for-leak-kinds=definite --error-exitcode=99 \
        --num-callers=30 --log-file="$log" \
        "$BUILD/metastored" --data-dir "$work/data" \
        --listen-client "$ep" --listen-peer "127.0.0.1:$pport" \
        --listen-admin "127.0.0.1:$aport" >"$out" 2>&1 &
    pid=$!
}

for attempt in 1 2 3; do
    start_server
    started=false
    deadline=$((SECONDS + START_TIMEOUT))
    until cli endpoint status >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            if [ "$attempt" -lt 3 ] && grep -q 'address already in use' "$out"; then
                echo "valgrind-e2e: a port was taken meanwhile; new ports (attempt $((attempt + 1)))"
                continue 2
            fi
            fail "metastored exited during start-up"
        fi
        [ $SECONDS -lt $deadline ] || fail "metastored did not answer within ${START_TIMEOUT}s"
        sleep 0.5 # polling for start-up under valgrind, which takes seconds
    done
    started=true
    break
done
$started || fail "metastored did not start"

step() { # description, command...
    local what=$1
    shift
    local got
    if ! got=$("$@" 2>&1); then
        fail "$what: $got"
    fi
    printf '  %-36s ok\n' "$what"
}
expect() { # description, wanted substring, command...
    local what=$1 want=$2
    shift 2
    local got
    got=$("$@" 2>&1) || fail "$what: $got"
    case $got in
    *"$want"*) printf '  %-36s ok\n' "$what" ;;
    *) fail "$what: wanted '$want', got: $got" ;;
    esac
}

echo "valgrind-e2e: metastored (pid $pid) under memcheck on $ep"
step "put a=1" cli put a 1
step "put b=2 --prev-kv" cli put b 2 --prev-kv
step "put a=3 (overwrite)" cli put a 3
expect "get a" 3 cli get a
expect "get a..z (range)" b cli get a z
step "del b" cli del b
expect "txn (compare, success put)" SUCCESS cli txn <<'EOF'
value("a") = "3"

put c "from-txn"
get a

put c "failure-branch"

EOF
expect "get c" from-txn cli get c
# A watch replaying history, ended by SIGINT (exit 0) after a few seconds.
expect "watch a --rev 1 --prev-kv (history)" "PUT" \
    timeout -s INT --preserve-status 3 "$BUILD/metastore-cli" \
    --endpoints="$ep" watch a --rev 1 --prev-kv
step "compaction 2" cli compaction 2
step "endpoint status" cli endpoint status
step "endpoint health" cli endpoint health
expect "get a after compaction" 3 cli get a

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || fail "metastored exited with status $rc (99: memcheck found errors or definite leaks)"
grep -qE 'ERROR SUMMARY: 0 errors' "$log" || fail "memcheck reported errors"
if grep -qE 'definitely lost: [1-9]' "$log"; then
    fail "definite leak"
fi
echo "valgrind-e2e: clean ($(grep -Eo 'ERROR SUMMARY: [0-9]+ errors' "$log" | tail -n 1);" \
    "$(grep -Eo 'definitely lost: [0-9,]+ bytes' "$log" | tail -n 1 || echo 'no leaks'))"
