#!/usr/bin/env bash
# I/O threads (--io-threads) on a many-core machine: for each thread count,
# one server holds IDLE idle joined connections (in rooms of 2) while ACTIVE
# more, in rooms of ROOM, run the fan-out ramp; the table gives the highest
# sustained deliveries/s at p99 <= P99 ms, the server CPU per delivery there,
# and the server's resident memory. A benchmark: it prints figures and writes
# them to tests/bench/results/threads-<time>/ (table.md, results.json, raw/,
# commands.txt, machine.txt); it asserts nothing.
#
# It builds nothing: MEDRELAY_BENCH_BUILD must name a Release build that holds
# server/medrelay-server and tests/bench/medrelay-loadgen (carry one to the
# machine). Connections come from 127.1.0.1 ... 127.1.0.N (--source-addresses)
# since one source address has only ~28,000 ports towards one server port.
#
#   MEDRELAY_BENCH_BUILD=/path/to/build tests/bench/threads.sh \
#       [--threads 0,1,2,4,8,16] [--idle 100000] [--active 20000] [--room-size 10]
#       [--rates 20000,40000,...] [--step-seconds 5] [--p99-limit-ms 10] [--source-addresses 16] [--tls]
#       [--active-workers N] [--deadline-seconds S] [--out DIR] [--tls-cert PEM --tls-key PEM]
#
# --active-workers: load-generator processes for the active clients (default:
# as few as the descriptor limit allows, at least 2); on a many-core machine
# give the generator enough cores that it is not what runs out first.
# --deadline-seconds: start no further thread count once the run is this old
# (a machine lent for a fixed time); counts run in the order given, so put the
# ones that matter first. The table is rewritten after each count and sorted
# by thread count, with "vs 1 thread" relative to the one-thread row.
# --tls-cert/--tls-key: the pair --tls uses (default: a new self-signed P-256
# one from the openssl command, for machines that have it).
# --out: write the results there instead of tests/bench/results/threads-<time>.
# The commit reported is MEDRELAY_BENCH_BUILD/COMMIT where there is one (written
# by tests/bench/bundle.sh: the programs' own commit), else git's HEAD.
#
# Defaults are the full table (needs about 130,000 file descriptors for the
# server and as many for the load generator: raise `ulimit -n` first). Tried
# on the 2-core development machine with small numbers, e.g.
#   tests/bench/threads.sh --threads 0,1,2 --idle 2000 --active 1000 --rates 5000,10000,20000,40000 --step-seconds 3
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${MEDRELAY_BENCH_BUILD:-}"
threads="0,1,2,4,8,16"
idle=100000
active=20000
room=10
rates="20000,40000,80000,140000,200000,280000,400000,560000,800000,1100000,1500000,2000000,2800000,4000000"
step=5
p99=10
sources=16
tls=0
active_workers_opt=0
deadline=0
out=""
tls_cert=""
tls_key=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --threads) threads="$2"; shift 2 ;;
        --idle) idle="$2"; shift 2 ;;
        --active) active="$2"; shift 2 ;;
        --room-size) room="$2"; shift 2 ;;
        --rates) rates="$2"; shift 2 ;;
        --step-seconds) step="$2"; shift 2 ;;
        --p99-limit-ms) p99="$2"; shift 2 ;;
        --source-addresses) sources="$2"; shift 2 ;;
        --tls) tls=1; shift ;;
        --active-workers) active_workers_opt="$2"; shift 2 ;;
        --deadline-seconds) deadline="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --tls-cert) tls_cert="$2"; shift 2 ;;
        --tls-key) tls_key="$2"; shift 2 ;;
        *) echo "threads.sh: unknown option $1" >&2; exit 64 ;;
    esac
done
server="$build/server/medrelay-server"
loadgen="$build/tests/bench/medrelay-loadgen"
if [[ -z "$build" || ! -x "$server" || ! -x "$loadgen" ]]; then
    echo "threads.sh: set MEDRELAY_BENCH_BUILD to a Release build with server/medrelay-server and" \
         "tests/bench/medrelay-loadgen (this script builds nothing)" >&2
    exit 64
