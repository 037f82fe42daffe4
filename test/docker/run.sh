#!/usr/bin/env bash
# Fault tests across real containers (make test-docker).
#
# Runs the 3-, 5- and 7-node compose clusters of docker/ on the image
# metastore-c:latest (make docker-image-local builds it FROM scratch from
# this build) and checks, with real containers:
#   - writes through every node are readable on every node;
#   - docker kill of the leader: a new leader serves, the old one rejoins;
#   - docker network disconnect of a minority, then of the leader: the
#     majority side keeps serving, the cut-off side refuses;
#   - docker pause of the leader past the election timeout: no stale read
#     (a recorded client history is checked for linearizability);
#   - a rolling restart of every node under load loses no acknowledged
#     write;
#   - 7 nodes survive 3 killed.
# Every container, network and volume it creates is removed on exit, even
# when a test fails.  Ends with "N passed, N failed"; exit 0 iff none failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CLI="$BUILD/metastore-cli"
WORKLOAD="$BUILD/test/docker/workload"
IMAGE=${METASTORE_IMAGE:-metastore-c:latest}
export METASTORE_IMAGE=$IMAGE

if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
else
    COMPOSE=(docker-compose)
fi

passed=0
failed=0
projects=()

cleanup() {
    for p in "${projects[@]}"; do
        for n in 3 5 7; do
            "${COMPOSE[@]}" -p "$p" -f "docker/compose-$n.yaml" down -v --remove-orphans >/dev/null 2>&1 || true
        done
    done
}
trap cleanup EXIT

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }
ok() { passed=$((passed + 1)); log "ok   - $1"; }
fail() { failed=$((failed + 1)); log "FAIL - $1${2:+: $2}"; }

endpoint() { echo "127.0.0.1:2379$1"; }
endpoints() { # N [except...]
    local n=$1 out="" i
    shift
    for i in $(seq 1 "$n"); do
        [[ " $* " == *" $i "* ]] && continue
        out+="${out:+,}$(endpoint "$i")"
    done
    echo "$out"
}
cli() { "$CLI" --dial-timeout=1s --command-timeout=3s "$@"; }

# The node number of the leader as the given nodes see it, or nothing.
leader_of() { # N [except...]
    cli --endpoints="$(endpoints "$@")" endpoint status -w table 2>/dev/null |
        awk -F'|' '$6 ~ /true/ {gsub(/ /, "", $2); print substr($2, length($2))}' | head -n 1
}

wait_leader() { # N [except...]; prints the leader's number
    local deadline=$((SECONDS + 30)) l
    while [ $SECONDS -lt $deadline ]; do
        l=$(leader_of "$@")
        if [ -n "$l" ]; then
            echo "$l"
            return 0
        fi
        sleep 0.2
    done
    return 1
}

container() { "${COMPOSE[@]}" -p "$P" -f "docker/compose-$N.yaml" ps -q "node$1"; }
network() { docker network ls -q --filter "label=com.docker.compose.project=$P" | head -n 1; }

start_cluster() { # N
    N=$1
    P="metastore-test-$N-$$"
    projects+=("$P")
    if ! "${COMPOSE[@]}" -p "$P" -f "docker/compose-$N.yaml" up -d >/dev/null 2>&1; then
        fail "start $N-node cluster" "compose up failed"
        return 1
    fi
    if ! LEADER=$(wait_leader "$N"); then
        fail "start $N-node cluster" "no leader within 30 s"
        return 1
    fi
    log "$N-node cluster up, leader node$LEADER"
}

stop_cluster() {
    "${COMPOSE[@]}" -p "$P" -f "docker/compose-$N.yaml" down -v --remove-orphans >/dev/null 2>&1
}

