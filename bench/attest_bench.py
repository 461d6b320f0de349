#!/usr/bin/env python3
"""What attestation costs: attested handshakes per second and the first-byte latency it adds.

One run, one machine, side by side (only the ratios mean anything):

  haproxy         a HAProxy pair, plain TLS 1.3 (bench/macro's configuration), the baseline
  tng no_ra       a tng pair with TNG's fixed certificate: TLS 1.3, nothing attested
  tng attested    ingress verifies, egress attests, reference AA and AS (tools/); evidence and
                  verification cached (refresh_interval 600: one AS call, then cache hits)
  tng uncached    the same with attest.refresh_interval 0: fresh evidence in every handshake, so
                  every handshake misses the verifier's cache and goes to the AS

Figures: connections per second through each pair with a new TLS handshake per request (wrk,
`Connection: close`, against nginx serving 1 KiB; each connection is one handshake ingress ->
egress), and the time from connect() to the first response byte for sequential single
connections (p50/p99), printed as a table with ratios to haproxy and to tng no_ra.

  sudo python3 bench/attest_bench.py [--seconds 10] [--connections 16] [--samples 300]
       [--tng-bin build/tng] [--aa build/tools/...] [--as build/tools/...] [--json out.json]

Runs in a private network namespace (root needed); Python 3 stdlib, wrk, nginx, haproxy.
Not a test: nothing is asserted beyond every figure having been measured (exit 1 otherwise).
"""

import argparse
import json
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE / "macro"))
sys.dont_write_bytecode = True

import loads  # noqa: E402
import run as macro  # noqa: E402  (make_tls_material, find_tng)
import systems as sysmod  # noqa: E402
from procs import BenchError, Supervisor, enter_private_netns, wait_listening, wait_until  # noqa: E402

P_IN, P_MID, P_OUT, P_AS = 41001, 41002, 41003, 41004


