#!/usr/bin/env bash
# Runs MetaStore-C's test suite from an already built tree:
#   1. every Check unit-test program under $BUILD/test/unit (one per file),
#   2. the deterministic simulator over a few hundred seeds per cluster size,
#      plus a run with unsafe reads that must find violations,
#   3. end-to-end programs under $BUILD/test/e2e (one real node) and
#      $BUILD/test/cluster (real multi-node clusters), if built.
# Prints each program's Check summary line and ends with one line
# "N passed, N failed".  Exit status 0 exactly when nothing failed.
set -uo pipefail
BUILD=${BUILD:-build}
SIM_SEEDS=${SIM_SEEDS:-300}
passed=0
failed=0
failures=()

run_check_program() {
    local bin=$1 out rc line checks fails errs
    out=$("$bin" 2>&1)
    rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
    if [ -n "$line" ]; then
        checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
        fails=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
        errs=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
        passed=$((passed + checks - fails - errs))
        failed=$((failed + fails + errs))
        printf '%-48s %s\n' "${bin#"$BUILD"/}" "$line"
    fi
    if [ $rc -ne 0 ] || [ -z "$line" ]; then
        [ -n "$line" ] || failed=$((failed + 1))
        failures+=("$bin")
        printf '%s\n' "$out" | grep -vE '^[0-9]+%: Checks: ' | tail -n 40
    fi
}

run_step() { # name, expected exit (0 or "nonzero"), command...
    local name=$1 want=$2 out rc
    shift 2
    out=$("$@" 2>&1)
    rc=$?
    local ok=0
    if [ "$want" = 0 ] && [ $rc -eq 0 ]; then ok=1; fi
    if [ "$want" = nonzero ] && [ $rc -ne 0 ]; then ok=1; fi
    printf '%-48s %s (exit %d)\n' "$name" "$(printf '%s\n' "$out" | tail -n 1)" $rc
    if [ $ok = 1 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
        printf '%s\n' "$out" | tail -n 40
    fi
}

echo "== unit tests"
while IFS= read -r bin; do
    run_check_program "$bin"
done < <(find "$BUILD/test/unit" -type f -perm -u+x 2>/dev/null | sort)

if [ -x "$BUILD/metastore-sim" ]; then
    echo "== simulator"
    for n in 1 3 5; do
        run_step "sim nodes=$n faults=all seeds=$SIM_SEEDS" 0 \
            "$BUILD/metastore-sim" --seeds "$SIM_SEEDS" --nodes $n --faults all
    done
    # The checker must have teeth: reads served from local state without a
    # ReadIndex round must be caught as non-linearizable.
    run_step "sim --unsafe-reads finds violations" nonzero \
        "$BUILD/metastore-sim" --seeds 500 --nodes 3 --faults all --unsafe-reads
    # Leader-lease reads (and follower reads answered from the lease) under
    # every fault, the lease attack included, must stay linearizable ...
    run_step "sim reads=lease nodes=3 faults=all seeds=$SIM_SEEDS" 0 \
        "$BUILD/metastore-sim" --seeds "$SIM_SEEDS" --nodes 3 --faults all \
        --reads lease
    # ... and the lease checks must have teeth: break either assumption the
    # lease rests on (clock drift within the bound, leader stickiness) and
    # stale reads must be found.
    run_step "sim --drift-beyond-bound finds stale reads" nonzero \
        "$BUILD/metastore-sim" --seeds 500 --nodes 3 --faults all \
        --reads lease --drift-beyond-bound
    run_step "sim --no-leader-stickiness finds stale reads" nonzero \
        "$BUILD/metastore-sim" --seeds 500 --nodes 3 --faults all \
        --reads lease --no-leader-stickiness
fi

for kind in e2e cluster; do
    if [ -d "$BUILD/test/$kind" ]; then
        echo "== $kind tests"
        while IFS= read -r bin; do
            run_check_program "$bin"
        done < <(find "$BUILD/test/$kind" -type f -perm -u+x | sort)
    fi
done

if [ "${FUZZ_SECONDS:-0}" -gt 0 ] && [ -x scripts/fuzz.sh ] && [ "${SAN:-0}" != 1 ]; then
    echo "== fuzz targets (${FUZZ_SECONDS}s each)"
    out=$(BUILD="$BUILD" FUZZ_SECONDS="$FUZZ_SECONDS" scripts/fuzz.sh 2>&1)
    rc=$?
    printf '%s\n' "$out" | grep -E '^(fuzz|==)' | tail -n 12
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
    elif [ $rc -eq 2 ]; then
        echo "!!! fuzz targets SKIPPED: no clang with libFuzzer"
    else
        failed=$((failed + 1))
        failures+=("fuzz")
        printf '%s\n' "$out" | tail -n 40
    fi
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failures[@]} -eq 0 ]