fi
grep -q '^CMAKE_BUILD_TYPE:STRING=Release' "$build/CMakeCache.txt" 2>/dev/null \
    || echo "threads.sh: warning: $build does not look like a Release build" >&2

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fds=$(ulimit -n)
need=$(( idle + active + 1000 ))
if (( fds < need )); then
    echo "threads.sh: the server needs about $need file descriptors; ulimit -n is $fds. Raise the hard limit" \
         "(e.g. in /etc/security/limits.conf, or run as root with ulimit -Hn) or use smaller --idle/--active." >&2
    exit 64
fi
per_worker=$(( fds - 200 < 30000 ? fds - 200 : 30000 ))
idle_workers=$(( (idle + per_worker - 1) / per_worker ))
active_workers=$(( (active + per_worker - 1) / per_worker ))
(( active_workers < 2 )) && active_workers=2
(( active_workers_opt > 0 )) && active_workers=$active_workers_opt
(( active_workers > active / room )) && active_workers=$(( active / room > 0 ? active / room : 1 ))

[[ -n "$out" ]] || out="$here/results/threads-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out/raw"
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
tls_server=()
tls_client=()
if (( tls )) && [[ -n "$tls_cert" ]]; then
    tls_server=(--tls-cert "$tls_cert" --tls-key "$tls_key")
    tls_client=(--tls)
