#!/usr/bin/env bash
# Builds MetaStore-C's libFuzzer targets (test/fuzz/fuzz_*.c) with clang
# -fsanitize=fuzzer,address,undefined straight from the project sources and
# runs each one for FUZZ_SECONDS (default 10) on its seed corpus.
#
#   scripts/fuzz.sh                 build and run every target
#   scripts/fuzz.sh frame wal       only these targets
#   FUZZ_SECONDS=60 scripts/fuzz.sh
#   scripts/fuzz.sh --build-only    build, run nothing
#   scripts/fuzz.sh --gen-corpus    rewrite the seeds in test/fuzz/corpus/
#                                   with test/fuzz/gen_corpus.c, then stop
#
# Layout under FUZZ_DIR (default build/fuzz):
#   gen/proto/*.pb-c.[ch]   protobuf-c output for proto/*.proto
#   bin/fuzz_<target>       the fuzzers
#   work/<target>/          new inputs the fuzzer found (the repo's seed
#                           corpus in test/fuzz/corpus/ is read, never written)
#   crashes/<target>-*      crashing inputs (crash-, leak-, timeout-, oom-)
#
# Each target first replays test/fuzz/regressions/<target>/ (inputs that
# crashed once and must not again), then fuzzes.  Exit status: 0 when no
# target crashed, 1 when one did (the input is in crashes/), 2 when clang
# with libFuzzer is missing (`scripts/install-deps.sh` can install it).
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-10}
FUZZ_DIR=${FUZZ_DIR:-build/fuzz}
CLANG=${CLANG:-clang}
ALL_TARGETS=(frame peer wal config http range json)

build_only=0
gen_corpus=0
targets=()
for a in "$@"; do
    case $a in
    --build-only) build_only=1 ;;
    --gen-corpus) gen_corpus=1 ;;
    -h | --help)
        sed -n '2,24p' "$0"
        exit 0
        ;;
    *) targets+=("$a") ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz: $CLANG not found (apt-get install clang)" >&2
    exit 2
fi
probe=$(mktemp -d)
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! "$CLANG" -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
    rm -rf "$probe"
    echo "fuzz: $CLANG cannot link -fsanitize=fuzzer (install libclang-rt-dev)" >&2
    exit 2
fi
rm -rf "$probe"

