#!/usr/bin/env bash
# wss:// side by side: medrelay's lean transport (OpenSSL on the epoll
# connections), medrelay --transport qt (QWebSocket over QSslSocket) and the
# Node reference over https (the original's stack: ws on Node's https module),
# all with the same self-signed certificate, in one run on this machine.
#   - memory: resident memory per idle joined wss:// connection, measured as
#     the growth between two connection counts (so start-up and warm-up do
#     not land in the per-connection figure), and the baseline;
#   - CPU: server CPU time per delivery at the same offered loads for all
#     three (rooms of 10 by default), with p50/p99 beside it.
# A benchmark: it prints figures and writes them to
# tests/bench/results/wss-<time>/ (results.json, table.md, raw/); it asserts
# nothing.
#
#   tests/bench/wss.sh [--idle N1,N2] [--rates R1,R2,...] [--room-size K] [--step-seconds S] [--clients N]
#
# Environment: MEDRELAY_BENCH_BUILD (a Release build; default build-bench,
# configured here when missing and brought up to date before each run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${MEDRELAY_BENCH_BUILD:-$root/build-bench}"
idle="2000,5000"
rates="10000,27000"
room=10
step=8
clients=1000
while [[ $# -gt 0 ]]; do
    case "$1" in
        --idle) idle="$2"; shift 2 ;;
        --rates) rates="$2"; shift 2 ;;
        --room-size) room="$2"; shift 2 ;;
        --step-seconds) step="$2"; shift 2 ;;
        --clients) clients="$2"; shift 2 ;;
        *) echo "wss.sh: unknown option $1" >&2; exit 64 ;;
    esac
done

# Always brought up to date (nothing to do when it is): figures from a stale
# server would not be the current code's.
[[ -f "$build/CMakeCache.txt" ]] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_CONSOLE=OFF >/dev/null
cmake --build "$build" -j2 --target medrelay-server medrelay-loadgen >/dev/null
ref="$here/reference"
[[ -d "$ref/node_modules/ws" ]] || (cd "$ref" && npm ci --no-audit --no-fund --loglevel=error)

out="$here/results/wss-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out/raw"
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$data/key.pem" -out "$data/cert.pem" -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null

loadgen="$build/tests/bench/medrelay-loadgen"
medrelay=("$build/server/medrelay-server" --env production --insecure-no-auth --history off
          --admin-token bench-admin-token-0123456789 --host 127.0.0.1 --port 0 --rate-limit 0
          --max-connections-per-ip 0 --max-pending-per-ip 0 --max-connections 100000 --data-dir "$data"
          --tls-cert "$data/cert.pem" --tls-key "$data/key.pem")
declare -A cmd
cmd[medrelay]="${medrelay[*]}"
cmd[medrelay-qt]="${medrelay[*]} --transport qt"
cmd[node]="node $ref/server.js --host 127.0.0.1 --port 0 --tls-cert $data/cert.pem --tls-key $data/key.pem"
servers=(medrelay medrelay-qt node)
last_idle="${idle##*,}"
workers=$(( last_idle / 9000 + 1 ))

commands="$out/commands.txt"
: >"$commands"
for s in "${servers[@]}"; do
    echo "== $s: idle" >&2
    c=("$loadgen" run --tls --scenario idle --clients "$last_idle" --room-size 2 --workers "$workers" --inflight 256
       --checkpoints "$idle" --settle-seconds 2 --connect-timeout 60 --json "$out/raw/idle-$s.json" -- ${cmd[$s]})
    echo "${c[*]}" >>"$commands"
    "${c[@]}" >/dev/null || echo "wss.sh: idle run against $s failed" >&2
    sleep 1
    echo "== $s: rooms of $room at $rates deliveries/s" >&2
    c=("$loadgen" run --tls --scenario latency --clients "$clients" --room-size "$room" --workers 1
       --rates "$rates" --step-seconds "$step" --drain-seconds 5 --p99-limit-ms 1000000000
       --json "$out/raw/load-$s.json" -- ${cmd[$s]})
    echo "${c[*]}" >>"$commands"
    "${c[@]}" >/dev/null || echo "wss.sh: load run against $s failed" >&2
    sleep 1