elif (( tls )); then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" \
        -out "$work/cert.pem" -days 2 -subj /CN=127.0.0.1 2>/dev/null
    tls_server=(--tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
    tls_client=(--tls)
fi
{
    echo "commit: $(cat "$build/COMMIT" 2>/dev/null || git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) logical CPUs"
    echo "memory: $(grep MemTotal /proc/meminfo | awk '{print $2}') kB"
    echo "kernel: $(uname -r)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "ulimit -n: $fds"
    echo "idle: $idle, active: $active in rooms of $room ($active_workers generator processes), p99 limit: $p99 ms, tls: $tls"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2
: >"$out/commands.txt"

connections() {
    python3 -c 'import json,sys,urllib.request,ssl
ctx = ssl._create_unverified_context()
try:
    print(json.load(urllib.request.urlopen(sys.argv[1], timeout=5, context=ctx))["connections"])
except Exception:
    print(-1)' "$1"
}

# The table from the fan-out results so far, sorted by thread count.
table() {
    python3 - "$out" "$threads" "$idle" "$active" "$room" "$p99" <<'PY'
import json, os, sys
out, threads, idle, active, room, p99 = sys.argv[1:7]
result = {"machine": open(os.path.join(out, "machine.txt")).read().splitlines(), "runs": {}}
best_of = {}
for t in sorted({int(x) for x in threads.split(",")}):
    try:
        r = json.load(open(os.path.join(out, "raw", f"fanout-{t}.json")))
    except (OSError, ValueError):
        continue
    steps = r.get("steps", [])
    best = None
    for s in steps:
        if s.get("ok"):
            best = s
    result["runs"][str(t)] = {"best": best, "steps": steps, "connect": r.get("connect")}
    best_of[t] = best
base = (best_of.get(1) or {}).get("deliveriesPerS")
rows = []
for t, best in best_of.items():
    if best:
        ratio = f"{best['deliveriesPerS'] / base:.2f}x" if base else "-"
        rows.append(f"| {t} | {best['deliveriesPerS']:,.0f} | {ratio} | {best['serverCpuUsPerDelivery']:.2f} | "
                    f"{best['latencyMs']['p50']:.2f} / {best['latencyMs']['p99']:.2f} | "
                    f"{best.get('serverRssKb', 0) / 1024:.0f} |")
    else:
        rows.append(f"| {t} | no step within p99 <= {p99} ms | | | | |")
head = [f"{idle} idle joined connections plus {active} active in rooms of {room}; highest sustained step "
        f"(p99 <= {p99} ms, nothing lost)", "",
        "| I/O threads | deliveries/s | vs 1 thread | server CPU us/delivery | p50 / p99 ms | server RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|"]
table = "\n".join(head + rows) + "\n"
open(os.path.join(out, "table.md"), "w").write(table)
json.dump(result, open(os.path.join(out, "results.json"), "w"), indent=1)
print(table)
PY
}

started=$SECONDS
IFS=, read -r -a counts <<<"$threads"
for t in "${counts[@]}"; do
    if (( deadline > 0 && SECONDS - started > deadline )); then
        echo "threads.sh: $(( SECONDS - started )) s gone (deadline $deadline s): no run with $t threads" >&2
        continue
    fi
    echo "== $t I/O threads ($(( SECONDS - started )) s)" >&2
    data="$work/data-$t"
    mkdir -p "$data"
    cmd=("$server" --env production --insecure-no-auth --history off --admin-token bench-admin-token-0123456789
         --host 127.0.0.1 --port 0 --rate-limit 0 --max-connections-per-ip 0 --max-pending-per-ip 0
         --max-connections $(( need )) --data-dir "$data" --io-threads "$t" "${tls_server[@]}")
    echo "${cmd[*]}" >>"$out/commands.txt"
    "${cmd[@]}" >"$work/server-$t.log" 2>&1 &
    spid=$!
    pids+=("$spid")
    port=""
    for _ in $(seq 1 100); do
        port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\).*/\1/p' "$work/server-$t.log" | head -1)
        [[ -n "$port" ]] && break
        sleep 0.1
    done
    if [[ -z "$port" ]]; then
        echo "threads.sh: the server did not start:" >&2
        cat "$work/server-$t.log" >&2
        exit 1
    fi
    scheme=http
    (( tls )) && scheme=https
    # The idle connections stay joined until this step ends.
    cmd=("$loadgen" run --scenario idle --clients "$idle" --room-size 2 --workers "$idle_workers" --inflight 512
         --checkpoints "$idle" --settle-seconds 1000000 --connect-timeout 120 --room-prefix idle
         --source-addresses "$sources" --port "$port" --server-pid "$spid" "${tls_client[@]}"
         --json "$out/raw/idle-$t.json")
    echo "${cmd[*]}" >>"$out/commands.txt"
    "${cmd[@]}" >/dev/null 2>"$work/idle-$t.log" &
    ipid=$!
    pids+=("$ipid")
    # Until all are in, or the count has not grown for 20 s (or the generator stopped).
    held=0
    still=0
    for _ in $(seq 1 600); do
        now=$(connections "$scheme://127.0.0.1:$port/health")
        (( now >= idle )) && break
        kill -0 "$ipid" 2>/dev/null || break
        if (( now > held )); then held=$now; still=0; else still=$(( still + 1 )); fi
        (( still >= 20 )) && break
        sleep 1
    done
    echo "   $(connections "$scheme://127.0.0.1:$port/health") connections held" >&2
    cmd=("$loadgen" run --scenario fanout --clients "$active" --room-size "$room" --workers "$active_workers"
         --inflight 512 --rates "$rates" --step-seconds "$step" --drain-seconds 5 --p99-limit-ms "$p99"
         --connect-timeout 120 --room-prefix active --source-addresses "$sources" --port "$port"
         --server-pid "$spid" "${tls_client[@]}" --json "$out/raw/fanout-$t.json")
    echo "${cmd[*]}" >>"$out/commands.txt"
    "${cmd[@]}" >/dev/null 2>"$out/raw/fanout-$t.log" || echo "threads.sh: fan-out run with $t threads failed" >&2
    grep -E "step|error" "$out/raw/fanout-$t.log" >&2 || true
    kill "$ipid" 2>/dev/null || true
    wait "$ipid" 2>/dev/null || true
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    table >/dev/null
    sleep 2 # sockets in TIME_WAIT and freed memory settle between runs
done
table
echo "results: $out" >&2

