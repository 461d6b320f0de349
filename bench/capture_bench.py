#!/usr/bin/env python3
"""Connection-setup cost of the capturing ingresses, side by side in one run.

Each mode sends tiny HTTP requests over fresh connections through one ingress kind to the same
mapping egress (no_ra) in front of the same backend, on loopback in a private network namespace:

  direct      the client straight to the backend (the load generator's own ceiling)
  mapping     mapping ingress 127.0.0.1:10001 -> egress 127.0.0.1:20001
  http_proxy  http_proxy ingress 127.0.0.1:41000, CONNECT 127.0.0.1:20001 (dst_filter port 20001)
  socks5      socks5 ingress 127.0.0.1:1080, CONNECT 127.0.0.1:20001 (dst_filter port 20001)
  netfilter   the client in a second namespace ("client host", joined by veth) connects to
              10.201.0.1:20002 as if no gateway existed; a netfilter ingress there (TPROXY rules
              in that namespace only) captures it and tunnels it to a mapping egress on
              0.0.0.0:20002 in the first one. The only mode that crosses a veth.

Figures per mode: connections per second (closed-loop, --concurrency clients, each opening a new
connection per request, for --duration seconds) and p50 / p99 connect latency: the time from
connect() to the first byte of the backend's response, proxy negotiation included. The table
gives each against mapping. Not a test: nothing is asserted; run it by hand as root:

  python3 bench/capture_bench.py --tng build/tng [--duration 5] [--concurrency 16]

Python 3 stdlib only; reuses bench/macro/procs.py for process supervision and the namespace.
The load generator is Python: compare the ratios, and see the `direct` row for its ceiling.
"""

import argparse
import asyncio
import ctypes
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent / "macro"))
from procs import BenchError, Supervisor, enter_private_netns, wait_listening  # noqa: E402

BACKEND_PORT = 30001
EGRESS_PORT = 20001
MAPPING_PORT = 10001
HTTP_PROXY_PORT = 41000
SOCKS5_PORT = 1080
CAPTURED_PORT = 20002  # the netfilter mode's destination port: captured, and a mapping egress
SERVER_IP, CLIENT_IP = "10.201.0.1", "10.201.0.2"
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"

