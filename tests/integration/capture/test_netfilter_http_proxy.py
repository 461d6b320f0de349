#!/usr/bin/env python3
"""NOT REGISTERED YET (needs the http_proxy ingress, and OHTTP for the second case): enable in
meson.build once `tng launch` serves them. Two seed examples of 001_*.txt on two hosts, the
server side's netfilter egress capturing the application port:

  cachefs   "The cachefs case": http_proxy ingress on 41000 (dst_filter domain "*", port 9991),
            netfilter egress capturing 9991; attest/verify replaced by no_ra. A CONNECT client
            (as `nc -X connect -x 127.0.0.1:41000 <server> 9991`) reaches the echo server on the
            server's own port 9991 through the tunnel, byte-exact (2 MiB), and the wire on 9991
            carries no plaintext.
  encap     "tng server is using `netfilter` mode, and tng client is using `http_proxy` mode":
            http_proxy ingress with encap_in_http, egress netfilter capturing 30001 with
            decap_from_http; verify/attest replaced by no_ra. all_proxy=http://127.0.0.1:41000
            curl http://<server>:30001/big.bin is byte-exact.

Run one case by hand: TNG_BIN=build/tng python3 test_netfilter_http_proxy.py [cachefs|encap]
"""

import os
import socket
import sys
from pathlib import Path

from netfilter_peers import (MARKER, Wire, fetch, http_server, make_site, request_peers,
                             two_hosts, wait_access_logs)
import harness
from harness import Deadline, Failure, check

ECHO = Path(__file__).resolve().parent.parent / "netfilter" / "echo_server.py"


def cachefs_configs():
    client = {"add_ingress": [{"http_proxy": {"proxy_listen": {"host": "0.0.0.0", "port": 41000},
                                              "dst_filter": {"domain": "*", "port": 9991}},
                               "no_ra": True}]}
    server = {"add_egress": [{"netfilter": {"capture_dst": {"port": 9991}}, "no_ra": True}]}
    return client, server


def encap_configs():
    client = {"add_ingress": [{
        "http_proxy": {"proxy_listen": {"host": "0.0.0.0", "port": 41000},
                       "dst_filter": {"domain": "*"}},
        "encap_in_http": {"path_rewrites": [{"match_regex": "^/api/predict/([^/]+)([/]?.*)$",
                                             "substitution": "/api/predict/\\1"}]},
        "no_ra": True}]}
    server = {"add_egress": [{"netfilter": {"capture_dst": {"port": 30001}},
                              "decap_from_http": True, "no_ra": True}]}
    return client, server


def recv_until(sock, marker, dl):
    buf = b""
    while marker not in buf:
        sock.settimeout(max(0.05, dl.remaining()))
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            dl.fail(f"got {buf[:200]!r}")
        if not chunk:
            raise Failure(f"connection closed after {buf[:200]!r}")
        buf += chunk
    return buf


def connect_via_proxy(ns, target_host, target_port, payload):
    """CONNECT through 127.0.0.1:41000, read the echo server's greeting, echo payload back."""
    dl = Deadline(60, f"a CONNECT exchange with {target_host}:{target_port}")
    with ns.connect("127.0.0.1", 41000, timeout=10) as s:
        s.sendall(f"CONNECT {target_host}:{target_port} HTTP/1.1\r\n"
                  f"Host: {target_host}:{target_port}\r\n\r\n".encode())
        head = recv_until(s, b"\r\n\r\n", dl)
        status, rest = head.split(b"\r\n", 1)[0], head.split(b"\r\n\r\n", 1)[1]
        if b" 200" not in status:
            raise Failure(f"CONNECT answered {status!r}")
        line = rest + recv_until(s, b"\n", dl) if b"\n" not in rest else rest
        greeting, echo = line.split(b"\n", 1)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        while True:
            s.settimeout(max(0.05, dl.remaining()))
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            echo += chunk
    return greeting.decode(), echo


def cachefs(ctx):
    client, server, c_ip, s_ip = two_hosts(ctx, 224)
    before = server.iptables_save(), server.routing_state()
    echo = ctx.spawn("echo", [sys.executable, ECHO, "0.0.0.0", 9991], ns=server)
    echo.wait_log(r"echo server listening", 15)
    wire = Wire(ctx, server, 9991)
    c_cfg, s_cfg = cachefs_configs()
    tng_s = ctx.tng(server, s_cfg, "tng-server")
    tng_c = ctx.tng(client, c_cfg, "tng-client")
    payload = MARKER + os.urandom(2 << 20)
    greeting, got = connect_via_proxy(client, s_ip, 9991, payload)
    check(greeting == f"SERVER {s_ip}", "the echo server on its own port 9991 was reached from "
          "the egress's plaintext connection", greeting)
    check(got == payload, f"{len(payload)} bytes echoed byte-exact through the tunnel")
    wait_access_logs(tng_s, "egress", 1)
    wait_access_logs(tng_c, "ingress", 1)
    pcap = wire.stop()
    check(MARKER not in pcap and b"\x17\x03\x03" in pcap, "only TLS on the wire of port 9991")
    for t in (tng_c, tng_s):
        t.stop(30)
    check((server.iptables_save(), server.routing_state()) == before,
          "server tables and routes are as before the start")


def encap(ctx):
    client, server, c_ip, s_ip = two_hosts(ctx, 225)
    site, big_sha = make_site(ctx)
    web = http_server(ctx, server, 30001, site, "web")
    c_cfg, s_cfg = encap_configs()
    tng_s = ctx.tng(server, s_cfg, "tng-server")
    ctx.tng(client, c_cfg, "tng-client")
    fetch(ctx, client, f"http://{s_ip}:30001/big.bin", big_sha, "http_proxy + encap_in_http",
          ["--proxy", "http://127.0.0.1:41000"])
    check(request_peers(web, "/big.bin") == [s_ip], "the request went through the egress")
    wait_access_logs(tng_s, "egress", 1)


CASES = {"cachefs": cachefs, "encap": encap}

if __name__ == "__main__":
    names = sys.argv[1:] or list(CASES)
    rc = 0
    for name in names:
        rc |= harness.run(f"netfilter_http_proxy_{name}", CASES[name])
    sys.exit(rc)
