#!/usr/bin/env python3
"""The medrelay benchmark suite: every scenario against medrelay and the Node
reference (and, for fan-out, the load generator's trivial relay, to show the
generator's own ceiling) in one run, on one machine, reported side by side.

Started by tests/bench/run.sh, which builds what it needs first. Writes
results/<timestamp>/results.json, the raw per-run JSON, gnuplot PNGs, and a
table on the terminal. Standard library only.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Deliveries per second tried in turn by the fan-out ramp; it stops at the
# first step whose p99 passes the limit, that loses messages, or that the
# server cannot keep up with.
RAMP = [5000, 10000, 20000, 40000, 60000, 80000, 100000, 140000, 200000, 280000, 400000, 560000, 800000]

FULL = {
    "idle": dict(clients=19000, checkpoints=[1000, 2500, 5000, 7500, 10000, 12500, 15000, 17500], settle=2),
    "fanout": dict(clients=1000, room_sizes=[2, 10, 50], step_seconds=8, ramp=RAMP),
    "latency": dict(clients=1000, room_size=2, rate=20000, seconds=20),
    "storm": dict(clients=10000, inflight=1000),
    "clinic": dict(rooms=2000, seconds=60, chat_interval=10, whiteboard_rate=2, ice_burst=20, spread=10),
}
QUICK = {
    "idle": dict(clients=19000, checkpoints=[5000, 10000], settle=1),
    "fanout": dict(clients=1000, room_sizes=[2, 10, 50], step_seconds=3, ramp=RAMP),
    "latency": dict(clients=1000, room_size=2, rate=20000, seconds=8),
    "storm": dict(clients=10000, inflight=1000),
    "clinic": dict(rooms=2000, seconds=20, chat_interval=10, whiteboard_rate=2, ice_burst=20, spread=10),
}
ALL = ["idle", "fanout", "latency", "storm", "clinic"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Suite:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.loadgen = os.path.join(self.build, "tests", "bench", "medrelay-loadgen")
        self.server = os.path.join(self.build, "server", "medrelay-server")
        self.params = QUICK if args.quick else FULL
        if args.clinic_seconds:
            self.params["clinic"]["seconds"] = args.clinic_seconds
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.out = os.path.abspath(args.out or os.path.join(HERE, "results", stamp))
        self.raw = os.path.join(self.out, "raw")
        os.makedirs(self.raw, exist_ok=True)
        self.data_dir = tempfile.mkdtemp(prefix="medrelay-bench-data-")
        self.tls = []  # --tls: certificate and key every server gets
        if args.tls:
            cert, key = os.path.join(self.data_dir, "cert.pem"), os.path.join(self.data_dir, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                            "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
            self.tls = ["--tls-cert", cert, "--tls-key", key]
        self.results = {
            "startedAt": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "mode": ("quick" if args.quick else "full") + (" wss" if args.tls else ""),
            "machine": machine(),
            "commands": {},
            "scenarios": {},
        }

    # -- servers -------------------------------------------------------------

    def server_cmd(self, name):
        if name == "medrelay-qt":  # --tls only: wss:// through QWebSocket, for comparison
            return self.server_cmd("medrelay") + ["--transport", "qt"]
        if name == "medrelay":
            # Limits a production deployment keeps are lifted here so the
            # benchmark measures the relay, not the rate limiter.
            return [self.server, "--env", "production", "--insecure-no-auth",
                    "--admin-token", "benchmark-admin-token-0123456789", "--host", "127.0.0.1",
                    "--port", "0", "--rate-limit", "0", "--max-connections-per-ip", "0",
                    "--max-connections", "100000", "--data-dir", self.data_dir] + self.tls
        if name == "reference":
            return ["node", os.path.join(HERE, "reference", "server.js"), "--host", "127.0.0.1", "--port", "0"] + self.tls
        if name == "trivial":
            return [self.loadgen, "relay", "--host", "127.0.0.1", "--port", "0"]
        raise ValueError(name)

    def loadgen_run(self, tag, server, options, timeout):
        path = os.path.join(self.raw, f"{tag}-{server}.json")
        cmd = ([self.loadgen, "run", "--json", path] + (["--tls"] if self.tls else []) + [str(o) for o in options]
               + ["--"] + self.server_cmd(server))
        self.results["commands"][f"{tag}-{server}"] = " ".join(cmd)
        log(f"\n== {tag} / {server}")
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
        return data

    # -- scenarios -----------------------------------------------------------

    def idle(self, servers):
        p = self.params["idle"]
        out = {}
        for s in servers:
            out[s] = self.loadgen_run("idle", s, [
                "--scenario", "idle", "--clients", p["clients"], "--room-size", 2, "--workers", 2,
                "--inflight", 512, "--checkpoints", ",".join(map(str, p["checkpoints"])),
                "--settle-seconds", p["settle"], "--connect-timeout", 30], timeout=600)
            mem = out[s].get("memory", [])
            base = out[s].get("baselineRssKb", 0)
            at10k = next((m for m in mem if m["connections"] >= 10000), None)
            out[s]["bytesPerConnectionAt10k"] = (at10k["rssKb"] - base) * 1024 / at10k["connections"] if at10k else None
        return out

    def fanout(self, servers):
        p = self.params["fanout"]
        out = {}
        for k in p["room_sizes"]:
            out[f"room{k}"] = {}
            for s in servers + ([] if self.tls else ["trivial"]):  # the trivial relay has no TLS
                out[f"room{k}"][s] = self.loadgen_run(f"fanout-room{k}", s, [
                    "--scenario", "fanout", "--clients", p["clients"], "--room-size", k, "--workers", 1,
                    "--rates", ",".join(map(str, p["ramp"])), "--step-seconds", p["step_seconds"],
                    "--drain-seconds", 5, "--p99-limit-ms", 50], timeout=900)
        return out

    def latency(self, servers):
        p = self.params["latency"]
        out = {}
        for s in servers:
            out[s] = self.loadgen_run("latency", s, [
                "--scenario", "latency", "--clients", p["clients"], "--room-size", p["room_size"], "--workers", 1,
                "--rates", p["rate"], "--step-seconds", p["seconds"], "--drain-seconds", 5,
                "--p99-limit-ms", 1e9], timeout=300)
        return out

    def storm(self, servers):
        p = self.params["storm"]
        out = {}
        for s in servers:
            out[s] = self.loadgen_run("storm", s, [
                "--scenario", "storm", "--clients", p["clients"], "--room-size", 2, "--workers", 2,
                "--inflight", p["inflight"], "--connect-timeout", 30], timeout=300)
        return out

    def clinic(self, servers):
        p = self.params["clinic"]
        out = {}
        for s in servers:
            out[s] = self.loadgen_run("clinic", s, [
                "--scenario", "clinic", "--clients", p["rooms"] * 2, "--room-size", 2, "--workers", 1,
                "--inflight", 512, "--duration", p["seconds"], "--chat-interval", p["chat_interval"],
                "--whiteboard-rate", p["whiteboard_rate"], "--ice-burst", p["ice_burst"],
                "--signal-spread", p["spread"], "--drain-seconds", 10, "--payload", 120], timeout=p["seconds"] + 300)
        return out

    def run(self):
        servers = ["medrelay", "reference"] + (["medrelay-qt"] if self.tls else [])
        only = self.args.only.split(",") if self.args.only else ALL
        for name in ALL:
            if name in only:
                self.results["scenarios"][name] = getattr(self, name)(servers)
                self.save()  # keep what finished if a later scenario fails
        self.results["finishedAt"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        self.results["summary"] = summarise(self.results["scenarios"])
        self.save()
        plots(self.results, self.out)
        print_table(self.results["summary"], self.results)
        log(f"\nresults: {os.path.join(self.out, 'results.json')}")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return 0

    def save(self):
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(self.results, f, indent=1, sort_keys=False)


# -- reporting ---------------------------------------------------------------

def machine():
    def read(path):
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return ""
    model = next((line.split(":", 1)[1].strip() for line in read("/proc/cpuinfo").splitlines()
                  if line.startswith("model name")), platform.processor())
    mem = next((line.split()[1] for line in read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), "0")
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {"cpus": os.cpu_count(), "cpuModel": model, "memoryMiB": int(mem) // 1024,
            "kernel": platform.release(), "node": node, "loadAverageAtStart": read("/proc/loadavg").split()[:3]}


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def best_step(run):
    steps = [s for s in run.get("steps", []) if s.get("ok")]
    return max(steps, key=lambda s: s["deliveriesPerS"]) if steps else None


def summarise(sc):
    """The headline figure per scenario and server, and medrelay / reference."""
    rows = []

    def add(scenario, metric, unit, better, m, r, t=None):
        rows.append({"scenario": scenario, "metric": metric, "unit": unit, "better": better,
                     "medrelay": m, "reference": r, "trivial": t, "ratio": ratio(m, r)})

    if "idle" in sc:
        i = sc["idle"]
        g = lambda s, k: i.get(s, {}).get(k)
        add("idle", "baseline RSS", "MiB", "lower", kb_mib(g("medrelay", "baselineRssKb")),
            kb_mib(g("reference", "baselineRssKb")))
        add("idle", "RSS per connection at 10,000", "KiB", "lower", b_kib(g("medrelay", "bytesPerConnectionAt10k")),
            b_kib(g("reference", "bytesPerConnectionAt10k")))
        add("idle", "clients joined (target 19,000)", "", "higher", g("medrelay", "joined"), g("reference", "joined"))
        add("idle", "RSS per connection at max", "KiB", "lower", b_kib(g("medrelay", "bytesPerConnection")),
            b_kib(g("reference", "bytesPerConnection")))
        add("idle", "RSS at max", "MiB", "lower", kb_mib(g("medrelay", "rssKb")), kb_mib(g("reference", "rssKb")))
    if "fanout" in sc:
        for room, runs in sc["fanout"].items():
            b = {s: best_step(runs.get(s, {})) for s in ("medrelay", "reference", "trivial")}
            v = lambda s, k: b[s][k] if b[s] else None
            add(f"fanout {room}", "sustained deliveries/s (p99 <= 50 ms)", "/s", "higher",
                v("medrelay", "deliveriesPerS"), v("reference", "deliveriesPerS"), v("trivial", "deliveriesPerS"))
            add(f"fanout {room}", "server CPU per delivery at that rate", "us", "lower",
                v("medrelay", "serverCpuUsPerDelivery"), v("reference", "serverCpuUsPerDelivery"),
                v("trivial", "serverCpuUsPerDelivery"))
            lat = lambda s, k: b[s]["latencyMs"][k] if b[s] else None
            add(f"fanout {room}", "p99 at that rate", "ms", "lower", lat("medrelay", "p99"), lat("reference", "p99"),
                lat("trivial", "p99"))
    if "latency" in sc:
        L = sc["latency"]
        step = lambda s: (L.get(s, {}).get("steps") or [None])[0]
        for k in ("p50", "p99", "max"):
            add("latency @ 20,000 deliveries/s", k, "ms", "lower",
                step("medrelay")["latencyMs"][k] if step("medrelay") else None,
                step("reference")["latencyMs"][k] if step("reference") else None)
        add("latency @ 20,000 deliveries/s", "server CPU per delivery", "us", "lower",
            step("medrelay")["serverCpuUsPerDelivery"] if step("medrelay") else None,
            step("reference")["serverCpuUsPerDelivery"] if step("reference") else None)
        add("latency @ 20,000 deliveries/s", "lost", "", "lower",
            step("medrelay")["lost"] if step("medrelay") else None,
            step("reference")["lost"] if step("reference") else None)
    if "storm" in sc:
        S = sc["storm"]
        c = lambda s, k: S.get(s, {}).get("connect", {}).get(k)
        add("storm 10,000", "handshakes/s", "/s", "higher", c("medrelay", "handshakesPerS"),
            c("reference", "handshakesPerS"))
        add("storm 10,000", "joins/s", "/s", "higher", c("medrelay", "joinsPerS"), c("reference", "joinsPerS"))
        add("storm 10,000", "failures", "", "lower", c("medrelay", "failed"), c("reference", "failed"))
        add("storm 10,000", "listen queue overflows", "", "lower", c("medrelay", "listenOverflows"),
            c("reference", "listenOverflows"))
        hs = lambda s: S.get(s, {}).get("connect", {}).get("handshakeMs", {}).get("p99")
        add("storm 10,000", "handshake p99", "ms", "lower", hs("medrelay"), hs("reference"))
    if "clinic" in sc:
        C = sc["clinic"]
        c = lambda s, k: C.get(s, {}).get("clinic", {}).get(k)
        add("clinic 2,000 rooms", "lost deliveries", "", "lower", c("medrelay", "lost"), c("reference", "lost"))
        add("clinic 2,000 rooms", "deliveries", "", "", c("medrelay", "delivered"), c("reference", "delivered"))
        for k in ("p50", "p99", "max"):
            lm = c("medrelay", "latencyMs")
            lr = c("reference", "latencyMs")
            add("clinic 2,000 rooms", k, "ms", "lower", lm[k] if lm else None, lr[k] if lr else None)
        sm = c("medrelay", "signallingLatencyMs")
        sr = c("reference", "signallingLatencyMs")
        add("clinic 2,000 rooms", "signalling p99", "ms", "lower", sm["p99"] if sm else None, sr["p99"] if sr else None)
        add("clinic 2,000 rooms", "server CPU per delivery", "us", "lower", c("medrelay", "serverCpuUsPerDelivery"),
            c("reference", "serverCpuUsPerDelivery"))
    return rows


def kb_mib(v):
    return v / 1024 if v is not None else None


def b_kib(v):
    return v / 1024 if v is not None else None


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def print_table(rows, results):
    head = ("scenario", "metric", "medrelay", "reference", "ratio m/r", "trivial")
    lines = [head]
    for r in rows:
        unit = f" ({r['unit']})" if r["unit"] else ""
        better = f" [{r['better']} is better]" if r["better"] else ""
        lines.append((r["scenario"], r["metric"] + unit + better, fmt(r["medrelay"]), fmt(r["reference"]),
                      fmt(r["ratio"]) + ("x" if r["ratio"] is not None else ""), fmt(r["trivial"])))
    widths = [max(len(l[i]) for l in lines) for i in range(len(head))]
    print()
    print(f"medrelay benchmark ({results['mode']}), {results['machine']['cpus']} CPUs, "
          f"{results['machine']['cpuModel']}, node {results['machine']['node']}")
    for n, l in enumerate(lines):
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(l, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    problems = []
    for name, sc in results["scenarios"].items():
        for key, run in flatten_runs(name, sc):
            for p in run.get("problems", []):
                problems.append(f"{key}: {p}")
            if run.get("firstError"):
                problems.append(f"{key}: first failure: {run['firstError'][:160]}")
            if run.get("firstErrorReply"):
                problems.append(f"{key}: first error reply: {run['firstErrorReply'][:200]}")
    if problems:
        print("\nnotes:")
        for p in problems:
            print("  " + p)


def markdown_table(rows):
    out = ["| Scenario | Metric | medrelay | Node reference | medrelay / reference | trivial relay |",
           "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        unit = f" ({r['unit']})" if r["unit"] else ""
        better = f", {r['better']} is better" if r["better"] else ""
        ratio_text = fmt(r["ratio"]) + "x" if r["ratio"] is not None else "-"
        out.append(f"| {r['scenario']} | {r['metric']}{unit}{better} | {fmt(r['medrelay'])} | {fmt(r['reference'])} "
                   f"| {ratio_text} | {fmt(r['trivial'])} |")
    return "\n".join(out)


def flatten_runs(name, sc):
    for k, v in sc.items():
        if isinstance(v, dict) and "scenario" in v:
            yield f"{name}/{k}", v
        elif isinstance(v, dict):
            for k2, v2 in v.items():
                if isinstance(v2, dict) and "scenario" in v2:
                    yield f"{name}/{k}/{k2}", v2


def plots(results, out):
    if not shutil.which("gnuplot"):
        log("gnuplot not found: no plots")
        return
    sc = results["scenarios"]
    colours = {"medrelay": "#1f77b4", "reference": "#d62728", "trivial": "#7f7f7f"}
    labels = {"medrelay": "medrelay", "reference": "Node ws reference", "trivial": "trivial relay (load-generator ceiling)"}
    datdir = os.path.join(out, "plotdata")
    os.makedirs(datdir, exist_ok=True)
    if "fanout" in sc:
        rooms = list(sc["fanout"].keys())
        script = ["set terminal pngcairo size 1500,480 font 'sans,10'",
                  f"set output '{os.path.join(out, 'latency-vs-throughput.png')}'",
                  "set multiplot layout 1,%d title 'Fan-out: p99 latency vs delivered messages/s (1,000 clients)'" % len(rooms),
                  "set logscale y", "set grid", "set xlabel 'deliveries/s (thousands)'", "set ylabel 'p99 latency (ms)'",
                  "set key top left", "set yrange [0.1:*]"]
        for room in rooms:
            series = []
            for s, run in sc["fanout"][room].items():
                steps = run.get("steps", [])
                if not steps:
                    continue
                dat = os.path.join(datdir, f"fanout-{room}-{s}.dat")
                with open(dat, "w") as f:
                    for st in steps:
                        f.write(f"{st['deliveriesPerS'] / 1000:.3f} {max(st['latencyMs']['p99'], 0.1):.3f} "
                                f"{max(st['latencyMs']['p50'], 0.1):.3f}\n")
                series.append(f"'{dat}' using 1:2 with linespoints lw 2 pt 7 lc rgb '{colours[s]}' title '{labels[s]}'")
            script.append(f"set title 'rooms of {room[4:]}'")
            script.append("set arrow 1 from graph 0, first 50 to graph 1, first 50 nohead dt 2 lc rgb '#999999'")
            if series:
                script.append("plot " + ", ".join(series))
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
            series.append(f"'{dat}' using 1:2 with linespoints lw 2 pt 7 lc rgb '{colours[s]}' title '{labels[s]}'")
        if series:
            gnuplot(["set terminal pngcairo size 800,500 font 'sans,10'",
                     f"set output '{os.path.join(out, 'memory-vs-connections.png')}'",
                     "set title 'Server resident memory vs joined idle connections'", "set grid",
                     "set xlabel 'connections'", "set ylabel 'VmRSS (MiB)'", "set key top left",
                     "set yrange [0:*]", "plot " + ", ".join(series)])


def gnuplot(lines):
    proc = subprocess.run(["gnuplot"], input="\n".join(lines) + "\n", text=True, capture_output=True)
    if proc.returncode != 0:
        log("gnuplot failed: " + proc.stderr.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="build directory with server/medrelay-server")
    ap.add_argument("--quick", action="store_true", help="shorter steps and durations, same connection counts")
    ap.add_argument("--only", help="comma-separated scenarios: " + ",".join(ALL))
    ap.add_argument("--clinic-seconds", type=float, help="clinic profile duration (default 60, quick 20)")
    ap.add_argument("--out", help="results directory (default results/<timestamp>)")
    ap.add_argument("--tls", action="store_true",
                    help="wss:// and https:// with a self-signed certificate; adds medrelay --transport qt")
    ap.add_argument("--report", help="only print the table and redraw plots for an existing results.json")
    ap.add_argument("--markdown", action="store_true", help="with --report: print the summary as a Markdown table")
    args = ap.parse_args()
    if args.report:
        with open(args.report) as f:
            results = json.load(f)
        results["summary"] = summarise(results["scenarios"])
        if args.markdown:
            print(markdown_table(results["summary"]))
            return 0
        plots(results, os.path.dirname(os.path.abspath(args.report)))
        print_table(results["summary"], results)
        return 0
    return Suite(args).run()


if __name__ == "__main__":
    sys.exit(main())