# The backend: answers every connection with a tiny response and closes it. A separate process,
# so that its CPU is not the load generator's.
BACKEND = r"""
import asyncio, sys
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
async def serve(reader, writer):
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(RESPONSE)
        await writer.drain()
    except Exception:
        pass
    writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


def gateway_config():
    filters = [{"port": EGRESS_PORT}]
    return {
        "add_ingress": [
            {"mapping": {"in": {"host": "127.0.0.1", "port": MAPPING_PORT},
                         "out": {"host": "127.0.0.1", "port": EGRESS_PORT}}, "no_ra": True},
            {"http_proxy": {"proxy_listen": {"host": "127.0.0.1", "port": HTTP_PROXY_PORT},
                            "dst_filters": filters}, "no_ra": True},
            {"socks5": {"proxy_listen": {"host": "127.0.0.1", "port": SOCKS5_PORT},
                        "dst_filters": filters}, "no_ra": True},
        ],
    }


def egress_config():
    return {"add_egress": [
        {"mapping": {"in": {"host": "127.0.0.1", "port": EGRESS_PORT},
                     "out": {"host": "127.0.0.1", "port": BACKEND_PORT}}, "no_ra": True},
        {"mapping": {"in": {"host": SERVER_IP, "port": CAPTURED_PORT},
                     "out": {"host": "127.0.0.1", "port": BACKEND_PORT}}, "no_ra": True},
    ]}


def netfilter_ingress_config():
    return {"add_ingress": [{"netfilter": {"capture_dst": {"port": CAPTURED_PORT}},
                             "no_ra": True}]}


# ---- One connection per mode: negotiate, send the request, time the first response byte ----

async def read_http_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise BenchError(f"proxy answered {head[:60]!r}")


async def via_plain(port):
    return await asyncio.open_connection("127.0.0.1", port)


async def via_http_connect(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"CONNECT 127.0.0.1:{EGRESS_PORT} HTTP/1.1\r\n"
                 f"Host: 127.0.0.1:{EGRESS_PORT}\r\n\r\n".encode())
    await read_http_head(reader)
    return reader, writer


async def via_socks5(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\x05\x01\x00" + b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") +
                 struct.pack(">H", EGRESS_PORT))
    method = await reader.readexactly(2)
    reply = await reader.readexactly(10)
    if method != b"\x05\x00" or reply[1] != 0:
        raise BenchError(f"socks5 refused: {method!r} {reply!r}")
    return reader, writer


async def via_captured():
    return await asyncio.open_connection(SERVER_IP, CAPTURED_PORT)


# ---- NETFILTER: the client host. The capture rules must never reach the machine's own tables,
# and TPROXY takes only destinations that are not local, so the netfilter ingress gets a
# namespace of its own, joined to the bench namespace by veth; its load generator runs on a
# thread that entered that namespace (setns is per thread), so its sockets live there.

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000


class ClientHost:
    """A named network namespace joined to the current one by veth (SERVER_IP here)."""

    def __init__(self):
        self.name = f"tngbench-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        try:
            ns = ["ip", "-n", self.name]
            subprocess.run(["ip", "link", "add", "bsrv", "type", "veth", "peer", "name", "bcli",
                            "netns", self.name], check=True)
            subprocess.run(["ip", "addr", "add", f"{SERVER_IP}/24", "dev", "bsrv"], check=True)
            subprocess.run(["ip", "link", "set", "bsrv", "up"], check=True)
            subprocess.run(ns + ["addr", "add", f"{CLIENT_IP}/24", "dev", "bcli"], check=True)
            subprocess.run(ns + ["link", "set", "bcli", "up"], check=True)
            subprocess.run(ns + ["link", "set", "lo", "up"], check=True)
        except Exception:
            self.delete()
            raise

    def argv(self, argv):
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, fn):
        """fn() on a thread inside the namespace; returns its result (or raises its error)."""
        out = {}

        def body():
            try:
                fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
                try:
                    if _libc.setns(fd, _CLONE_NEWNET) != 0:
                        raise BenchError(f"setns: {os.strerror(ctypes.get_errno())}")
                finally:
                    os.close(fd)
                out["value"] = fn()
            except BaseException as e:  # handed to the caller
                out["error"] = e
        t = threading.Thread(target=body)
        t.start()
        t.join()
        if "error" in out:
            raise out["error"]
        return out["value"]

    def delete(self):
        subprocess.run(["ip", "netns", "delete", self.name], check=False)


def wait_captured(host, seconds, procs):
    """Waits until one connection goes through the capture (rules installed, ingress serving)."""
    end = time.monotonic() + seconds
    last = ""
    while time.monotonic() < end:
        for p in procs:
            if not p.alive():
                raise BenchError(p.describe_exit())
        try:
            host.run(lambda: asyncio.run(asyncio.wait_for(one(via_captured), 2)))
            return
        except (OSError, BenchError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
            last = repr(e)
        time.sleep(0.05)
    raise BenchError(f"no connection through the netfilter capture within {seconds}s: {last}")


# [name, opener, runs in the client host namespace]
MODES = [
    ("direct", lambda: via_plain(BACKEND_PORT), False),
    ("mapping", lambda: via_plain(MAPPING_PORT), False),
    ("http_proxy", lambda: via_http_connect(HTTP_PROXY_PORT), False),
    ("socks5", lambda: via_socks5(SOCKS5_PORT), False),
    ("netfilter", via_captured, True),
]


async def one(opener):
    start = time.perf_counter()
    reader, writer = await opener()
    try:
        writer.write(REQUEST)
        first = await reader.read(1)
        if not first:
            raise BenchError("connection closed before any response byte")
        latency = time.perf_counter() - start
        while await reader.read(65536):
            pass
    finally:
        writer.close()
    return latency


async def run_mode(opener, duration, concurrency):
    latencies, errors = [], []
    end = time.perf_counter() + duration

    async def worker():
        while time.perf_counter() < end:
            try:
                latencies.append(await asyncio.wait_for(one(opener), 10))
            except (OSError, BenchError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                errors.append(repr(e))
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tng", default=os.environ.get("TNG_BIN", "build/tng"))
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per mode")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="reactors per tng process")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)
    tng = Path(args.tng).resolve()
    if not os.access(tng, os.X_OK):
        print(f"no tng binary at {tng}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("needs root (a private network namespace)", file=sys.stderr)
        return 2
    enter_private_netns()
    workdir = Path(tempfile.mkdtemp(prefix="tng-capture-bench-"))
    sup = Supervisor(workdir)
    rows = []
    host = None
    try:
        host = ClientHost()
        backend = sup.start("backend", [sys.executable, "-c", BACKEND, str(BACKEND_PORT)])
        wait_listening(BACKEND_PORT, 15, "backend", [backend])
        configs = {"egress": egress_config(), "ingress": gateway_config()}
        procs = []
        for name, cfg in configs.items():
            p = sup.start(f"tng-{name}", [tng, "launch", "--config-content", json.dumps(cfg),
                                          "--threads", str(args.threads)],
                          env={"TNG_LOG": "warn"})
            procs.append(p)
        procs.append(sup.start("tng-netfilter-ingress", host.argv(
            [tng, "launch", "--config-content", json.dumps(netfilter_ingress_config()),
             "--threads", str(args.threads)]), env={"TNG_LOG": "warn"}))
        for port in (EGRESS_PORT, MAPPING_PORT, HTTP_PROXY_PORT, SOCKS5_PORT, CAPTURED_PORT):
            wait_listening(port, 20, "tng", procs)
        wait_captured(host, 20, procs)
        for name, opener, in_client_host in MODES:
            def measure(duration, opener=opener):
                return asyncio.run(run_mode(opener, duration, args.concurrency))
            run = (lambda f: host.run(f)) if in_client_host else (lambda f: f())
            run(lambda: measure(min(1.0, args.duration)))  # warm-up
            lat, errors, took = run(lambda: measure(args.duration))
            rows.append({"mode": name, "cps": len(lat) / took, "p50_ms": percentile(lat, 50) * 1e3,
                         "p99_ms": percentile(lat, 99) * 1e3, "errors": len(errors),
                         "first_error": errors[0] if errors else ""})
            print(f"  {name}: {len(lat)} connections in {took:.1f}s, {len(errors)} errors",
                  file=sys.stderr)
    except BenchError as e:
        print(f"benchmark failed: {e}", file=sys.stderr)
        return 1
    finally:
        sup.stop_all()
        if host:
            host.delete()

    base = next(r for r in rows if r["mode"] == "mapping")
    print(f"\nconcurrency {args.concurrency}, {args.duration:g} s per mode, tng --threads "
          f"{args.threads}, load {os.getloadavg()[0]:.2f} (1-min average at the end)\n")
    print("| mode | conn/s | vs mapping | p50 ms | p99 ms | p99 vs mapping | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['mode']} | {r['cps']:.0f} | {r['cps'] / base['cps']:.2f} | "
              f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['p99_ms'] / base['p99_ms']:.2f} | "
              f"{r['errors']} |")
    for r in rows:
        if r["errors"]:
            print(f"{r['mode']}: first error {r['first_error']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
