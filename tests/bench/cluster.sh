#!/usr/bin/env bash
# Cluster mode side by side, in one run on this machine:
#   - added cost: the same rooms (rooms of 2 and 10 by default) at the same
#     offered loads on one instance without Redis, on one instance with Redis,
#     and on two instances with each room's members split between them (every
#     message crosses Redis): server CPU per delivery (the instances and
#     redis-server together) with p50/p99 beside it;
#   - growth: 1, 2 and 4 instances, rooms whole on one instance each (what a
#     load balancer spreading connections does for rooms of one), the highest
#     offered load each sustains with p99 <= the bound and no loss.
# The load generator spreads its clients over the instances' ports (what a
# load balancer without sticky sessions does). A benchmark: it prints figures,
# writes tests/bench/results/cluster-<time>/ (results.json, table.md,
# commands.txt, raw/) and asserts nothing.
#
#   tests/bench/cluster.sh [--rooms 2,10] [--rates R1,R2,...] [--ramp R1,R2,...] [--instances 1,2,4]
#                          [--clients N] [--step-seconds S] [--p99-bound MS]
#
# Environment: MEDRELAY_BENCH_BUILD (a Release build; default build-bench,
# configured here when missing and brought up to date before each run). Needs redis-server (Debian's).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${MEDRELAY_BENCH_BUILD:-$root/build-bench}"
rooms="2,10"
rates="10000,50000"
ramp="10000,20000,50000,75000,100000,140000,200000"
instances="1,2,4"
clients=1000
step=5
bound=10
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rooms) rooms="$2"; shift 2 ;;
        --rates) rates="$2"; shift 2 ;;
        --ramp) ramp="$2"; shift 2 ;;
        --instances) instances="$2"; shift 2 ;;
        --clients) clients="$2"; shift 2 ;;
        --step-seconds) step="$2"; shift 2 ;;
        --p99-bound) bound="$2"; shift 2 ;;
        *) echo "cluster.sh: unknown option $1" >&2; exit 64 ;;
    esac
done
command -v redis-server >/dev/null || { echo "cluster.sh: redis-server is required (apt install redis-server)" >&2; exit 1; }
# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"

out="$here/results/cluster-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out/raw"
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

loadgen="$build/tests/bench/medrelay-loadgen"
commands="$out/commands.txt"
: >"$commands"
bench_build

# A free loopback port for redis-server (which cannot print one it chose).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

redis_pid=0
redis_port=0
start_redis() {
    redis_port=$(free_port)
    mkdir -p "$work/redis"
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" --save '' --appendonly no \
        --logfile "$work/redis/log" --daemonize no &
    redis_pid=$!
    pids+=("$redis_pid")
    for _ in $(seq 100); do
        redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.05
    done
    echo "cluster.sh: redis-server did not start" >&2
    exit 1
}
stop_redis() {
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=0
}

# start_instances N [redis]: N servers on ephemeral ports; sets ports/instance_pids.
ports=()
instance_pids=()
start_instances() {
    local n=$1 with_redis=${2:-}
    ports=()
    instance_pids=()
    local extra=()
    [[ -n "$with_redis" ]] && extra=(--redis "redis://127.0.0.1:$redis_port/0")
    for i in $(seq "$n"); do
        bench_start_medrelay "$work/instance-$i-$RANDOM" "${extra[@]}"
        pids+=("$started_pid")
        instance_pids+=("$started_pid")
        ports+=("$started_port")
    done
}
stop_instances() {
    for p in "${instance_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${instance_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    instance_pids=()
}
join_by_comma() { local IFS=,; echo "$*"; }

# measure NAME SPLIT ROOMSIZE RATES P99LIMIT [redis]: one loadgen run against
# the running instances (and redis-server when asked), into raw/NAME.json.
measure() {
    local name=$1 split=$2 room=$3 list=$4 limit=$5 with_redis=${6:-}
    local server_pids=("${instance_pids[@]}")
    [[ -n "$with_redis" ]] && server_pids+=("$redis_pid")
    local c=("$loadgen" run --scenario fanout --clients "$clients" --room-size "$room" --workers 1
             --rates "$list" --step-seconds "$step" --drain-seconds 5 --p99-limit-ms "$limit"
             --ports "$(join_by_comma "${ports[@]}")" --split "$split"
             --server-pids "$(join_by_comma "${server_pids[@]}")" --json "$out/raw/$name.json")
    echo "${c[*]}" >>"$commands"
    echo "== $name" >&2
    "${c[@]}" >/dev/null || echo "cluster.sh: $name did not finish cleanly" >&2
    sleep 1
}

