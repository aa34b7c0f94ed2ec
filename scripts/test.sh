#!/usr/bin/env bash
# Builds medrelay with warnings as errors and runs the whole test suite, then
# runs it again under AddressSanitizer and UndefinedBehaviorSanitizer, then
# runs each fuzzer for a few seconds. Exits non-zero on any failure.
#
#   scripts/test.sh                 everything (what CI runs)
#   MEDRELAY_TEST_SANITIZE=0 ...    skip the sanitizer pass
#   MEDRELAY_TEST_FUZZ=0 ...        skip the fuzz pass
#   MEDRELAY_FUZZ_SECONDS=N         seconds per fuzzer (default 10)
#
# Each ctest pass prints its own count; the last line is the total,
# "N passed, N failed" (", N skipped" when any), which CI reads.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
# --no-tests=error: a pass that finds no tests (a broken build directory, a
# label that matches nothing) fails instead of passing with zero.
# The e2e and browser test dependencies are installed below, not counted as
# tests: their fixtures' setup tests (e2e_npm_ci, browser_npm_ci) are left out
# of the runs.
ctest_args=(--output-on-failure --timeout 300 -j "$jobs" --no-tests=error
            -E '^(e2e|browser)_npm_ci$' --fixture-exclude-setup 'medrelay_(e2e|browser)_node_modules')
export QT_QPA_PLATFORM=offscreen

total_passed=0
total_failed=0
total_skipped=0
status=0
skip_reasons=()

