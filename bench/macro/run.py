#!/usr/bin/env python3
"""Side-by-side macro benchmark: tng against stunnel, HAProxy, nginx and socat tunnel pairs.

Every system runs as a pair (plain in -> TLS 1.3 -> plain out, same P-256 certificate, same
TLS_AES_128_GCM_SHA256), in one run, so only ratios measured together are compared; once on
loopback and once in TNG's benchmark topology, a client and a server network namespace joined by
veth (tng there as netfilter ingress and egress, the peers as port mappings; see topology.py). Figures: iperf3 throughput (1 and 8 streams) and CPU seconds per GB of the pair, the
same for plain TCP relays, small HTTP requests through the pair with wrk, and memory per idle
tunneled connection. Prints one markdown table and optionally writes JSON.

  python3 bench/macro/run.py [--quick] [--json out.json] [--systems tng,stunnel,...]
                             [--pinned | --unpinned] [--figures tls,plain,http,rss]
                             [--topology loopback|veth|both]

Pinned: load generators and backends on CPU 0, both processes of the pair on CPU 1, one worker
each. Unpinned: no affinity, two workers each. Exit status 0 when every applicable figure was
measured and every TLS pair negotiated TLS 1.3 with TLS_AES_128_GCM_SHA256; 1 otherwise; 2 on
usage or environment errors. Python 3 stdlib only; see bench/RESULTS.md for a full run.
"""

import argparse
import contextlib
import datetime
import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # keep the source tree clean when run from it

import loads  # noqa: E402  (after the bytecode switch)
import report
import systems as sysmod
import tlscheck
import topology
from procs import BenchError, Supervisor, enter_private_netns, busy_ports, wait_until

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="1 round, ~2 s per figure, small connection counts (a smoke run)")
    p.add_argument("--json", metavar="FILE", help="write all results and metadata as JSON")
    p.add_argument("--markdown", metavar="FILE",
                   help="write the command, machine, table and notes as markdown")
    p.add_argument("--systems", default="tng,stunnel,haproxy,nginx,socat,direct",
                   help="comma-separated, from: " + ",".join(sysmod.ALL))
    p.add_argument("--figures", default=",".join(report.GROUPS),
                   help="comma-separated figure groups, from: " + ",".join(report.GROUPS))
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--pinned", action="store_true", help="only the pinned one-worker run")
    mode.add_argument("--unpinned", action="store_true", help="only the unpinned run")
    p.add_argument("--rounds", type=int, help="rounds per figure, median reported (3; quick: 1)")
    p.add_argument("--seconds", type=int, help="seconds per iperf3/wrk run (10; quick: 2)")
    p.add_argument("--idle-counts", help="idle connection counts (1000,10000; quick: 100,500)")
    p.add_argument("--wrk-connections", type=int, default=32, help="wrk connections (32)")
    p.add_argument("--unpinned-workers", type=int, default=2, help="workers per proxy unpinned")
    p.add_argument("--load-cpu", type=int, default=0, help="CPU for load and backends (0)")
    p.add_argument("--sut-cpu", type=int, default=1, help="CPU for the pair when pinned (1)")
    p.add_argument("--group", default="X25519",
                   help="key-exchange group for the peers (X25519: what tng negotiates)")
    p.add_argument("--ports", default="10001,20001,30001", help="IN,MID,OUT ports")
    p.add_argument("--tng-bin", help="tng binary (default: $TNG_BIN, then build*/tng)")
    p.add_argument("--netns", choices=("auto", "yes", "no"), default="auto",
                   help="run in a private network namespace (auto: when root)")
    p.add_argument("--topology", choices=("loopback", "veth", "both"), default="both",
                   help="loopback, the two-namespace veth topology (root), or both (default)")
    p.add_argument("--keep", action="store_true", help="keep the work dir (configs, logs)")
    args = p.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.seconds = args.seconds or (2 if args.quick else 10)
    counts = args.idle_counts or ("100,500" if args.quick else "1000,10000")
    args.idle_counts = [int(c) for c in counts.split(",")]
    args.system_names = [s.strip() for s in args.systems.split(",") if s.strip()]
    bad = [s for s in args.system_names if s not in sysmod.ALL]
    if bad:
        p.error(f"unknown system(s) {bad}; known: {', '.join(sysmod.ALL)}")
    args.groups = [g.strip() for g in args.figures.split(",") if g.strip()]
    bad = [g for g in args.groups if g not in report.GROUPS]
    if bad:
        p.error(f"unknown figure group(s) {bad}; known: {', '.join(report.GROUPS)}")
    args.modes = ["pinned"] if args.pinned else ["unpinned"] if args.unpinned else \
        ["pinned", "unpinned"]
    args.topologies = ["loopback", "veth"] if args.topology == "both" else [args.topology]
    args.port_list = tuple(int(x) for x in args.ports.split(","))
    if len(args.port_list) != 3:
        p.error("--ports needs three ports: IN,MID,OUT")
    return args