def log(msg):
    print(f"[attest-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def find_tool(given, rel):
    for c in (given, *(str(d / rel) for d in sorted(REPO.glob("build*")))):
        if c and os.access(c, os.X_OK):
            return str(Path(c).resolve())
    raise BenchError(f"{rel} not found: build it (ninja -C build {rel}) or pass its path")


class TngAttested(sysmod.System):
    """A tng pair with attest/verify; `refresh` is the egress's attest.refresh_interval."""
    tls = True

    def __init__(self, name, aa_socket, refresh, no_ra=False):
        self.name = name
        self.aa_socket = aa_socket
        self.refresh = refresh
        self.no_ra = no_ra

    def start(self, sv, ctx, tls, workers, cpus):
        if self.no_ra:
            ing_ra, eg_ra = {"no_ra": True}, {"no_ra": True}
        else:
            ing_ra = {"verify": {"as_addr": f"http://127.0.0.1:{P_AS}", "policy_ids": ["default"]}}
            eg_ra = {"attest": {"aa_addr": f"unix://{self.aa_socket}",
                                "refresh_interval": self.refresh}}
        client = {"add_ingress": [{"mapping": {"in": {"host": "127.0.0.1", "port": ctx.p_in},
                                               "out": {"host": "127.0.0.1", "port": ctx.p_mid}},
                                   **ing_ra}]}
        server = {"add_egress": [{"mapping": {"in": {"host": "127.0.0.1", "port": ctx.p_mid},
                                              "out": {"host": "127.0.0.1", "port": ctx.p_out}},
                                  **eg_ra}]}

        def argv(cfg):
            return [ctx.tng_bin, "launch", "--config-content", json.dumps(cfg), "--threads",
                    str(workers), "--drain-timeout", "1"]
        env = {"TNG_LOG": "warn"}
        server_p = sv.start(f"{self.name}-server", argv(server), cpus, env)
        client_p = sv.start(f"{self.name}-client", argv(client), cpus, env)
        wait_listening(ctx.p_mid, 15, f"{self.name} egress", (server_p,))
        wait_listening(ctx.p_in, 15, f"{self.name} ingress", (server_p, client_p))
        return [server_p, client_p]


def first_byte_ms(port, timeout=10.0):
    """connect() to the first response byte of one GET, in ms (a new tunnel each time)."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET /{loads.HTTP_FILE} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"
                  .encode())
        if not s.recv(1):
            raise BenchError(f"connection via :{port} closed before any response byte")
        t1 = time.perf_counter()
        while s.recv(65536):
            pass
    return (t1 - t0) * 1e3


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


def measure(sv, ctx, system, args, cpus):
    pair = system.start(sv, ctx, True, args.workers, cpus)
    try:
        # Warm-up: the first connection of an attested pair fetches evidence and a verdict.
        wait_until(lambda: _try_first_byte(P_IN), 60, f"{system.name}: a first connection")
        lat = [first_byte_ms(P_IN) for _ in range(args.samples)]
        r = loads.wrk(sv, P_IN, args.connections, args.seconds, True, cpus, pair)
        return {"cps": r["rps"], "fb_p50_ms": statistics.median(lat), "fb_p99_ms": pct(lat, 99),
                "samples": len(lat), "wrk_socket_errors": r["socket_errors"]}
    finally:
        for p in reversed(pair):
            sv.stop(p)


def _try_first_byte(port):
    try:
        first_byte_ms(port, timeout=20)
        return True
    except (OSError, BenchError):
        return False


def table(results):
    base_h = results.get("haproxy", {})
    base_t = results.get("tng no_ra", {})

    def ratio(a, b):
        return f"{a / b:.2f}x" if a and b else "-"
    rows = ["| pair | handshakes/s | vs haproxy | first byte p50 ms | p99 ms | p50 vs haproxy "
            "| p50 added vs tng no_ra |", "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        if "error" in r:
            rows.append(f"| {name} | n/a: {r['error'][:80]} | | | | | |")
            continue
        added = (f"{r['fb_p50_ms'] - base_t['fb_p50_ms']:+.2f} ms"
                 if "fb_p50_ms" in base_t else "-")
        rows.append(f"| {name} | {r['cps']:.0f} | {ratio(r['cps'], base_h.get('cps'))} | "
                    f"{r['fb_p50_ms']:.2f} | {r['fb_p99_ms']:.2f} | "
                    f"{ratio(r['fb_p50_ms'], base_h.get('fb_p50_ms'))} | {added} |")
    return "\n".join(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=10, help="wrk duration per pair")
    p.add_argument("--connections", type=int, default=16, help="wrk concurrent connections")
    p.add_argument("--samples", type=int, default=300, help="sequential first-byte samples")
    p.add_argument("--workers", type=int, default=1, help="threads per gateway process")
    p.add_argument("--tng-bin")
    p.add_argument("--aa", help="tng-reference-aa (default: build*/tools/reference_aa/...)")
    p.add_argument("--as", dest="as_bin", help="tng-reference-as")
    p.add_argument("--json", help="write the results as JSON")
    p.add_argument("--group", default="X25519")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("attest_bench: needs root (private network namespace)", file=sys.stderr)
        return 2
    try:
        args.tng_bin = macro.find_tng(args)
        if not args.tng_bin:
            raise BenchError("tng binary not found: set TNG_BIN or pass --tng-bin")
        aa_bin = find_tool(args.aa, "tools/reference_aa/tng-reference-aa")
        as_bin = find_tool(args.as_bin, "tools/reference_as/tng-reference-as")
    except BenchError as e:
        print(f"attest_bench: {e}", file=sys.stderr)
        return 2
    enter_private_netns()
    workdir = Path(tempfile.mkdtemp(prefix="tng-attest-bench-"))
    sv = Supervisor(workdir)
    results = {}
    try:
        cert, key, combined, conf = macro.make_tls_material(workdir, args.group)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        ctx = sysmod.Ctx(workdir, (P_IN, P_MID, P_OUT), cert, key, combined, conf, args.group,
                         args.tng_bin, min(hard, 65536))
        cpus = None
        loads.start_http_backend(sv, ctx, cpus)
        aa_socket = workdir / "aa.sock"
        aa = sv.start("reference-aa", [aa_bin, "--socket", aa_socket])
        as_ = sv.start("reference-as", [as_bin, "--listen", f"127.0.0.1:{P_AS}"])
        wait_until(lambda: aa_socket.exists(), 10, "tng-reference-aa socket")
        wait_listening(P_AS, 10, "tng-reference-as", (as_,))
        systems = [sysmod.Haproxy(), TngAttested("tng no_ra", aa_socket, 0, no_ra=True),
                   TngAttested("tng attested", aa_socket, 600),
                   TngAttested("tng uncached", aa_socket, 0)]
        for system in systems:
            log(f"measuring {system.name}")
            try:
                results[system.name] = measure(sv, ctx, system, args, cpus)
                log(f"{system.name}: {results[system.name]}")
            except BenchError as e:
                results[system.name] = {"error": str(e).splitlines()[0]}
                log(f"{system.name}: failed: {e}")
        for p_ in (aa, as_):
            if not p_.alive():
                log(f"warning: {p_.describe_exit()}")
    finally:
        sv.stop_all()
    print(f"\nattested handshakes and first-byte latency (wrk -c{args.connections} "
          f"{args.seconds}s Connection: close; {args.samples} sequential first-byte samples; "
          f"{args.workers} thread(s) per gateway)\n")
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
