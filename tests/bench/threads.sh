#!/usr/bin/env bash
# The fan-out ramp (1,000 clients, rooms of 2 and 10) against medrelay with
# 0, 1 and 2 I/O threads (--io-threads), side by side in one run. Prints the
# highest sustained deliveries/s (p99 <= 50 ms) and the server CPU per
# delivery at that rate. A benchmark: it prints figures, it asserts nothing.
#   tests/bench/threads.sh [threads...]      default: 0 1 2
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${MEDRELAY_BENCH_BUILD:-build-bench}
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_CONSOLE=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target medrelay-server medrelay-loadgen >/dev/null
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(0 1 2)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-8s %-10s %22s %22s %12s\n' rooms io-threads "sustained deliveries/s" "server CPU us/delivery" "p99 (ms)"
for room in 2 10; do
    for t in "${threads[@]}"; do
        data=$(mktemp -d)
        "$build/tests/bench/medrelay-loadgen" run --scenario fanout --clients 1000 --room-size "$room" --workers 1 \
            --rates 20000,40000,80000,140000,200000,280000,400000,560000,800000 --step-seconds 3 \
            --drain-seconds 5 --p99-limit-ms 50 --json "$out/r$room-t$t.json" -- \
            "$build/server/medrelay-server" --env production --insecure-no-auth --history off \
            --admin-token bench-admin-token-0123456789 --host 127.0.0.1 --port 0 --rate-limit 0 \
            --max-connections-per-ip 0 --data-dir "$data" --io-threads "$t" >/dev/null 2>&1 || true
        rm -rf "$data"
        python3 - "$out/r$room-t$t.json" "$room" "$t" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
best = None
for s in r.get("steps", []):
    if s.get("ok"):
        best = s
if best is None:
    print(f"{sys.argv[2]:<8} {sys.argv[3]:<10} {'no sustained step':>22}")
else:
    print(f"{sys.argv[2]:<8} {sys.argv[3]:<10} {best['deliveriesPerS']:>22,.0f} {best['serverCpuUsPerDelivery']:>22.2f} "
          f"{best['latencyMs']['p99']:>12.2f}")
PY
    done
done