def find_tng(args):
    cands = [args.tng_bin, os.environ.get("TNG_BIN")]
    for d in sorted(REPO.glob("build*")):
        cands += [str(d / "tng"), str(d / "endpoints" / "tng")]
    for c in cands:
        if c and os.access(c, os.X_OK):
            return str(Path(c).resolve())
    return None


def applies(system, group):
    """None when the system takes part in the figure group, else why not."""
    if group == "tls":
        return None if system.tls else "no TLS mode"
    if group == "plain":
        return None if (system.plain or system.direct) else (system.plain_note or "no plain mode")
    if group == "http":
        return None if (system.tls or system.direct) else "no TLS mode"
    if group == "rss":
        return None if system.tls else "no tunnel to hold connections"
    raise ValueError(group)


def make_tls_material(workdir, group):
    cert, key, combined = workdir / "cert.pem", workdir / "key.pem", workdir / "combined.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-subj", "/CN=tng-bench", "-days", "2"], capture_output=True)
    if r.returncode != 0:
        raise BenchError(f"openssl req failed: {r.stderr.decode(errors='replace')}")
    combined.write_bytes(cert.read_bytes() + key.read_bytes())
    conf = workdir / "openssl.cnf"
    conf.write_text(
        "openssl_conf = bench_conf\n[bench_conf]\nssl_conf = bench_ssl\n"
        "[bench_ssl]\nsystem_default = bench_tls\n[bench_tls]\nMinProtocol = TLSv1.3\n"
        f"Ciphersuites = {sysmod.CIPHERSUITE}\nGroups = {group}\n")
    return cert, key, combined, conf


