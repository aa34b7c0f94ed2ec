#!/usr/bin/env bash
# What watching costs the relay: the clinic profile (2,000 rooms of 2 by
# default, chat and whiteboard traffic) three times on one server, the same
# offered load each time:
#   - no console;
#   - N consoles on the admin event stream (/admin/ws), what the console does;
#   - N consoles polling /health, /stats and /admin/events once a second on
#     new connections, what the console did before the stream (and still does
#     against servers without it).
# It reports the server's CPU (% of one core) during the steady traffic, the
# difference each kind of console makes, the bytes the consoles received per
# second, and the size of the largest /stats answer the pollers read (every
# room full). The consoles connect once the traffic has begun. A benchmark:
# it prints figures, writes tests/bench/results/consoles-<time>/ and asserts
# nothing.
#
#   tests/bench/consoles.sh [--rooms N] [--consoles N] [--seconds S]
#
# Environment: MEDRELAY_BENCH_BUILD (a Release build; default build-bench,
# configured here when missing and brought up to date before each run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${MEDRELAY_BENCH_BUILD:-$root/build-bench}"
rooms=2000
consoles=10
seconds=60
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rooms) rooms="$2"; shift 2 ;;
        --consoles) consoles="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        *) echo "consoles.sh: unknown option $1" >&2; exit 64 ;;
    esac
done
# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
[[ -d "$here/reference/node_modules/ws" ]] || (cd "$here/reference" && npm ci --no-audit --no-fund --loglevel=error)

out="$here/results/consoles-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out/raw"
work=$(mktemp -d)
server_pid=0
cleanup() {
    [[ "$server_pid" -gt 0 ]] && kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
token=bench-admin-token-0123456789
bench_admin_token=$token
commands="$out/commands.txt"
: >"$commands"
bench_build

start_server() {
    bench_start_medrelay "$work/server-$RANDOM"
    server_pid=$started_pid
    port=$started_port
}
stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=0
}

# run NAME MODE: one clinic run with MODE consoles (none, stream, poll). The
# consoles connect once the participants have joined and the traffic has
# begun (the load generator says so), so what is measured is watching a busy
# clinic: each console's first snapshot of every room, then the changes.
run() {
    local name=$1 mode=$2
    start_server
    local c=("$build/tests/bench/medrelay-loadgen" run --scenario clinic --clients $((rooms * 2)) --room-size 2
             --workers 1 --inflight 512 --duration "$seconds" --chat-interval 10 --whiteboard-rate 2
             --ice-burst 20 --signal-spread 10 --drain-seconds 10 --payload 120 --port "$port"
             --server-pid "$server_pid" --json "$out/raw/$name.json")
    echo "${c[*]}" >>"$commands"
    echo "== $name" >&2
    "${c[@]}" >/dev/null 2>"$out/raw/$name.log" &
    local load=$!
    local watcher=0
    if [[ "$mode" != none ]]; then
        for _ in $(seq 600); do
            grep -q "steady messages/s" "$out/raw/$name.log" 2>/dev/null && break
            sleep 0.1
        done
        local w=(node "$here/consoles/watch.mjs" --port "$port" --token "$token" --count "$consoles"
                 --mode "$mode" --seconds $((seconds + 60)))
        echo "${w[*]}" >>"$commands"
        "${w[@]}" >"$out/raw/$name-consoles.json" &
        watcher=$!
    fi
    wait "$load" || echo "consoles.sh: $name did not finish cleanly" >&2
    [[ "$watcher" -gt 0 ]] && { kill "$watcher" 2>/dev/null || true; wait "$watcher" 2>/dev/null || true; }
    stop_server
    sleep 1
}

run none none
run stream stream
run poll poll

python3 - "$out" "$rooms" "$consoles" "$root" <<'PY'
import json, os, platform, subprocess, sys
out, rooms, consoles, root = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def load(name):
    try:
        with open(os.path.join(out, "raw", name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
git = lambda *a: subprocess.run(["git", "-C", root, *a], capture_output=True, text=True).stdout.strip()
commit = git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
# The pollers keep the largest /stats answer they read: every room full.
stats_bytes = load("poll-consoles.json").get("statsBytesMax", 0)
result = {"commit": commit, "machine": f"{model}, {os.cpu_count()} logical CPUs", "kernel": platform.release(),
          "loadavg": open("/proc/loadavg").read().split()[:3], "rooms": rooms, "consoles": consoles,
          "statsBytes": stats_bytes, "commands": open(os.path.join(out, "commands.txt")).read().splitlines(), "runs": {}}
names = {"none": "no console", "stream": f"{consoles} consoles on /admin/ws", "poll": f"{consoles} consoles polling"}
lines = [f"Consoles watching {rooms:,} rooms of 2 (clinic profile), commit {commit}, {result['machine']}, "
         f"load average {' '.join(result['loadavg'])}.", "",
         "| | server CPU, % of a core | added by the consoles | bytes/s to the consoles (whole watch) | p99 delivery | lost |",
         "|---|---:|---:|---:|---:|---:|"]
base = None
for mode in ("none", "stream", "poll"):
    r = load(f"{mode}.json").get("clinic", {})
    w = load(f"{mode}-consoles.json") if mode != "none" else {}
    cpu = r.get("serverCpuPercent")
    if mode == "none":
        base = cpu
    result["runs"][mode] = {"clinic": r, "consoles": w}
    added = "-" if mode == "none" or cpu is None or base is None else f"{cpu - base:+.2f} points"
    rate = "-" if not w or not w.get("seconds") else f"{w['bytes'] / w['seconds']:,.0f}"
    lines.append(f"| {names[mode]} | " + ("-" if cpu is None else f"{cpu:.2f}") + f" | {added} | {rate} | "
                 + ("-" if not r else f"{r.get('latencyMs', {}).get('p99', 0):.2f} ms") + f" | {r.get('lost', '-')} |")
lines += ["", f"One `/stats` answer with {rooms:,} rooms of 2: {stats_bytes:,} bytes."]
table = "\n".join(lines) + "\n"
print(table)
with open(os.path.join(out, "table.md"), "w") as fh:
    fh.write(table)
with open(os.path.join(out, "results.json"), "w") as fh:
    json.dump(result, fh, indent=1)
print(f"results: {out}", file=sys.stderr)
PY