# Runs a command until it succeeds or the deadline passes.
retry() { # seconds command...
    local deadline=$((SECONDS + $1))
    shift
    while [ $SECONDS -lt $deadline ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

test_write_through_every_node() {
    local i j v
    for i in $(seq 1 "$N"); do
        cli --endpoints="$(endpoint "$i")" put "every/$i" "v$i" >/dev/null || { fail "write through node$i ($N nodes)"; return; }
    done
    for i in $(seq 1 "$N"); do
        for j in $(seq 1 "$N"); do
            v=$(cli --endpoints="$(endpoint "$i")" get "every/$j" --print-value-only)
            [ "$v" = "v$j" ] || { fail "read every/$j on node$i ($N nodes)" "got '$v'"; return; }
        done
    done
    ok "writes through each of $N nodes are readable on every node"
}

test_kill_leader() {
    local old=$LEADER new v
    docker kill "$(container "$old")" >/dev/null
    if ! new=$(wait_leader "$N" "$old"); then
        fail "new leader after docker kill"
        return
    fi
    retry 10 cli --endpoints="$(endpoints "$N" "$old")" put after-kill yes ||
        { fail "write after docker kill of the leader"; return; }
    docker start "$(container "$old")" >/dev/null
    # The old leader rejoins and serves the write made without it.
    if retry 30 bash -c "[ \"\$('$CLI' --endpoints=$(endpoint "$old") get after-kill --print-value-only 2>/dev/null)\" = yes ]"; then
        ok "docker kill of leader node$old: node$new took over, node$old caught up"
    else
        fail "old leader node$old catches up after restart"
    fi
    LEADER=$(wait_leader "$N")
}

in_node() { # node command... : metastore-cli inside the container
    docker exec "$(container "$1")" /usr/local/bin/metastore-cli \
        --endpoints=127.0.0.1:2379 --dial-timeout=1s --command-timeout=2s "${@:2}"
}

disconnect() { docker network disconnect "$(network)" "$(container "$1")"; }
reconnect() { docker network connect --alias "node$1" "$(network)" "$(container "$1")"; }

test_partitions() {
    local wl_log wl_pid follower old new i
    wl_log=$(mktemp)
    "$WORKLOAD" --endpoints "$(endpoints "$N")" --seconds 25 --clients 4 --keys 4 --prefix part/ >"$wl_log" 2>&1 &
    wl_pid=$!
    sleep 1
    # A minority: one follower.
    for i in $(seq 1 "$N"); do [ "$i" != "$LEADER" ] && follower=$i && break; done
    disconnect "$follower"
    if retry 10 cli --endpoints="$(endpoints "$N" "$follower")" put minority-cut yes &&
        ! in_node "$follower" put from-minority no >/dev/null 2>&1; then
        ok "minority node$follower cut off: majority serves, node$follower refuses"
    else
        fail "minority partition"
    fi
    reconnect "$follower"
    # Then the leader.
    old=$LEADER
    disconnect "$old"
    if new=$(wait_leader "$N" "$old") &&
        retry 10 cli --endpoints="$(endpoints "$N" "$old")" put leader-cut yes &&
        ! in_node "$old" put from-old-leader no >/dev/null 2>&1 &&
        ! in_node "$old" get leader-cut >/dev/null 2>&1; then
        ok "leader node$old cut off: node$new leads the majority, node$old refuses writes and reads"
    else
        fail "leader partition"
    fi
    reconnect "$old"
    if wait "$wl_pid"; then
        ok "history across both partitions is linearizable ($(tail -n 1 "$wl_log"))"
    else
        fail "history across partitions" "$(cat "$wl_log")"
    fi
    rm -f "$wl_log"
    LEADER=$(wait_leader "$N")
}

test_pause_leader() {
    local wl_log wl_pid old=$LEADER
    wl_log=$(mktemp)
    "$WORKLOAD" --endpoints "$(endpoints "$N")" --seconds 12 --clients 4 --keys 3 --prefix pause/ >"$wl_log" 2>&1 &
    wl_pid=$!
    sleep 1
    docker pause "$(container "$old")" >/dev/null
    wait_leader "$N" "$old" >/dev/null || true
    sleep 2 # the majority serves writes while the old leader is frozen
    docker unpause "$(container "$old")" >/dev/null
    if wait "$wl_pid"; then
        ok "pause of leader node$old past the election timeout: no stale read ($(tail -n 1 "$wl_log"))"
    else
        fail "pause of the leader" "$(cat "$wl_log")"
    fi
    rm -f "$wl_log"
    LEADER=$(wait_leader "$N")
}

test_rolling_restart() {
    local wl_log wl_pid i
    wl_log=$(mktemp)
    "$WORKLOAD" --endpoints "$(endpoints "$N")" --seconds 30 --clients 4 --keys 4 --prefix roll/ >"$wl_log" 2>&1 &
    wl_pid=$!
    for i in $(seq 1 "$N"); do
        docker restart -t 10 "$(container "$i")" >/dev/null
        retry 30 cli --endpoints="$(endpoint "$i")" get roll/0 || { fail "node$i serves after restart"; break; }
    done
    if wait "$wl_pid"; then
        ok "rolling restart of $N nodes under load: no acknowledged write lost ($(tail -n 1 "$wl_log"))"
    else
        fail "rolling restart" "$(cat "$wl_log")"
    fi
    rm -f "$wl_log"
}

test_seven_survive_three_killed() {
    local victims="" i n=0
    # The leader and two followers.
    victims="$LEADER"
    for i in $(seq 1 "$N"); do
        [ "$i" = "$LEADER" ] && continue
        [ $n -ge 2 ] && break
        victims+=" $i"
        n=$((n + 1))
    done
    for i in $victims; do docker kill "$(container "$i")" >/dev/null; done
    # shellcheck disable=SC2086
    if wait_leader "$N" $victims >/dev/null &&
        retry 15 cli --endpoints="$(endpoints "$N" $victims)" put seven-minus-three yes &&
        [ "$(cli --endpoints="$(endpoints "$N" $victims)" get seven-minus-three --print-value-only)" = yes ]; then
        ok "7 nodes survive 3 killed (nodes $victims)"
    else
        fail "7 nodes with 3 killed"
    fi
}

main() {
    if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
        echo "test-docker: image $IMAGE not found; run make docker-image-local" >&2
        exit 1
    fi
    for f in "$CLI" "$WORKLOAD"; do
        [ -x "$f" ] || { echo "test-docker: $f not built" >&2; exit 1; }
    done

    if start_cluster 3; then
        test_write_through_every_node
        test_kill_leader
        test_pause_leader
        test_rolling_restart
        stop_cluster
    fi
    if start_cluster 5; then
        test_write_through_every_node
        test_partitions
        stop_cluster
    fi
    if start_cluster 7; then
        test_seven_survive_three_killed
        stop_cluster
    fi
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
main