def machine_info(tng_bin):
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break

    def first_line(argv, index=0):
        try:
            r = subprocess.run(argv, capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        lines = (r.stdout + r.stderr).decode(errors="replace").strip().splitlines()
        return lines[index].strip() if len(lines) > index else None

    versions = {
        "tng": first_line([tng_bin, "--version"]) if tng_bin else None,
        "stunnel": first_line(["stunnel4", "-version"], 1),
        "haproxy": first_line(["haproxy", "-v"]),
        "nginx": first_line(["nginx", "-v"]),
        "socat": first_line(["socat", "-V"], 1),
        "iperf3": first_line(["iperf3", "--version"]),
        "wrk": first_line(["wrk", "--version"]),
        "openssl": first_line(["openssl", "version"]),
    }
    return {"nproc": os.cpu_count(), "cpu_model": model, "kernel": os.uname().release,
            "versions": versions}


def mem_available_kib():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


def load_average():
    """The machine's 1-minute load: benchmark figures from a busy shared machine are noisy."""
    return round(os.getloadavg()[0], 2)


class Bench:
    def __init__(self, args, sv, ctx, topologies):
        self.args, self.sv, self.ctx = args, sv, ctx
        self.topologies = topologies
        self.modes = [t.mode(m) for t in topologies for m in args.modes]
        self.systems = [sysmod.ALL[n] for n in args.system_names]
        self.figs = [f for f in report.figures(args.idle_counts) if f.group in args.groups]
        self.results = {}
        self.tls_check = {}

    @contextlib.contextmanager
    def running(self, system, tls, backend_start, load_cpus, sut_cpus, workers):
        """A backend and (unless direct) the pair, stopped again whatever happens."""
        started = []
        try:
            ports = [self.ctx.p_in, self.ctx.p_mid, self.ctx.p_out]
            topo = self.ctx.topo
            wait_until(lambda: not busy_ports(ports, topo.client_net)
                       and not busy_ports(ports, topo.server_net),
                       10, "the benchmark ports to be free")
            if backend_start:
                started.append(backend_start(self.sv, self.ctx, load_cpus))
            pair = [] if system.direct else system.start(self.sv, self.ctx, tls, workers,
                                                         sut_cpus)
            started.extend(pair)
            yield pair
        finally:
            for p in reversed(started):
                self.sv.stop(p)

    def check_wire(self):
        ctx = self.ctx
        for system in self.systems:
            uses_tls = any(g in self.args.groups for g in ("tls", "http", "rss"))
            if not system.tls or not uses_tls:
                continue
            name = system.name if not ctx.topo.veth else f"{system.name} ({ctx.topo.name})"
            try:
                with self.running(system, True, loads.start_idle_backend, None, None, 1) as pair:
                    summary = tlscheck.capture_handshake(self.sv, ctx, pair,
                                                         system.load_target(ctx),
                                                         system.wire_port(ctx))
            except BenchError as e:
                summary = {"error": str(e)}
            self.tls_check[name] = summary
            log(f"wire check {name}: {summary}")

    def wire_problems(self):
        out = []
        for name, s in self.tls_check.items():
            if "error" in s:
                out.append(f"{name}: wire check failed: {s['error']}")
            elif s["version"] != "TLSv1.3" or s["cipher"] != sysmod.CIPHERSUITE:
                out.append(f"{name}: negotiated {s['version']} {s['cipher']}, expected TLSv1.3 "
                           f"{sysmod.CIPHERSUITE}")
        return out

    def measure(self, system, group, load_cpus, sut_cpus, workers):
        """Runs one figure group; returns (values, skipped, errors), each keyed by figure.

        A failed load run costs only its own figures: the next one still runs on the same pair
        (a pair that died fails the next run too, with its exit status in the message).
        """
        a, ctx = self.args, self.ctx
        target = system.load_target(ctx)
        keys = [f.key for f in self.figs if f.group == group]
        got, skipped, errors = {}, {}, {}

        def attempt(fig_keys, fn):
            try:
                fn()
            except BenchError as e:
                for k in fig_keys:
                    errors[k] = str(e)

        if group in ("tls", "plain"):
            with self.running(system, group == "tls", loads.start_iperf_server, load_cpus,
                              sut_cpus, workers) as pair:
                for streams in (1, 8):
                    def one(streams=streams, pair=pair):
                        r = loads.iperf(self.sv, ctx, target, streams, a.seconds, load_cpus,
                                        pair)
                        got[f"{group}_p{streams}_gbps"] = r["gbps"]
                        if "cpu_s_per_gb" in r:
                            got[f"{group}_p{streams}_cpu"] = r["cpu_s_per_gb"]
                    attempt([f"{group}_p{streams}_gbps", f"{group}_p{streams}_cpu"], one)
        elif group == "http":
            with self.running(system, True, loads.start_http_backend, load_cpus, sut_cpus,
                              workers) as pair:
                for name, close in (("ka", False), ("close", True)):
                    figs = [f"http_{name}_{x}" for x in ("rps", "p50", "p99", "p999")]

                    def one(name=name, close=close, pair=pair):
                        r = loads.wrk(self.sv, ctx, target, a.wrk_connections, a.seconds,
                                      close, load_cpus, pair)
                        got[f"http_{name}_rps"] = r["rps"]
                        for p in ("p50", "p99", "p999"):
                            got[f"http_{name}_{p}"] = r[f"{p}_ms"]
                    attempt(figs, one)
        elif group == "rss":
            with self.running(system, True, loads.start_idle_backend, load_cpus, sut_cpus,
                              workers) as pair:
                pss_per_conn = None
                for i, count in enumerate(a.idle_counts):
                    # A process per connection (socat) costs megabytes each: do not take a
                    # shared machine's memory down; say so in the table instead.
                    if pss_per_conn is not None:
                        need_mib = pss_per_conn * count / 1024
                        avail_mib = mem_available_kib() / 1024
                        if need_mib > 0.5 * avail_mib:
                            skipped[f"rss_{i}"] = (f"would need ~{need_mib / 1024:.1f} GiB "
                                                   f"(half of available memory is "
                                                   f"{avail_mib / 2048:.1f} GiB)")
                            continue
                    try:
                        r = loads.idle_rss(self.sv, ctx, target, count, load_cpus, pair)
                    except BenchError as e:
                        errors[f"rss_{i}"] = str(e)
                        continue
                    got[f"rss_{i}"] = r["kib_per_conn"]
                    pss_per_conn = max(r["pss_kib_per_conn"], 0.0)

        def only(d):
            return {k: v for k, v in d.items() if k in keys}
        return only(got), only(skipped), only(errors)

    def run(self):
        a = self.args
        for topo in self.topologies:
            self.ctx.topo = topo
            self.check_wire()
            for pinning in a.modes:
                if pinning == "pinned":
                    cpus = ({a.load_cpu}, {a.sut_cpu}, 1)
                else:
                    cpus = (None, None, a.unpinned_workers)
                mode = topo.mode(pinning)
                for rnd in range(a.rounds):
                    for system in self.systems:
                        for group in a.groups:
                            self.run_group(mode, f"round {rnd + 1}/{a.rounds}", system, group,
                                           cpus)

    def run_group(self, mode, round_tag, system, group, cpus):
        """One figure group for one system in one round; records values, errors and n/a."""
        load_cpus, sut_cpus, workers = cpus
        keys = [f.key for f in self.figs if f.group == group]
        why = applies(system, group)
        if why:
            for k in keys:
                report.record_na(self.results, mode, k, system.name, why)
            return
        if system.direct:
            for k in keys:
                if k.endswith("_cpu"):  # no pair whose CPU could be charged
                    report.record_na(self.results, mode, k, system.name, "no proxy")
        tag = f"[{mode} {round_tag}] {system.name} {group}"
        try:
            got, skipped, errors = self.measure(system, group, load_cpus, sut_cpus, workers)
        except BenchError as e:  # the backend or the pair did not start
            got, skipped, errors = {}, {}, {k: str(e) for k in keys}
        for k, msg in errors.items():
            cell = self.results.get(mode, {}).get(k, {}).get(system.name)
            if not (cell and "na" in cell):
                report.record_error(self.results, mode, k, system.name, msg)
        for msg in dict.fromkeys(errors.values()):
            log(f"{tag}: FAILED: {msg}")
        for k, v in got.items():
            report.record(self.results, mode, k, system.name, v)
        for k, reason in skipped.items():
            report.record_na(self.results, mode, k, system.name, reason)
            log(f"{tag}: {k} not measured: {reason}")
        if got:
            log(f"{tag}: " + ", ".join(f"{k}={v:.4g}" for k, v in got.items()))

    def expected(self, fig):
        return [s.name for s in self.systems if applies(s, fig.group) is None]

    def rows_for(self, fig, mode):
        return bool(self.expected(fig))


def finish(args, bench, tng_bin, started, load_at_start, nofile):
    """Prints the table and notes; writes --json and --markdown. Returns (problems, holes)."""
    problems = bench.wire_problems()
    holes = report.missing(bench.results, bench.modes, bench.figs, bench.expected)
    table = report.table(bench.results, bench.modes, bench.figs, args.system_names,
                         sysmod.PEERS_TLS, bench.rows_for)
    load_at_end = load_average()
    notes = [f"load average (1 min) at start {load_at_start}, at end {load_at_end}; "
             f"{os.cpu_count()} CPUs"]
    for name, s in bench.tls_check.items():
        if "error" not in s:
            notes.append(f"wire check {name}: {s['version']} {s['cipher']} group {s['group']}"
                         f"{' (after HelloRetryRequest)' if s['hello_retry'] else ''}")
    for name, reason in report.na_notes(bench.results, args.system_names):
        if name != "direct":  # the ceiling has no pair, no TLS and no CPU to charge
            notes.append(f"not measured (–): {name}: {reason}")
    notes += [f"PROBLEM: {p}" for p in problems]
    grouped = {}
    for mode, key, system, why in holes:
        grouped.setdefault((mode, system, why), []).append(key)
    notes += [f"MISSING [{mode}] {system}: {', '.join(keys)}: {why}"
              for (mode, system, why), keys in grouped.items()]
    print(table)
    print()
    print("\n".join(f"- {n}" for n in notes))
    finished = datetime.datetime.now(datetime.timezone.utc)
    command = shlex.join(["python3", os.path.relpath(__file__, REPO)] + sys.argv[1:])
    if tng_bin and not args.tng_bin and os.environ.get("TNG_BIN"):
        shown = os.path.relpath(tng_bin, REPO) if tng_bin.startswith(str(REPO)) else tng_bin
        command = f"TNG_BIN={shlex.quote(shown)} {command}"
    machine = machine_info(tng_bin)
    if args.json:
        doc = {
            "command": command,
            "date": started.isoformat(timespec="seconds"),
            "duration_s": round((finished - started).total_seconds(), 1),
            "machine": machine,
            "load_average_1min": {"start": load_at_start, "end": load_at_end},
            "settings": {"quick": args.quick, "rounds": args.rounds, "seconds": args.seconds,
                         "idle_counts": args.idle_counts, "wrk_connections": args.wrk_connections,
                         "modes": bench.modes, "unpinned_workers": args.unpinned_workers,
                         "topologies": args.topologies,
                         "load_cpu": args.load_cpu, "sut_cpu": args.sut_cpu,
                         "group": args.group, "nofile": nofile,
                         "ciphersuite": sysmod.CIPHERSUITE},
            "systems": args.system_names,
            "figures": [{"key": f.key, "group": f.group, "label": f.label, "unit": f.unit,
                         "better": f.better} for f in bench.figs],
            "tls_check": bench.tls_check,
            "results": bench.results,
            "problems": problems,
            "missing": [{"mode": m, "figure": k, "system": s, "why": w}
                        for m, k, s, w in holes],
            "table": table,
            "notes": notes,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        log(f"wrote {args.json}")
    if args.markdown:
        versions = ", ".join(f"{k}: {v}" for k, v in machine["versions"].items() if v)
        text = (
            f"Command (from the repository root):\n\n    {command}\n\n"
            f"- date: {started.strftime('%Y-%m-%d %H:%M UTC')} "
            f"({(finished - started).total_seconds() / 60:.0f} min)\n"
            f"- machine: {machine['nproc']} CPUs, {machine['cpu_model']}, "
            f"kernel {machine['kernel']}\n"
            f"- settings: {args.rounds} round(s), median shown; {args.seconds} s per iperf3/wrk "
            f"run; wrk {args.wrk_connections} connections; idle counts "
            f"{', '.join(map(str, args.idle_counts))}; pinned = load on CPU {args.load_cpu}, "
            f"pair on CPU {args.sut_cpu}, 1 worker; unpinned = {args.unpinned_workers} workers; "
            f"topologies: {', '.join(args.topologies)} (veth: client {topology.CLIENT_IP} and "
            f"server {topology.SERVER_IP} namespaces, tng as netfilter ingress and egress)\n"
            f"- versions: {versions}\n\n{table}\n\n"
            + "\n".join(f"- {n}" for n in notes) + "\n")
        Path(args.markdown).write_text(text)
        log(f"wrote {args.markdown}")
    return problems, holes


def main(argv):
    args = parse_args(argv)
    tng_bin = find_tng(args)
    if "tng" in args.system_names and not tng_bin:
        log("tng binary not found: set TNG_BIN, pass --tng-bin, or build it "
            "(ninja -C build tng)")
        return 2
    tools = {"openssl", "tcpdump", "iperf3", "wrk", "nginx", "ip"}
    for n in args.system_names:
        tools.update(sysmod.ALL[n].tools())
    missing_tools = sorted(t for t in tools if not shutil.which(t))
    if missing_tools:
        log(f"missing tools: {', '.join(missing_tools)} (scripts/setup installs them)")
        return 2
    if any(n == "nginx" for n in args.system_names) and \
            not Path(sysmod.NGINX_STREAM_MODULE).exists():
        log(f"nginx stream module missing ({sysmod.NGINX_STREAM_MODULE}): "
            "install libnginx-mod-stream")
        return 2
    if "pinned" in args.modes:
        allowed = os.sched_getaffinity(0)
        if args.load_cpu not in allowed or args.sut_cpu not in allowed or \
                args.load_cpu == args.sut_cpu:
            log(f"pinned mode needs two distinct usable CPUs (load {args.load_cpu}, "
                f"pair {args.sut_cpu}; usable: {sorted(allowed)}); use --unpinned")
            return 2

    if "veth" in args.topologies and os.geteuid() != 0:
        log("the veth topology creates network namespaces and needs root; "
            "use --topology loopback")
        return 2
    if args.netns == "yes" or (args.netns == "auto" and os.geteuid() == 0):
        enter_private_netns()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Each proxy holds two sockets per tunneled connection and one process may not exceed the
    # hard NOFILE limit; larger idle counts are reduced to what fits and the table says so.
    cap = (hard - 200) // 2
    if any(c > cap for c in args.idle_counts):
        log(f"idle connection counts capped at {cap} (NOFILE hard limit {hard})")
        args.idle_counts = [min(c, cap) for c in args.idle_counts]

    busy = busy_ports(args.port_list)
    if busy:
        log(f"ports already in use: {busy}; pass --ports or stop what listens there")
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="tng-bench-"))
    sv = Supervisor(workdir)

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    ok = False
    started = datetime.datetime.now(datetime.timezone.utc)
    load_at_start = load_average()
    topologies = []
    try:
        cert, key, combined, conf = make_tls_material(workdir, args.group)
        ctx = sysmod.Ctx(workdir, args.port_list, cert, key, combined, conf, args.group,
                         tng_bin, hard)
        for name in args.topologies:
            topologies.append(topology.Loopback() if name == "loopback" else
                              topology.Veth().open())
        bench = Bench(args, sv, ctx, topologies)
        log(f"work dir {workdir}; systems {args.system_names}; figures {args.groups}; "
            f"modes {bench.modes}; {args.rounds} round(s) of {args.seconds}s")
        bench.run()
        problems, holes = finish(args, bench, tng_bin, started, load_at_start, hard)
        ok = not problems and not holes
        return 0 if ok else 1
    except BenchError as e:
        log(f"FAILED: {e}")
        return 1
    finally:
        sv.stop_all()
        for t in topologies:
            t.close()
        still = busy_ports(args.port_list)
        if still:
            log(f"warning: ports still listening after cleanup: {still}")
        if args.keep or not ok:
            log(f"work dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
