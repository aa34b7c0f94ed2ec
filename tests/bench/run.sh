#!/usr/bin/env bash
# Runs the whole medrelay benchmark suite: builds the server (Release) and the
# load generator, installs the Node reference from npm, runs every scenario
# against both servers and writes tests/bench/results/<timestamp>/.
#
#   tests/bench/run.sh [--quick] [--only idle,fanout,latency,storm,clinic] [--clinic-seconds S]
#
# Environment: MEDRELAY_BENCH_BUILD (default <repo>/build-bench).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${MEDRELAY_BENCH_BUILD:-$root/build-bench}"

for tool in cmake node npm python3; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 1; }
done

if [[ ! -f "$build/CMakeCache.txt" ]]; then
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_CONSOLE=OFF
fi
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt")"
if [[ "$build_type" != "Release" ]]; then
    echo "run.sh: $build is a '$build_type' build; benchmarks need Release (reconfiguring)" >&2
    cmake "$build" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$build" -j2 --target medrelay-server medrelay-loadgen

# The reference is pinned by package-lock.json; reinstall only when it changed.
ref="$here/reference"
if [[ ! -d "$ref/node_modules/ws" || "$ref/package-lock.json" -nt "$ref/node_modules/.package-lock.json" ]]; then
    (cd "$ref" && npm ci --no-audit --no-fund --loglevel=error)
fi

load="$(cut -d' ' -f1 /proc/loadavg)"
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    echo "run.sh: warning: load average is $load; other work on this machine will skew the figures" >&2
fi
echo "run.sh: file-descriptor limit $(ulimit -n); large connection counts are split over worker processes" >&2

exec python3 "$here/suite.py" --build "$build" "$@"
