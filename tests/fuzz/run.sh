#!/bin/sh
# Builds the libFuzzer harnesses in a clang build directory and runs each for
# the given number of seconds (default 20), then prints executions and findings.
#   tests/fuzz/run.sh [seconds]
# Environment: BUILD_FUZZ_DIR (default <repo>/build-fuzz), FUZZ_JOBS (build -j, default 2),
#              FUZZ_TARGETS (default: all harnesses that were built),
#              FUZZ_BUILD_ONLY=1 (build the harnesses and stop; a later run finds them built).
# Needs clang and libclang-rt-14-dev (Debian 12). Exit status 1 when any harness found something.
set -eu

SECS=${1:-20}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD_FUZZ_DIR:-$ROOT/build-fuzz}
JOBS=${FUZZ_JOBS:-2}
SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

command -v clang++ >/dev/null || { echo "clang++ not found (apt install clang libclang-rt-14-dev)"; exit 2; }

GEN=""
command -v ninja >/dev/null && GEN="-G Ninja"
# shellcheck disable=SC2086
cmake -S "$ROOT" -B "$BUILD" $GEN \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$SAN" \
    -DMEDRELAY_FUZZ=ON -DBUILD_SERVER=ON -DBUILD_CONSOLE=OFF -DBUILD_TESTING=OFF >"$BUILD.configure.log" 2>&1 \
    || { cat "$BUILD.configure.log"; exit 2; }

ALL="fuzz_protocol fuzz_token fuzz_http_request"
TARGETS=${FUZZ_TARGETS:-}
if [ -z "$TARGETS" ]; then
    for t in $ALL; do
        # fuzz_http_request exists only when the server's parser source does.
        if cmake --build "$BUILD" --target help 2>/dev/null | grep -q "$t"; then TARGETS="$TARGETS $t"; fi
    done
fi
# shellcheck disable=SC2086
cmake --build "$BUILD" -j"$JOBS" --target $TARGETS
[ "${FUZZ_BUILD_ONLY:-0}" = "1" ] && exit 0

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

STATUS=0
printf '\n%-20s %8s %14s %10s %9s %s\n' harness seconds executions exec/s corpus findings
for t in $TARGETS; do
    name=${t#fuzz_}
    seeds="$ROOT/tests/fuzz/corpus/$name"
    work="$BUILD/corpus/$name"          # grows; the seeds in the repo stay as they are
    art="$BUILD/artifacts/$name"
    mkdir -p "$work" "$art"
    log="$BUILD/$t.log"
    bin=$(find "$BUILD" -name "$t" -type f -perm -u+x | head -n 1)
    set +e
    # Fork mode with ignore_*: a finding is saved and fuzzing goes on, so one
    # known bug does not hide the next one during a long run.
    "$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$art/" "$work" "$seeds" >"$log" 2>&1
    rc=$?
    set -e
    last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1)
    execs=$(printf '%s' "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
    rate=$(printf '%s' "$last" | sed -n 's/.*exec\/s:\{0,1\} \([0-9]*\).*/\1/p')
    units=$(find "$work" -type f | wc -l)
    found=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    printf '%-20s %8s %14s %10s %9s %s\n' "$t" "$SECS" "${execs:-?}" "${rate:-?}" "$units" "$found (rc $rc)"
    if [ "$found" -gt 0 ] || [ "$rc" -ne 0 ]; then
        STATUS=1
        echo "  findings in $art, log $log:"
        grep -E 'SUMMARY|runtime error|ERROR: AddressSanitizer|ERROR: libFuzzer' "$log" | sort | uniq -c | head -n 8 | sed 's/^/    /'
    fi
done
exit $STATUS