huge=1000000000
IFS=, read -r -a room_sizes <<<"$rooms"
IFS=, read -r -a counts <<<"$instances"
for k in "${room_sizes[@]}"; do
    start_instances 1
    measure "equal-room$k-one" members "$k" "$rates" "$huge"
    stop_instances
    start_redis
    start_instances 1 redis
    measure "equal-room$k-one-redis" members "$k" "$rates" "$huge" redis
    stop_instances
    stop_redis
    start_redis
    start_instances 2 redis
    measure "equal-room$k-split" members "$k" "$rates" "$huge" redis
    stop_instances
    stop_redis
done
for n in "${counts[@]}"; do
    start_redis
    start_instances "$n" redis
    measure "growth-$n" rooms "${room_sizes[-1]}" "$ramp" "$bound" redis
    stop_instances
    stop_redis
done

python3 - "$out" "$rooms" "$instances" "$root" "$bound" <<'PY'
import json, os, platform, subprocess, sys
out, rooms, instances, root, bound = sys.argv[1:6]
def load(name):
    try:
        with open(os.path.join(out, "raw", name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
def cpuinfo():
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return f"{model}, {os.cpu_count()} logical CPUs"
git = lambda *a: subprocess.run(["git", "-C", root, *a], capture_output=True, text=True).stdout.strip()
commit = git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")
result = {"commit": commit, "machine": cpuinfo(), "kernel": platform.release(),
          "loadavg": open("/proc/loadavg").read().split()[:3],
          "commands": open(os.path.join(out, "commands.txt")).read().splitlines(), "equal": {}, "growth": {}}
def steps(r):
    return [{"target": s.get("targetDeliveriesPerS"), "achieved": s.get("deliveriesPerS"),
             "cpuUs": s.get("serverCpuUsPerDelivery"), "p50": s.get("latencyMs", {}).get("p50"),
             "p99": s.get("latencyMs", {}).get("p99"), "lost": s.get("lost"), "ok": s.get("ok")}
            for s in r.get("steps", [])]
variants = [("one", "one instance, no Redis"), ("one-redis", "one instance + Redis"),
            ("split", "two instances + Redis, members split")]
lines = [f"Cluster mode, commit {commit}, {result['machine']}, load average {' '.join(result['loadavg'])}. "
         "Server CPU is the instances and redis-server together.", "",
         "| rooms, offered deliveries/s | " + " | ".join(v[1] for v in variants) + " | split / one |",
         "|---|" + "---:|" * (len(variants) + 1)]
cell = lambda s: "-" if not s else f"{s['cpuUs']:.2f} µs (p50 {s['p50']:.2f} / p99 {s['p99']:.2f} ms)"
for k in rooms.split(","):
    runs = {v: steps(load(f"equal-room{k}-{v}")) for v, _ in variants}
    result["equal"][k] = runs
    for t in sorted({s["target"] for r in runs.values() for s in r if s["target"]}):
        row = {v: next((s for s in runs[v] if s["target"] == t), None) for v, _ in variants}
        ratio = (f"{row['split']['cpuUs'] / row['one']['cpuUs']:.2f}x"
                 if row["split"] and row["one"] and row["one"]["cpuUs"] else "-")
        lines.append(f"| rooms of {k}, {t:,.0f}/s | " + " | ".join(cell(row[v]) for v, _ in variants) + f" | {ratio} |")
lines += ["", f"| instances (rooms whole on one instance) | highest deliveries/s with p99 <= {bound} ms, no loss | "
          "server CPU per delivery there | p50 / p99 |", "|---:|---:|---:|---|"]
for n in instances.split(","):
    st = steps(load(f"growth-{n}"))
    result["growth"][n] = st
    ok = [s for s in st if s["ok"]]
    best = max(ok, key=lambda s: s["achieved"] or 0) if ok else None
    lines.append(f"| {n} | " + ("-" if not best else f"{best['achieved']:,.0f} | {best['cpuUs']:.2f} µs | "
                                f"{best['p50']:.2f} / {best['p99']:.2f} ms") + (" |" if best else " | - | - |"))
table = "\n".join(lines) + "\n"
print(table)
with open(os.path.join(out, "table.md"), "w") as fh:
    fh.write(table)
with open(os.path.join(out, "results.json"), "w") as fh:
    json.dump(result, fh, indent=1)
print(f"results: {out}", file=sys.stderr)
PY