# run_ctest TITLE ctest-arguments...: one ctest pass. Prints the pass's own
# count and adds it to the totals; a pass that fails without a failing test
# (no tests found, a crash of ctest itself) counts as one failure.
run_ctest() {
    local title=$1
    shift
    local log rc counts passed failed skipped
    log=$(mktemp)
    set +e
    ctest "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    # Result lines look like " 3/52 Test  #3: tst_rooms ....   Passed    0.05 sec".
    counts=$(awk '
        /^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: / {
            if ($0 ~ /\*\*\*Skipped|Not Run \(Disabled\)/) s++
            else if ($0 ~ / Passed +[0-9.]+ sec/) p++
            else f++
        }
        END { print p + 0, f + 0, s + 0 }' "$log")
    # Each skipped test with the reason it printed (QSKIP or "SKIP: ..."),
    # from the output CTest keeps in the build directory.
    local name dir="" reason i j
    for ((i = 1; i <= $#; i++)); do
        [ "${!i}" = "--test-dir" ] && { j=$((i + 1)); dir=${!j}; }
    done
    while read -r name; do
        reason=$(sed -n "/^[0-9]*\/[0-9]* Test: $name\$/,/^<end of output>/p" "$dir/Testing/Temporary/LastTest.log" \
            2>/dev/null | sed '1,/^Output:/d' | grep -m 1 -E 'SKIPPED: |SKIP *: ' | sed 's/^.*SKIP[A-Z]* *: *//')
        skip_reasons+=("$title: $name: ${reason:-no reason printed}")
    done < <(sed -n 's/^ *[0-9]*\/[0-9]* *Test *#[0-9]*: \([^ ]*\) .*\*\*\*Skipped.*$/\1/p' "$log")
    rm -f "$log"
    read -r passed failed skipped <<<"$counts"
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        echo "== $title: ctest exited with status $rc without a failing test (no tests found?) =="
        failed=1
    fi
    if [ "$rc" -ne 0 ] || [ "$failed" -gt 0 ]; then
        status=1
    fi
    local line="$passed passed, $failed failed"
    [ "$skipped" -gt 0 ] && line+=", $skipped skipped"
    echo "== $title: $line =="
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    total_skipped=$((total_skipped + skipped))
}

# Both builds keep line tables only (-g1: enough for backtraces and the
# sanitizers' reports, a fifth less compile time than -g) and link with lld
# when it is there (a fifth of the time GNU ld takes on the tests).
build_flags=(-G Ninja -DMEDRELAY_WERROR=ON -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
             -DCMAKE_CXX_FLAGS_DEBUG="-g1")
if command -v ld.lld >/dev/null 2>&1; then
    build_flags+=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld
                  -DCMAKE_MODULE_LINKER_FLAGS=-fuse-ld=lld)
fi

echo "== build (warnings as errors) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "${build_flags[@]}"
cmake --build build -j "$jobs"
echo "== e2e and browser test dependencies (npm ci, pinned by each package-lock.json) =="
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
sanitize=${MEDRELAY_TEST_SANITIZE:-1}
asan_pid=""
asan_log=""
if [ "$sanitize" = "1" ]; then
    # The server, the shared code and their tests: what untrusted input
    # reaches. The console (a GUI talking to a server its operator chose) is
    # tested in the pass above, and the benchmark programs are not run here;
    # building them again would add minutes. The tests mostly wait on
    # sockets, so this build runs beside them at the lowest priority: it
    # takes only the CPU time they leave, and the run is minutes shorter.
    echo "== build (ASan + UBSan): beside the tests, at the lowest priority =="
    asan_log=$(mktemp)
    (
        nice -n 19 cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug "${build_flags[@]}" -DMEDRELAY_SANITIZE=ON \
            -DBUILD_CONSOLE=OFF -DMEDRELAY_BENCH=OFF &&
            nice -n 19 cmake --build build-asan -j "$jobs"
    ) >"$asan_log" 2>&1 &
    asan_pid=$!
fi

echo "== tests =="
run_ctest "tests" --test-dir build "${ctest_args[@]}"

if [ "$sanitize" = "1" ]; then
    echo "== build (ASan + UBSan) =="
    asan_rc=0
    wait "$asan_pid" || asan_rc=$?
    cat "$asan_log"
    rm -f "$asan_log"
    if [ "$asan_rc" -ne 0 ]; then
        echo "== build (ASan + UBSan): failed (status $asan_rc) =="
        exit 1
    fi
    fuzz_pid=""
    fuzz_log=""
    if [ "${MEDRELAY_TEST_FUZZ:-1}" = "1" ] && [ -x tests/fuzz/run.sh ]; then
        # The fuzzers' build beside the sanitizer pass, as above.
        fuzz_log=$(mktemp)
        (FUZZ_BUILD_ONLY=1 nice -n 19 tests/fuzz/run.sh) >"$fuzz_log" 2>&1 &
        fuzz_pid=$!
    fi
    echo "== tests under ASan + UBSan =="
    # Added to the defaults each test gets from tests/CMakeLists.txt (a later
    # flag wins). Qt and libjwt allocate process-lifetime singletons; leaks are
    # reported for our code through the suppressions file, not ignored
    # wholesale.
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
    export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    run_ctest "tests under ASan + UBSan" --test-dir build-asan "${ctest_args[@]}" -LE bench-smoke
    if [ -n "$fuzz_pid" ]; then
        # Its failures show again, and count, when the fuzzers run below.
        wait "$fuzz_pid" || true
        rm -f "$fuzz_log"
    fi
fi

if [ "${MEDRELAY_TEST_FUZZ:-1}" = "1" ] && [ -x tests/fuzz/run.sh ]; then
    echo "== fuzzers (${MEDRELAY_FUZZ_SECONDS:-10} s each) =="
    if ! tests/fuzz/run.sh "${MEDRELAY_FUZZ_SECONDS:-10}"; then
        echo "== fuzzers: failed (counted as one failure) =="
        total_failed=$((total_failed + 1))
        status=1
    fi
fi

if [ "$status" -eq 0 ]; then
    echo "== all tests passed =="
else
    echo "== FAILURES =="
fi
for r in "${skip_reasons[@]}"; do
    echo "skipped: $r"
done
summary="$total_passed passed, $total_failed failed"
[ "$total_skipped" -gt 0 ] && summary+=", $total_skipped skipped"
echo "$summary"
exit "$status"
