#!/usr/bin/env python3
"""The medrelay benchmark suite: every scenario against medrelay and two
reference servers, the original's stack (Node `ws`, tests/bench/reference)
and Bun.serve (tests/bench/reference-bun), in one run on one machine, reported
side by side. The fan-out scenario also runs against the load generator's
trivial relay, to show the generator's own ceiling.

Started by tests/bench/run.sh, which builds and installs what it needs first.
Writes results/<timestamp>/results.json (with the commit, the machine, the
command and the mode), raw/*.json (one per run, the same stamps added),
results.md (the tables), gnuplot PNGs, and prints the table.

  suite.py --build DIR [--quick] [--only ...] [--rooms 2,3] [--servers ...]
  suite.py --report results.json [--markdown] [--update-docs]

--update-docs (full runs only) rewrites the generated tables in README.md and
docs/BENCHMARKS.md between their markers and copies the run to
results/latest/. Standard library only.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

# The servers compared, in table order, and the trivial relay (fan-out only).
SERVERS = ["medrelay", "node", "bun"]
LABELS = {"medrelay": "medrelay", "node": "Node ws", "bun": "Bun", "trivial": "trivial relay",
          "medrelay-history": "medrelay, history on"}

# Offered loads (deliveries per second) at which every server is measured,
# whatever its own best rate: CPU per delivery and latency compare only at
# equal load. A server that saturates a core shows 1 / throughput there.
EQUAL_LOADS = [10000, 50000, 100000]
# The ramp adds steps above them until a step fails, for the highest rate
# each server sustains with p99 under the bound, no loss and >= 90 % of the
# offered load delivered. The equal loads run even when a lower step failed.
RAMP = [10000, 20000, 50000, 75000, 100000, 140000, 200000, 280000, 400000, 560000, 800000]
ROOM_SIZES = [2, 3, 10, 50]  # consultations first
P99_BOUND_MS = 10
MARGINAL = (5000, 15000)     # idle: memory per connection between these counts

FULL = {
    "idle": dict(clients=19000, checkpoints=[1000, 2500, 5000, 7500, 10000, 12500, 15000, 17500], settle=2),
    "fanout": dict(clients=1000, step_seconds=5),
    "storm": dict(clients=10000, inflight=1000),
    "clinic": dict(rooms=2000, seconds=60, chat_interval=10, whiteboard_rate=2, ice_burst=20, spread=10),
}
QUICK = {
    "idle": dict(clients=19000, checkpoints=[5000, 10000, 15000], settle=1),
    "fanout": dict(clients=1000, step_seconds=2),
    "storm": dict(clients=10000, inflight=1000),
    "clinic": dict(rooms=2000, seconds=20, chat_interval=10, whiteboard_rate=2, ice_burst=20, spread=10),
}
ALL = ["fanout", "idle", "storm", "clinic", "history"]
# What stored messages cost: the same fan-out with history kept (SQLite,
# encrypted, group commit) and with history off, at the equal loads.
HISTORY_ROOMS = [2, 10]

README = os.path.join(ROOT, "README.md")
BENCHMARKS = os.path.join(ROOT, "docs", "BENCHMARKS.md")
MARKERS = {
    README: ("<!-- bench:readme:begin", "<!-- bench:readme:end -->"),
    BENCHMARKS: ("<!-- bench:full:begin", "<!-- bench:full:end -->"),
}
UPDATE_COMMAND = "tests/bench/run.sh --update-docs"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_text(cmd, cwd=None):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


class Suite:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.loadgen = os.path.join(self.build, "tests", "bench", "medrelay-loadgen")
        self.server = os.path.join(self.build, "server", "medrelay-server")
        self.bun = os.path.join(HERE, "reference-bun", "node_modules", ".bin", "bun")
        self.params = QUICK if args.quick else FULL
        if args.clinic_seconds:
            self.params["clinic"]["seconds"] = args.clinic_seconds
        self.rooms = [int(r) for r in args.rooms.split(",")] if args.rooms else ROOM_SIZES
        self.servers = args.servers.split(",") if args.servers else SERVERS
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.out = os.path.abspath(args.out or os.path.join(HERE, "results", stamp))
        self.raw = os.path.join(self.out, "raw")
        os.makedirs(self.raw, exist_ok=True)
        self.data_dir = tempfile.mkdtemp(prefix="medrelay-bench-data-")
        self.tls = []  # --tls: the certificate and key every server gets
        if args.tls:
            cert, key = os.path.join(self.data_dir, "cert.pem"), os.path.join(self.data_dir, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                            "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
            self.tls = ["--tls-cert", cert, "--tls-key", key]
            # The Bun reference and the trivial relay speak no TLS: wss:// is
            # medrelay against Node ws over https (tests/bench/wss.sh adds
            # medrelay's QWebSocket transport).
            self.servers = [s for s in self.servers if s != "bun"]
        self.started = time.monotonic()
        self.results = {
            "startedAt": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "mode": ("quick" if args.quick else "full") + (" wss" if args.tls else ""),
            "complete": not args.only and not args.rooms and not args.servers and not args.clinic_seconds,
            "command": args.command_line or " ".join([sys.argv[0]] + sys.argv[1:]),
            "commit": commit(),
            "machine": machine(self.bun),
            "serverBuild": build_type(self.build),
            "note": args.note or "",
            "settings": {"equalLoads": EQUAL_LOADS, "ramp": RAMP, "roomSizes": self.rooms,
                         "p99BoundMs": P99_BOUND_MS, "marginal": list(MARGINAL), "params": self.params},
            "commands": {},
            "scenarios": {},
        }

    # -- servers -------------------------------------------------------------

    def server_cmd(self, name):
        if name == "medrelay":
            # Limits a production deployment keeps are lifted here so the
            # benchmark measures the relay, not the rate limiter.
            return [self.server, "--env", "production", "--insecure-no-auth", "--history", "off",
                    "--admin-token", "benchmark-admin-token-0123456789", "--host", "127.0.0.1",
                    "--port", "0", "--rate-limit", "0", "--max-connections-per-ip", "0",
                    "--max-pending-per-ip", "0", "--max-connections", "100000", "--data-dir", self.data_dir] + self.tls
        if name == "medrelay-history":
            # Chat kept as production keeps it: encrypted in SQLite, in a
            # data directory of its own each run (a database that grew in an
            # earlier run would not be the same load).
            key = os.path.join(self.data_dir, "history.key")
            if not os.path.exists(key):
                with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
                    f.write(os.urandom(32))
            data = tempfile.mkdtemp(prefix="history-", dir=self.data_dir)
            return [self.server, "--env", "production", "--insecure-no-auth", "--history-key-file", key,
                    "--admin-token", "benchmark-admin-token-0123456789", "--host", "127.0.0.1",
                    "--port", "0", "--rate-limit", "0", "--max-connections-per-ip", "0",
                    "--max-pending-per-ip", "0", "--max-connections", "100000", "--data-dir", data] + self.tls
        if name == "node":
            # medrelay listens with a backlog of 4,096; so does the reference.
            return ["node", os.path.join(HERE, "reference", "server.js"), "--host", "127.0.0.1", "--port", "0",
                    "--backlog", "4096"] + self.tls
        if name == "bun":
            return [self.bun, os.path.join(HERE, "reference-bun", "server.js"), "--host", "127.0.0.1", "--port", "0"]
        if name == "trivial":
            return [self.loadgen, "relay", "--host", "127.0.0.1", "--port", "0"]
        raise ValueError(name)

    def loadgen_run(self, tag, server, options, timeout):
        path = os.path.join(self.raw, f"{tag}-{server}.json")
        cmd = ([self.loadgen, "run", "--json", path] + (["--tls"] if self.tls else []) + [str(o) for o in options]
               + ["--"] + self.server_cmd(server))
        self.results["commands"][f"{tag}-{server}"] = " ".join(cmd)
        log(f"\n== {tag} / {LABELS[server]}  ({(time.monotonic() - self.started) / 60:.1f} min into the run)")
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, timeout=timeout, stdout=subprocess.DEVNULL)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = -1
            log(f"   {tag}/{server}: timed out after {timeout} s")
        log(f"   ({time.monotonic() - started:.0f} s, exit {rc})")
        time.sleep(1)  # let sockets in TIME_WAIT and the freed memory settle between runs
        if not os.path.exists(path):
            return {"working": False, "exitCode": rc, "problems": ["no result written"]}
        with open(path) as f:
            data = json.load(f)
        data["exitCode"] = rc
        # Every results file says what produced it.
        data["commit"] = self.results["commit"]
        data["mode"] = self.results["mode"]
        data["suiteCommand"] = self.results["command"]
        data["machine"] = dict(self.results["machine"], **data.get("machine", {}))
        with open(path, "w") as f:
            json.dump(data, f, indent=1)
        return data

    # -- scenarios -----------------------------------------------------------

    def fanout(self):
        p = self.params["fanout"]
        out = {}
        for k in self.rooms:
            out[f"room{k}"] = {}
            for s in self.servers + ([] if self.tls else ["trivial"]):  # the trivial relay has no TLS
                out[f"room{k}"][s] = self.loadgen_run(f"fanout-room{k}", s, [
                    "--scenario", "fanout", "--clients", p["clients"], "--room-size", k, "--workers", 1,
                    "--rates", ",".join(map(str, RAMP)), "--always-to", max(EQUAL_LOADS),
                    "--step-seconds", p["step_seconds"], "--drain-seconds", 5,
                    "--p99-limit-ms", P99_BOUND_MS], timeout=1200)
        return out

    def idle(self):
        p = self.params["idle"]
        out = {}
        for s in self.servers:
            out[s] = self.loadgen_run("idle", s, [
                "--scenario", "idle", "--clients", p["clients"], "--room-size", 2, "--workers", 2,
                "--inflight", 512, "--checkpoints", ",".join(map(str, p["checkpoints"])),
                "--settle-seconds", p["settle"], "--connect-timeout", 30], timeout=900)
        return out

    def storm(self):
        p = self.params["storm"]
        out = {}
        for s in self.servers:
            out[s] = self.loadgen_run("storm", s, [
                "--scenario", "storm", "--clients", p["clients"], "--room-size", 2, "--workers", 2,
                "--inflight", p["inflight"], "--connect-timeout", 30], timeout=300)
        return out

    def clinic(self):
        p = self.params["clinic"]
        out = {}
        for s in self.servers:
            out[s] = self.loadgen_run("clinic", s, [
                "--scenario", "clinic", "--clients", p["rooms"] * 2, "--room-size", 2, "--workers", 1,
                "--inflight", 512, "--duration", p["seconds"], "--chat-interval", p["chat_interval"],
                "--whiteboard-rate", p["whiteboard_rate"], "--ice-burst", p["ice_burst"],
                "--signal-spread", p["spread"], "--drain-seconds", 10, "--payload", 120], timeout=p["seconds"] + 300)
        return out

    def history(self):
        p = self.params["fanout"]
        out = {}
        for k in [r for r in HISTORY_ROOMS if r in self.rooms] if self.args.rooms else HISTORY_ROOMS:
            out[f"room{k}"] = {}
            for s in ["medrelay", "medrelay-history"]:
                out[f"room{k}"][s] = self.loadgen_run(f"history-room{k}", s, [
                    "--scenario", "fanout", "--clients", p["clients"], "--room-size", k, "--workers", 1,
                    "--rates", ",".join(map(str, EQUAL_LOADS)), "--always-to", max(EQUAL_LOADS),
                    "--step-seconds", p["step_seconds"], "--drain-seconds", 5,
                    "--p99-limit-ms", P99_BOUND_MS], timeout=900)
        return out

    def run(self):
        only = self.args.only.split(",") if self.args.only else ALL
        for name in ALL:
            if name in only:
                self.results["scenarios"][name] = getattr(self, name)()
                self.save()  # keep what finished if a later scenario fails
        self.results["finishedAt"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        self.results["minutes"] = round((time.monotonic() - self.started) / 60, 1)
        self.results["machine"]["loadAverageAtEnd"] = read("/proc/loadavg").split()[:3]
        self.save()
        plots(self.results, self.out)
        with open(os.path.join(self.out, "results.md"), "w") as f:
            f.write(document(self.results, readme=False) + "\n")
        print_table(self.results)
        log(f"\nresults: {os.path.join(self.out, 'results.json')}")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.args.update_docs:
            return update_docs(self.results, self.out)
        return 0

    def save(self):
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(self.results, f, indent=1, sort_keys=False)


# -- what was run ---------------------------------------------------------------

def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def commit():
    sha = run_text(["git", "rev-parse", "HEAD"], cwd=ROOT)
    # Generated results and the two documents --update-docs rewrites do not
    # make a tree dirty; anything else does.
    status = run_text(["git", "status", "--porcelain", "--", ".", ":!tests/bench/results", ":!README.md",
                       ":!docs/BENCHMARKS.md"], cwd=ROOT)
    return {"sha": sha, "short": sha[:7], "dirty": bool(status),
            "subject": run_text(["git", "log", "-1", "--format=%s"], cwd=ROOT)}


def machine(bun):
    model = next((line.split(":", 1)[1].strip() for line in read("/proc/cpuinfo").splitlines()
                  if line.startswith("model name")), platform.processor())
    mem = next((line.split()[1] for line in read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), "0")
    return {"cpus": os.cpu_count(), "cpuModel": model, "memoryMiB": int(mem) // 1024,
            "kernel": platform.release(), "node": run_text(["node", "--version"]),
            "bun": run_text([bun, "--version"]) if os.path.exists(bun) else "",
            "fileDescriptorLimit": run_text(["sh", "-c", "ulimit -n"]),
            "loadAverageAtStart": read("/proc/loadavg").split()[:3]}


def build_type(build):
    m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$", read(os.path.join(build, "CMakeCache.txt")), re.M)
    return m.group(1) if m else ""


# -- summary ---------------------------------------------------------------------

def normalise(results):
    """Results written before Bun joined call the Node server 'reference',
    and their ramp stopped at p99 above 50 ms."""
    results.setdefault("settings", {"p99BoundMs": 50, "equalLoads": EQUAL_LOADS, "marginal": list(MARGINAL)})
    def walk(d):
        if isinstance(d, dict):
            if "reference" in d and "node" not in d:
                d["node"] = d.pop("reference")
            for v in d.values():
                walk(v)
    walk(results.get("scenarios", {}))
    return results


def steps_by_rate(run):
    return {round(s["targetDeliveriesPerS"]): s for s in run.get("steps", [])}


def best_step(run):
    steps = [s for s in run.get("steps", []) if s.get("ok")]
    return max(steps, key=lambda s: s["deliveriesPerS"]) if steps else None


class Row:
    """One line of the table: a figure per server, optional text beside it."""

    def __init__(self, scenario, metric, unit="", better="", readme=True):
        self.scenario, self.metric, self.unit, self.better, self.readme = scenario, metric, unit, better, readme
        self.values, self.notes, self.failed = {}, {}, {}

    def set(self, server, value, note="", failed=False):
        self.values[server] = value
        self.notes[server] = note
        self.failed[server] = failed

    def ratio(self, a, b):
        x, y = self.values.get(a), self.values.get(b)
        if x is None or y is None or not y:
            return None
        return x / y

    def as_json(self):
        return {"scenario": self.scenario, "metric": self.metric, "unit": self.unit, "better": self.better,
                "values": self.values, "notes": self.notes, "failed": self.failed,
                "ratioToNode": self.ratio("medrelay", "node"), "ratioToBun": self.ratio("medrelay", "bun")}


def latency_note(lat):
    return f"{fmt(lat['p50'])} / {fmt(lat['p99'])} ms" if lat else ""


def summarise(results):
    sc = results["scenarios"]
    bound = results.get("settings", {}).get("p99BoundMs", P99_BOUND_MS)
    loads = results.get("settings", {}).get("equalLoads", EQUAL_LOADS)
    lo, hi = results.get("settings", {}).get("marginal", MARGINAL)
    rows = []
    everyone = SERVERS + ["trivial"]

    for room, runs in sc.get("fanout", {}).items():
        k = int(room[4:])
        for load in loads:
            r = Row(f"rooms of {k}", f"{load:,} deliveries/s: server CPU per delivery (p50 / p99 latency)", "us",
                    "lower")
            for s in everyone:
                step = steps_by_rate(runs.get(s, {})).get(load)
                if step:
                    r.set(s, step["serverCpuUsPerDelivery"], latency_note(step["latencyMs"]), not step.get("ok"))
            rows.append(r)
        r = Row(f"rooms of {k}", f"highest sustained deliveries/s, p99 <= {fmt(bound)} ms (p50 / p99 at it)", "/s",
                "higher")
        for s in everyone:
            b = best_step(runs.get(s, {}))
            if runs.get(s):
                r.set(s, b["deliveriesPerS"] if b else 0, latency_note(b["latencyMs"]) if b else "no step passed")
        rows.append(r)

    for room, runs in sc.get("history", {}).items():
        k = int(room[4:])
        for load in loads:
            r = Row(f"rooms of {k}, chat stored", f"{load:,} deliveries/s: server CPU per delivery with history on "
                    "(p50 / p99; history off beside)", "us", "lower")
            on = steps_by_rate(runs.get("medrelay-history", {})).get(load)
            off = steps_by_rate(runs.get("medrelay", {})).get(load)
            if on:
                note = latency_note(on["latencyMs"])
                if off:
                    note += f"; off: {fmt(off['serverCpuUsPerDelivery'])} us, {latency_note(off['latencyMs'])}"
                r.set("medrelay", on["serverCpuUsPerDelivery"], note, not on.get("ok"))
            rows.append(r)

    if "idle" in sc:
        idle = sc["idle"]
        base = Row("idle", "baseline resident memory", "MiB", "lower")
        marginal = Row("idle", f"resident memory per connection, {lo:,} to {hi:,} joined", "KiB", "lower")
        at10k = Row("idle", "resident memory per connection at 10,000, baseline included", "KiB", "lower",
                    readme=False)
        joined = Row("idle", f"clients joined (of {FULL['idle']['clients']:,})", "", "higher", readme=False)
        for s, run in idle.items():
            mem = {m["connections"]: m["rssKb"] for m in run.get("memory", [])}
            b = run.get("baselineRssKb")
            base.set(s, b / 1024 if b else None)
            a, z = point(mem, lo), point(mem, hi)
            if a and z and z[0] > a[0]:
                marginal.set(s, (z[1] - a[1]) / (z[0] - a[0]), f"{fmt(a[1] / 1024)} to {fmt(z[1] / 1024)} MiB")
            t = point(mem, 10000)
            if t and b:
                at10k.set(s, (t[1] - b) / t[0])
            joined.set(s, run.get("joined"))
        rows += [base, marginal, at10k, joined]

    if "storm" in sc:
        st = sc["storm"]
        n = FULL["storm"]["clients"]
        hs = Row(f"storm, {n:,} clients", "handshakes/s (listen backlog)", "/s", "higher")
        fails = Row(f"storm, {n:,} clients", "failures (no room_state within 30 s)", "", "lower", readme=False)
        overflows = Row(f"storm, {n:,} clients", "listen queue overflows", "", "lower", readme=False)
        hp99 = Row(f"storm, {n:,} clients", "handshake p99 (p50 / p99)", "ms", "lower", readme=False)
        for s, run in st.items():
            c = run.get("connect", {})
            backlog = run.get("listenBacklog")
            hs.set(s, c.get("handshakesPerS"), f"backlog {backlog:,}" if isinstance(backlog, int) and backlog else "")
            fails.set(s, c.get("failed"))
            overflows.set(s, c.get("listenOverflows"))
            h = c.get("handshakeMs")
            hp99.set(s, h["p99"] if h else None, latency_note(h))
        rows += [hs, fails, overflows, hp99]

    if "clinic" in sc:
        cl = sc["clinic"]
        n = FULL["clinic"]["rooms"]
        lost = Row(f"clinic, {n:,} consultations", "lost deliveries", "", "lower", readme=False)
        lat = Row(f"clinic, {n:,} consultations", "p99 latency (p50 / p99)", "ms", "lower")
        sig = Row(f"clinic, {n:,} consultations", "signalling p99", "ms", "lower", readme=False)
        cpu = Row(f"clinic, {n:,} consultations", "server CPU per delivery", "us", "lower")
        for s, run in cl.items():
            c = run.get("clinic", {})
            lost.set(s, c.get("lost"), f"of {c.get('expected', 0):,}")
            lm = c.get("latencyMs")
            lat.set(s, lm["p99"] if lm else None, latency_note(lm))
            sm = c.get("signallingLatencyMs")
            sig.set(s, sm["p99"] if sm else None)
            cpu.set(s, c.get("serverCpuUsPerDelivery"))
        rows += [lost, lat, sig, cpu]
    return rows


def point(mem, target):
    """The memory checkpoint closest to `target` connections (within 2 %)."""
    best = min(mem, key=lambda c: abs(c - target), default=None)
    if best is None or abs(best - target) > 0.02 * target:
        return None
    return best, mem[best]


# -- tables ------------------------------------------------------------------------

def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def cell(row, s):
    if s not in row.values:
        return "-"
    text = fmt(row.values[s])
    if row.notes.get(s):
        text += f" ({row.notes[s]})"
    if row.failed.get(s):
        text += " †"
    return text


def ratio_text(v):
    return "-" if v is None else f"{v:.2f}×"


def unit_text(row):
    units = {"us": "µs", "/s": "", "": ""}
    return units.get(row.unit, row.unit)


def markdown_table(rows, readme=False):
    out = ["| Scenario | Metric | medrelay | Node ws | Bun | medrelay / Node ws | medrelay / Bun | trivial relay |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if readme and not r.readme:
            continue
        unit = unit_text(r)
        metric = r.metric + (f", {unit}" if unit else "") + (f" ({r.better} is better)" if r.better and not readme
                                                               else "")
        out.append(f"| {r.scenario} | {metric} | {cell(r, 'medrelay')} | {cell(r, 'node')} | {cell(r, 'bun')} "
                   f"| {ratio_text(r.ratio('medrelay', 'node'))} | {ratio_text(r.ratio('medrelay', 'bun'))} "
                   f"| {cell(r, 'trivial')} |")
    return "\n".join(out)


def provenance(results):
    m = results["machine"]
    c = results.get("commit") or {}
    sha = f"`{c.get('short', '?')}`" + (" with uncommitted changes" if c.get("dirty") else "")
    when = results.get("startedAt", "?")[:16].replace("T", " ")
    load = " ".join(m.get("loadAverageAtStart", []))
    bun = f", Bun {m['bun']}" if m.get("bun") else ""
    return (f"{results['mode'].capitalize()} run of commit {sha} on {when} ({results.get('minutes', '?')} minutes), "
            f"{m['cpus']} cores ({m['cpuModel']}), {m.get('memoryMiB', 0) // 1024} GiB, kernel {m.get('kernel', '?')}, "
            f"Node {m.get('node', '?')}{bun}; server built {results.get('serverBuild') or '?'}; "
            f"load average {load} at the start. Command: `{results.get('command', '?')}`. "
            f"Server and load generator share the machine."
            + (f" Note: {results['note']}" if results.get("note") else ""))


def document(results, readme):
    rows = summarise(results)
    bound = results.get("settings", {}).get("p99BoundMs", P99_BOUND_MS)
    parts = [wrap(provenance(results)), "", markdown_table(rows, readme=readme), "",
             wrap(f"Each cell: the figure, and beside it p50 / p99 latency where it applies. † marks a server that did "
             f"not sustain that offered load (loss, p99 above {fmt(bound)} ms, or under 90 % of it delivered). "
             f"Ratios are medrelay's figure over the reference's (below 1 is better where lower is better). The "
             f"trivial relay column is the load generator's own ceiling and the least a relay can spend.")]
    if not readme:
        probs = problems(results)
        if probs:
            parts += ["", "Notes from the run:", ""] + [f"- {p}" for p in probs]
    return "\n".join(parts)


def wrap(text):
    return textwrap.fill(text, width=115, break_long_words=False, break_on_hyphens=False)


def problems(results):
    out = []
    for name, sc in results["scenarios"].items():
        for key, run in flatten_runs(name, sc):
            for p in run.get("problems", []):
                out.append(f"{key}: {p}")
            if run.get("firstError"):
                out.append(f"{key}: first failure: {run['firstError'][:160]}")
            if run.get("firstErrorReply"):
                out.append(f"{key}: first error reply: {run['firstErrorReply'][:200]}")
    return out


def print_table(results):
    rows = summarise(results)
    head = ("scenario", "metric", "medrelay", "Node ws", "Bun", "m/Node", "m/Bun", "trivial")
    lines = [head]
    for r in rows:
        unit = unit_text(r)
        lines.append((r.scenario, r.metric + (f", {unit}" if unit else ""), cell(r, "medrelay"), cell(r, "node"),
                      cell(r, "bun"), ratio_text(r.ratio("medrelay", "node")), ratio_text(r.ratio("medrelay", "bun")),
                      cell(r, "trivial")))
    widths = [max(len(l[i]) for l in lines) for i in range(len(head))]
    print()
    print(provenance(results))
    for n, l in enumerate(lines):
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(l, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    probs = problems(results)
    if probs:
        print("\nnotes:")
        for p in probs:
            print("  " + p)


def flatten_runs(name, sc):
    for k, v in sc.items():
        if isinstance(v, dict) and "scenario" in v:
            yield f"{name}/{k}", v
        elif isinstance(v, dict):
            for k2, v2 in v.items():
                if isinstance(v2, dict) and "scenario" in v2:
                    yield f"{name}/{k}/{k2}", v2


# -- documents ----------------------------------------------------------------------

def update_docs(results, out):
    """Rewrites the generated blocks of README.md and docs/BENCHMARKS.md and
    makes this run results/latest/. Full, complete runs only."""
    if results.get("mode") != "full" or not results.get("complete"):
        log("update-docs: the documents quote full runs of the whole suite only "
            f"(this run: {results.get('mode')}, {'complete' if results.get('complete') else 'partial'})")
        return 2
    if (results.get("commit") or {}).get("dirty"):
        log("update-docs: warning: the run was made with uncommitted changes; the tables say so")
    for path, readme in ((README, True), (BENCHMARKS, False)):
        begin, end = MARKERS[path]
        text = read(path)
        i, j = text.find(begin), text.find(end)
        if i < 0 or j < i:
            log(f"update-docs: {os.path.relpath(path, ROOT)} has no '{begin} ... {end}' block")
            return 2
        i = text.index("-->", i) + 3
        block = document(results, readme=readme)
        with open(path, "w") as f:
            f.write(text[:i] + "\n" + block + "\n" + text[j:])
        log(f"update-docs: rewrote the table in {os.path.relpath(path, ROOT)}")
    latest = os.path.join(HERE, "results", "latest")
    if os.path.abspath(out) != os.path.abspath(latest):
        shutil.rmtree(latest, ignore_errors=True)
        os.makedirs(latest)
        for name in ("results.json", "results.md", "latency-vs-throughput.png", "memory-vs-connections.png",
                     "cpu-at-equal-load.png"):
            if os.path.exists(os.path.join(out, name)):
                shutil.copy(os.path.join(out, name), latest)
        log(f"update-docs: copied the run to {os.path.relpath(latest, ROOT)}")
    return 0


# -- plots ----------------------------------------------------------------------------

COLOURS = {"medrelay": "#1f77b4", "node": "#d62728", "bun": "#ff7f0e", "trivial": "#7f7f7f",
           "medrelay-history": "#2ca02c"}


def plots(results, out):
    if not shutil.which("gnuplot"):
        log("gnuplot not found: no plots")
        return
    sc = results["scenarios"]
    bound = results.get("settings", {}).get("p99BoundMs", P99_BOUND_MS)
    datdir = os.path.join(out, "plotdata")
    os.makedirs(datdir, exist_ok=True)
    if "fanout" in sc:
        rooms = list(sc["fanout"].keys())
        lat = ["set terminal pngcairo size %d,480 font 'sans,10'" % (380 * len(rooms) + 100),
               f"set output '{os.path.join(out, 'latency-vs-throughput.png')}'",
               "set multiplot layout 1,%d title 'Fan-out: p99 latency against delivered messages/s (1,000 clients)'"
               % len(rooms),
               "set logscale y", "set grid", "set xlabel 'deliveries/s (thousands)'", "set ylabel 'p99 latency (ms)'",
               "set key top left", "set yrange [0.05:*]"]
        cpu = ["set terminal pngcairo size %d,480 font 'sans,10'" % (380 * len(rooms) + 100),
               f"set output '{os.path.join(out, 'cpu-at-equal-load.png')}'",
               "set multiplot layout 1,%d title 'Server CPU per delivery at each offered load (1,000 clients)'"
               % len(rooms),
               "set logscale xy", "set grid", "set xlabel 'offered deliveries/s (thousands)'",
               "set ylabel 'server CPU per delivery (us)'", "set key top right"]
        for room in rooms:
            lat_series, cpu_series = [], []
            for s, run in sc["fanout"][room].items():
                steps = run.get("steps", [])
                if not steps:
                    continue
                dat = os.path.join(datdir, f"fanout-{room}-{s}.dat")
                with open(dat, "w") as f:
                    for st in steps:
                        f.write(f"{st['deliveriesPerS'] / 1000:.3f} {max(st['latencyMs']['p99'], 0.05):.3f} "
                                f"{st['targetDeliveriesPerS'] / 1000:.3f} {max(st['serverCpuUsPerDelivery'], 0.01):.3f}\n")
                title = LABELS[s] + (" (generator ceiling)" if s == "trivial" else "")
                lat_series.append(f"'{dat}' using 1:2 with linespoints lw 2 pt 7 lc rgb '{COLOURS[s]}' title '{title}'")
                cpu_series.append(f"'{dat}' using 3:4 with linespoints lw 2 pt 7 lc rgb '{COLOURS[s]}' title '{title}'")
            for script, series in ((lat, lat_series), (cpu, cpu_series)):
                script.append(f"set title 'rooms of {room[4:]}'")
                if script is lat:
                    script.append(f"set arrow 1 from graph 0, first {bound} to graph 1, first {bound} nohead dt 2 "
                                  "lc rgb '#999999'")
                if series:
                    script.append("plot " + ", ".join(series))
        for script in (lat, cpu):
            script.append("unset multiplot")
            gnuplot(script)
    if "idle" in sc:
        series = []
        for s, run in sc["idle"].items():
            mem = run.get("memory", [])
            if not mem:
                continue
            dat = os.path.join(datdir, f"memory-{s}.dat")
            with open(dat, "w") as f:
                for m in mem:
                    f.write(f"{m['connections']} {m['rssKb'] / 1024:.2f}\n")
            series.append(f"'{dat}' using 1:2 with linespoints lw 2 pt 7 lc rgb '{COLOURS[s]}' title '{LABELS[s]}'")
        if series:
            gnuplot(["set terminal pngcairo size 800,500 font 'sans,10'",
                     f"set output '{os.path.join(out, 'memory-vs-connections.png')}'",
                     "set title 'Server resident memory against joined idle connections'", "set grid",
                     "set xlabel 'connections'", "set ylabel 'VmRSS (MiB)'", "set key top left",
                     "set yrange [0:*]", "plot " + ", ".join(series)])


def gnuplot(lines):
    proc = subprocess.run(["gnuplot"], input="\n".join(lines) + "\n", text=True, capture_output=True)
    if proc.returncode != 0:
        log("gnuplot failed: " + proc.stderr.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", help="build directory with server/medrelay-server")
    ap.add_argument("--quick", action="store_true", help="shorter steps and durations, same connection counts")
    ap.add_argument("--only", help="comma-separated scenarios: " + ",".join(ALL))
    ap.add_argument("--rooms", help="fan-out room sizes (default " + ",".join(map(str, ROOM_SIZES)) + ")")
    ap.add_argument("--servers", help="servers to run (default " + ",".join(SERVERS) + ")")
    ap.add_argument("--clinic-seconds", type=float, help="clinic profile duration (default 60, quick 20)")
    ap.add_argument("--out", help="results directory (default results/<timestamp>)")
    ap.add_argument("--command-line", help="the command that started the suite, for the results file")
    ap.add_argument("--note", help="a remark about the run, kept in results.json and shown with the tables")
    ap.add_argument("--tls", action="store_true",
                    help="wss:// and https:// with a self-signed certificate (medrelay and Node ws; not for --update-docs)")
    ap.add_argument("--report", help="print the table and redraw the plots of an existing results.json")
    ap.add_argument("--markdown", action="store_true", help="with --report: print the Markdown tables")
    ap.add_argument("--update-docs", action="store_true",
                    help="after a full run (or with --report of one): rewrite the tables in README.md and "
                         "docs/BENCHMARKS.md and copy the run to results/latest/")
    args = ap.parse_args()
    if args.report:
        with open(args.report) as f:
            results = normalise(json.load(f))
        results.setdefault("machine", {}).setdefault("cpuModel", "?")
        out = os.path.dirname(os.path.abspath(args.report))
        if args.markdown:
            print(document(results, readme=True) + "\n\n" + document(results, readme=False))
        else:
            print_table(results)
        if args.update_docs:
            plots(results, out)
            return update_docs(results, out)
        return 0
    if not args.build:
        ap.error("--build is required (or --report)")
    for option, known in ((args.only, ALL), (args.servers, SERVERS)):
        unknown = [x for x in (option.split(",") if option else []) if x not in known]
        if unknown:
            ap.error(f"unknown {', '.join(unknown)}: choose from {', '.join(known)}")
    if args.update_docs and (args.quick or args.only or args.rooms or args.servers or args.clinic_seconds or args.tls):
        ap.error("--update-docs needs a full run of the whole suite (no --quick, --only, --rooms, --servers, "
                 "--clinic-seconds)")
    return Suite(args).run()


if __name__ == "__main__":
    sys.exit(main())
