#!/usr/bin/env bash
# Runs the whole medrelay benchmark suite: builds the server (Release) and the
# load generator, installs the two reference servers from npm (Node ws and
# Bun, pinned by their package-lock.json), runs every scenario against all
# three and writes tests/bench/results/<timestamp>/.
#
#   tests/bench/run.sh [--quick] [--only fanout,idle,storm,clinic] [--rooms 2,3]
#                      [--servers medrelay,node,bun] [--clinic-seconds S]
#   tests/bench/run.sh --update-docs     full run, then rewrites the tables in
#                                        README.md and docs/BENCHMARKS.md and
#                                        makes it results/latest/
#
# Environment: MEDRELAY_BENCH_BUILD (default <repo>/build-bench).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${MEDRELAY_BENCH_BUILD:-$root/build-bench}"
command_line="tests/bench/run.sh"
if [[ $# -gt 0 ]]; then command_line+="$(printf ' %q' "$@")"; fi

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
cmake --build "$build" -j "$(nproc)" --target medrelay-server medrelay-loadgen

# The references are pinned by package-lock.json; reinstall only when it changed.
install_reference() {
    local dir=$1 marker=$2
    if [[ ! -e "$dir/node_modules/$marker" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}
install_reference "$here/reference" ws
install_reference "$here/reference-bun" .bin/bun
"$here/reference-bun/node_modules/.bin/bun" --version >/dev/null \
    || { echo "run.sh: the bun binary from npm does not run on this machine" >&2; exit 1; }

load="$(cut -d' ' -f1 /proc/loadavg)"
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    echo "run.sh: warning: load average is $load; other work on this machine will skew the figures" >&2
fi
echo "run.sh: file-descriptor limit $(ulimit -n); large connection counts are split over worker processes" >&2

exec python3 "$here/suite.py" --build "$build" --command-line "$command_line" "$@"
