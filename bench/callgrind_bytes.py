#!/usr/bin/env python3
"""User-space instructions per relayed byte of each proxy process, counted by callgrind.

Three proxy pairs relay one connection of a fixed size from a sender to a receiver on loopback
(sender -> ingress :10001 -> egress :10002 -> receiver :10003):

  tng-tls    tng mapping ingress -> mapping egress, TLS 1.3 with no_ra, --threads 1
  tng-plain  the same with --bench-plain-tunnel (no TLS: the bare relay)
  socat      socat TCP-LISTEN -> TCP on both sides (one connection, no fork)

Each proxy runs under `valgrind --tool=callgrind`; its counters are zeroed once both listen, so
the figure covers the connection alone (accept, dial, TLS handshake, transfer, close) and not
start-up. Every pair runs at two sizes, so the table also gives the marginal cost per byte
(the difference between the two runs over the difference in bytes), which leaves the fixed
per-connection cost out. Sender and receiver are this script's own sockets (not under valgrind).

Callgrind counts user-space instructions only: bytes the kernel moves (splice, TCP, socket
copies) cost nothing here, which is the point of comparing a splicing relay with copying ones,
but it is not CPU time. Not a test; as root it runs in a private network namespace:

  python3 bench/callgrind_bytes.py [--sizes 16,64] [--systems tng-tls,tng-plain,socat]
                                   [--tng-bin build/tng] [--json FILE]

Python 3 stdlib only (plus valgrind and socat); reuses bench/macro/procs.py for the namespace.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench" / "macro"))
from procs import BenchError, enter_private_netns, listening_count, wait_until  # noqa: E402

P_IN, P_MID, P_OUT = 10001, 10002, 10003
CHUNK = 1 << 20
SYSTEMS = ("tng-tls", "tng-plain", "socat")


def proxy_argvs(system, tng_bin):
    """(ingress argv, egress argv) of a pair relaying P_IN -> P_MID -> P_OUT."""
    if system.startswith("tng"):
        def mapping(kind, src, dst):
            return {kind: [{"mapping": {"in": {"host": "127.0.0.1", "port": src},
                                        "out": {"host": "127.0.0.1", "port": dst}},
                            "no_ra": True}]}

        def argv(cfg):
            return [tng_bin, "launch", "--config-content", json.dumps(cfg), "--threads", "1",
                    "--drain-timeout", "1"] + (["--bench-plain-tunnel"]
                                               if system == "tng-plain" else [])
        return (argv(mapping("add_ingress", P_IN, P_MID)),
                argv(mapping("add_egress", P_MID, P_OUT)))
    if system == "socat":
        def argv(src, dst):
            return ["socat", f"TCP-LISTEN:{src},bind=127.0.0.1,reuseaddr",
                    f"TCP:127.0.0.1:{dst}"]
        return argv(P_IN, P_MID), argv(P_MID, P_OUT)
    raise BenchError(f"unknown system {system}")


class Receiver(threading.Thread):
    """Accepts one connection on P_OUT and counts the bytes until EOF."""

    def __init__(self, timeout):
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", P_OUT))
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.received = 0
        self.error = None

    def run(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(self.timeout)
                buf = bytearray(CHUNK)
                while n := conn.recv_into(buf):
                    self.received += n
        except OSError as e:
            self.error = e
        finally:
            self.sock.close()


def send(size, timeout):
    """Sends `size` bytes to P_IN, half-closes, and waits for the tunnel to close back."""
    data = memoryview(b"\x5a" * CHUNK)
    with socket.create_connection(("127.0.0.1", P_IN), timeout=timeout) as s:
        left = size
        while left > 0:
            n = min(left, CHUNK)
            s.sendall(data[:n])
            left -= n
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass


def callgrind_control(flag, pid):
    r = subprocess.run(["callgrind_control", flag, str(pid)], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0 or "OK" not in r.stdout:
        raise BenchError(f"callgrind_control {flag} {pid} failed: {r.stdout}{r.stderr}".strip())


def instructions(workdir, name, pid):
    """Ir summed over every dump callgrind wrote for `pid` (the final one and `--dump` parts)."""
    total = 0
    for f in workdir.glob(f"{name}.{pid}*"):
        m = re.search(r"^totals:\s+(\d+)", f.read_text(errors="replace"), re.M)
        total += int(m.group(1)) if m else 0
    return total


def stop(proc, seconds=3):
    # tng under valgrind may not act on SIGTERM; its counters were dumped already.
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_once(system, size, args, workdir):
    """Ir of (ingress, egress) for one connection of `size` bytes."""
    tag = f"{system}-{size}"
    receiver = Receiver(args.timeout)
    receiver.start()
    procs = {}
    env = dict(os.environ, TNG_LOG="warn")
    try:
        ingress_argv, egress_argv = proxy_argvs(system, args.tng_bin)
        for role, argv, port in (("egress", egress_argv, P_MID), ("ingress", ingress_argv, P_IN)):
            name = f"{tag}-{role}"
            log = open(workdir / f"{name}.log", "w")
            procs[role] = (name, subprocess.Popen(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/{name}.%p"]
                + argv,
                stdout=log, stderr=subprocess.STDOUT, env=env))
            proc = procs[role][1]

            def listening(port=port, proc=proc, name=name):
                if proc.poll() is not None:
                    raise BenchError(f"{name} exited with {proc.returncode}: see "
                                     f"{workdir / (name + '.log')}")
                return listening_count(port) > 0
            wait_until(listening, 120, f"{name} to listen on {port}")
        for name, proc in procs.values():
            callgrind_control("-z", proc.pid)
        send(size, args.timeout)
        receiver.join(args.timeout)
        if receiver.error or receiver.received != size:
            raise BenchError(f"{tag}: received {receiver.received} of {size} bytes"
                             + (f" ({receiver.error})" if receiver.error else ""))
        result = {}
        for role, (name, proc) in procs.items():
            if proc.poll() is None:
                # socat exits by itself once the connection is done: give it that chance, so
                # its final dump covers the close; tng keeps listening and is dumped.
                try:
                    proc.wait(5 if system == "socat" else 0.5)
                except subprocess.TimeoutExpired:
                    callgrind_control("-d", proc.pid)
            stop(proc)
            result[role] = instructions(workdir, name, proc.pid)
        return result
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="16,64",
                    help="two transfer sizes in MiB, comma-separated (default 16,64)")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--tng-bin", default=str(ROOT / "build" / "tng"))
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds a transfer may take under valgrind")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--keep", action="store_true", help="keep the callgrind dumps and logs")
    args = ap.parse_args()
    sizes = [int(float(s) * (1 << 20)) for s in args.sizes.split(",")]
    if len(sizes) != 2 or sizes[0] >= sizes[1]:
        ap.error("--sizes wants two sizes, smaller first")
    systems = [s for s in args.systems.split(",") if s]
    if os.geteuid() == 0:
        enter_private_netns()
    else:
        print("not root: using the host's loopback (ports 10001-10003 must be free)",
              file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="callgrind-bytes-"))
    results = {}
    for system in systems:
        runs = []
        for size in sizes:
            print(f"[callgrind_bytes] {system}: {size >> 20} MiB", file=sys.stderr, flush=True)
            t0 = time.monotonic()
            ir = run_once(system, size, args, workdir)
            runs.append({"bytes": size, "ir": ir, "seconds": round(time.monotonic() - t0, 1)})
        small, big = runs
        marginal = {role: (big["ir"][role] - small["ir"][role]) / (big["bytes"] - small["bytes"])
                    for role in big["ir"]}
        results[system] = {"runs": runs, "marginal_ir_per_byte": marginal}

    print("| system | MiB | ingress Ir/B | egress Ir/B | total Ir/B |")
    print("|---|---|---|---|---|")
    for system, r in results.items():
        for run in r["runs"]:
            ir, b = run["ir"], run["bytes"]
            print(f"| {system} | {b >> 20} | {ir['ingress'] / b:.3f} | {ir['egress'] / b:.3f} | "
                  f"{(ir['ingress'] + ir['egress']) / b:.3f} |")
        m = r["marginal_ir_per_byte"]
        print(f"| {system} | marginal | {m['ingress']:.3f} | {m['egress']:.3f} | "
              f"{m['ingress'] + m['egress']:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sizes_bytes": sizes, "systems": results,
                       "load": os.getloadavg()}, f, indent=2)
    if args.keep:
        print(f"dumps and logs in {workdir}", file=sys.stderr)
    else:
        for f in workdir.iterdir():
            f.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        sys.exit(f"callgrind_bytes: {e}")