mkdir -p "$FUZZ_DIR/gen/proto" "$FUZZ_DIR/bin" "$FUZZ_DIR/crashes" "$FUZZ_DIR/work"
for p in proto/*.proto; do
    out="$FUZZ_DIR/gen/proto/$(basename "${p%.proto}").pb-c.c"
    if [ ! -f "$out" ] || [ "$p" -nt "$out" ]; then
        protoc-c --c_out="$FUZZ_DIR/gen" "$p" || exit 1
    fi
done

CFLAGS=(-std=c11 -g -O1 -fno-omit-frame-pointer -I. -I"$FUZZ_DIR/gen"
    -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Wall -Wextra
    -Wno-unused-parameter -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined)
PB_METASTORE="$FUZZ_DIR/gen/proto/metastore.pb-c.c"
PB_RAFT="$FUZZ_DIR/gen/proto/raft.pb-c.c"
RAFT_SRC=(raft/*.c)

# The project sources each target is compiled with, and its libraries.
target_sources() {
    case $1 in
    frame) echo "server/frame.c $PB_METASTORE $PB_RAFT" ;;
    peer) echo "server/peer_codec.c $PB_RAFT ${RAFT_SRC[*]}" ;;
    wal) echo "storage/wal.c storage/crc32c.c ${RAFT_SRC[*]}" ;;
    config) echo "server/config.c server/log.c ${RAFT_SRC[*]}" ;;
    http) echo "server/http.c" ;;
    range) echo "server/range_decode.c $PB_METASTORE" ;;
    json) echo "server/json.c server/http_kv.c server/http_auth.c server/status.c server/frame.c $PB_METASTORE $PB_RAFT" ;;
    esac
}
target_libs() {
    case $1 in
    frame | peer | range | json) echo "-lprotobuf-c" ;;
    config) echo "-lyaml" ;;
    wal) echo "-lpthread" ;;
    esac
}

if [ $gen_corpus = 1 ]; then
    gen="$FUZZ_DIR/bin/gen_corpus"
    # shellcheck disable=SC2046
    cc -std=c11 -g -I. -I"$FUZZ_DIR/gen" -D_DEFAULT_SOURCE \
        -D_POSIX_C_SOURCE=200809L test/fuzz/gen_corpus.c server/frame.c \
        server/peer_codec.c storage/wal.c storage/crc32c.c "$PB_METASTORE" \
        "$PB_RAFT" "${RAFT_SRC[@]}" -lprotobuf-c -lpthread -o "$gen" || exit 1
    "$gen" test/fuzz/corpus || exit 1
    cp configs/config.yaml test/fuzz/corpus/config/default.yaml
    i=0
    for f in docker/configs/*/*.yaml docker/configs/*.yaml; do
        [ -f "$f" ] && [ $i -lt 2 ] || continue
        cp "$f" "test/fuzz/corpus/config/docker-$i.yaml"
        i=$((i + 1))
    done
    exit 0
fi

status=0
for t in "${targets[@]}"; do
    src="test/fuzz/fuzz_$t.c"
    bin="$FUZZ_DIR/bin/fuzz_$t"
    if [ ! -f "$src" ]; then
        echo "fuzz: no target $t ($src missing)" >&2
        status=1
        continue
    fi
    # Rebuild only when a source is newer than the binary.
    stale=1
    if [ -x "$bin" ]; then
        stale=0
        # shellcheck disable=SC2046
        for f in "$src" $(target_sources "$t") raft/*.h server/*.h storage/*.h; do
            if [ "$f" -nt "$bin" ]; then
                stale=1
                break
            fi
        done
    fi
    # shellcheck disable=SC2046
    if [ $stale = 1 ] && ! "$CLANG" "${CFLAGS[@]}" "$src" $(target_sources "$t") \
        $(target_libs "$t") -o "$bin"; then
        echo "fuzz: building $t failed" >&2
        status=1
        continue
    fi
    [ $build_only = 1 ] && continue

    corpus="test/fuzz/corpus/$t"
    regress="test/fuzz/regressions/$t"
    work="$FUZZ_DIR/work/$t"
    mkdir -p "$work" "$corpus"
    common=(-artifact_prefix="$FUZZ_DIR/crashes/$t-" -rss_limit_mb=2048
        -timeout=20 -print_final_stats=0)
    if [ -d "$regress" ] && [ -n "$(ls -A "$regress" 2>/dev/null)" ]; then
        if ! "$bin" "${common[@]}" "$regress"/* >"$FUZZ_DIR/$t.regress.log" 2>&1; then
            echo "fuzz $t: a regression input crashes again:"
            tail -n 30 "$FUZZ_DIR/$t.regress.log"
            status=1
            continue
        fi
    fi
    if "$bin" "${common[@]}" -max_total_time="$FUZZ_SECONDS" "$work" "$corpus" \
        >"$FUZZ_DIR/$t.log" 2>&1; then
        execs=$(grep -Eo 'Done [0-9]+ runs' "$FUZZ_DIR/$t.log" | tail -n 1)
        echo "fuzz $t: ok (${execs:-done} in ${FUZZ_SECONDS}s)"
    else
        echo "fuzz $t: CRASH; input saved as:"
        grep -E 'Test unit written to' "$FUZZ_DIR/$t.log" | sed 's/^/  /'
        grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_)' "$FUZZ_DIR/$t.log" | head -n 5 | sed 's/^/  /'
        echo "  full log: $FUZZ_DIR/$t.log"
        status=1
    fi
done
exit $status