done

python3 - "$out" "$idle" "$room" "$root" <<'PY'
import json, os, platform, subprocess, sys
out, idle, room, root = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
servers = ["medrelay", "medrelay-qt", "node"]
names = {"medrelay": "medrelay (lean)", "medrelay-qt": "medrelay --transport qt", "node": "Node ws over https"}
def load(p):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
def cpuinfo():
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return f"{model}, {os.cpu_count()} logical CPUs"
commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
result = {"commit": commit + ("+changes" if dirty else ""), "machine": cpuinfo(), "kernel": platform.release(),
          "loadavg": open("/proc/loadavg").read().split()[:3], "commands": open(os.path.join(out, "commands.txt")).read().splitlines(),
          "memory": {}, "load": {}}
points = [int(x) for x in idle.split(",")]
for s in servers:
    r = load(os.path.join(out, "raw", f"idle-{s}.json"))
    mem = {m["connections"]: m["rssKb"] for m in r.get("memory", [])}
    reached = sorted(k for k in mem if k > 0)
    lo = next((k for k in reached if k >= points[0]), None)
    hi = max(reached) if reached else None
    per = (mem[hi] - mem[lo]) * 1024 / (hi - lo) if lo and hi and hi > lo else None
    result["memory"][s] = {"baselineKb": r.get("baselineRssKb"), "from": lo, "to": hi,
                           "bytesPerConnection": per, "rssKbByConnections": mem}
    r = load(os.path.join(out, "raw", f"load-{s}.json"))
    result["load"][s] = [{"target": st.get("targetDeliveriesPerS"), "achieved": st.get("deliveriesPerS"),
                          "cpuUs": st.get("serverCpuUsPerDelivery"), "p50": st.get("latencyMs", {}).get("p50"),
                          "p99": st.get("latencyMs", {}).get("p99"), "lost": st.get("lost")} for st in r.get("steps", [])]
def f(v, spec):
    return "-" if v is None else format(v, spec)
lines = [f"wss:// side by side, commit {result['commit']}, {result['machine']}, load average {' '.join(result['loadavg'])}", "",
         "| | " + " | ".join(names[s] for s in servers) + " | lean / Node |", "|---|" + "---:|" * (len(servers) + 1)]
m = result["memory"]
def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"
lines.append("| resident memory per idle joined connection (" + f"{points[0]:,} to {points[-1]:,}" + ") | "
             + " | ".join(f(m[s]["bytesPerConnection"] and m[s]["bytesPerConnection"] / 1024, ".1f") + " KiB" for s in servers)
             + " | " + ratio(m["medrelay"]["bytesPerConnection"], m["node"]["bytesPerConnection"]) + " |")
lines.append("| baseline resident memory | " + " | ".join(f(m[s]["baselineKb"] and m[s]["baselineKb"] / 1024, ".1f") + " MiB" for s in servers)
             + " | " + ratio(m["medrelay"]["baselineKb"], m["node"]["baselineKb"]) + " |")
targets = sorted({st["target"] for s in servers for st in result["load"][s] if st["target"]})
for t in targets:
    row = {s: next((st for st in result["load"][s] if st["target"] == t), None) for s in servers}
    cell = lambda st: "-" if not st else f"{st['cpuUs']:.2f} us ({st['achieved']:,.0f}/s, p50 {st['p50']:.2f} / p99 {st['p99']:.2f} ms)"
    lines.append(f"| rooms of {room}, {t:,.0f} deliveries/s offered: server CPU per delivery | "
                 + " | ".join(cell(row[s]) for s in servers) + " | "
                 + ratio(row["medrelay"] and row["medrelay"]["cpuUs"], row["node"] and row["node"]["cpuUs"]) + " |")
table = "\n".join(lines) + "\n"
print(table)
with open(os.path.join(out, "table.md"), "w") as fh:
    fh.write(table)
with open(os.path.join(out, "results.json"), "w") as fh:
    json.dump(result, fh, indent=1)
print(f"results: {out}", file=sys.stderr)
PY
