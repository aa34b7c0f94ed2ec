#!/usr/bin/env bash
# Builds medrelay with warnings as errors and runs the whole test suite, then
# runs it again under AddressSanitizer and UndefinedBehaviorSanitizer, then
# runs each fuzzer for a few seconds. Exits non-zero on any failure.
#
#   scripts/test.sh                 everything (what CI runs)
#   MEDRELAY_TEST_SANITIZE=0 ...    skip the sanitizer pass
#   MEDRELAY_TEST_FUZZ=0 ...        skip the fuzz pass
#   MEDRELAY_FUZZ_SECONDS=N         seconds per fuzzer (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
ctest_args=(--output-on-failure --timeout 300 -j "$jobs")
export QT_QPA_PLATFORM=offscreen
passed=0
skipped=0
skip_reasons=()
# Runs ctest and adds its counts to the closing summary. CTest counts a
# skipped test (exit code 77, QSKIP) among the passed ones; here it is
# counted apart, with the reason the test printed.
run_ctest() {
    local log
    log=$(mktemp)
    ctest "$@" 2>&1 | tee "$log"
    local n s
    n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n 1)
    s=$(grep -cE '^[[:space:]]*[0-9]+ - .* \(Skipped\)$' "$log" || true)
    local name dir="" reason i j
    for ((i = 1; i <= $#; i++)); do
        [ "${!i}" = "--test-dir" ] && { j=$((i + 1)); dir=${!j}; }
    done
    while read -r name; do
        reason=$(sed -n "/^[0-9]*\/[0-9]* Test: $name\$/,/^<end of output>/p" "$dir/Testing/Temporary/LastTest.log" \
            2>/dev/null | sed '1,/^Output:/d' | grep -m 1 -E 'SKIPPED: |SKIP +: ' | sed 's/^.*SKIP[A-Z]* *: *//')
        skip_reasons+=("$name: ${reason:-no reason printed}")
    done < <(sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p' "$log")
    rm -f "$log"
    passed=$((passed + ${n:-0} - s))
    skipped=$((skipped + s))
}
set -o pipefail

echo "== build (warnings as errors) =="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEDRELAY_WERROR=ON
cmake --build build -j "$jobs"
echo "== tests =="
run_ctest --test-dir build "${ctest_args[@]}"

if [ "${MEDRELAY_TEST_SANITIZE:-1}" = "1" ]; then
    echo "== build (ASan + UBSan) =="
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMEDRELAY_WERROR=ON -DMEDRELAY_SANITIZE=ON
    cmake --build build-asan -j "$jobs"
    echo "== tests under ASan + UBSan =="
    # Qt and libjwt allocate process-lifetime singletons; leaks are reported
    # for our code through the suppressions file, not ignored wholesale.
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
    export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    run_ctest --test-dir build-asan "${ctest_args[@]}" -LE bench-smoke
fi

if [ "${MEDRELAY_TEST_FUZZ:-1}" = "1" ] && [ -x tests/fuzz/run.sh ]; then
    echo "== fuzzers (${MEDRELAY_FUZZ_SECONDS:-10} s each) =="
    tests/fuzz/run.sh "${MEDRELAY_FUZZ_SECONDS:-10}"
fi
echo "== all tests passed =="
for r in "${skip_reasons[@]}"; do
    echo "skipped: $r"
done
echo "$passed passed, $skipped skipped, 0 failed"
