#!/usr/bin/env python3
"""A netfilter egress behind the other ingress kinds: the seed's "tng server is using netfilter
mode" example (001_*.txt: mapping ingress 10001 -> 127.0.0.1:30001, netfilter egress capturing
port 30001) split over two hosts, the ingress's `out.host` changed to the server's address, plus a
socks5 ingress whose dst_filters name port 30001.

Checks: curl through the mapping ingress and through the socks5 ingress reaches the HTTP server
on its own port 30001 byte-exact (4 MiB), the server sees the egress's plaintext connection; a
client that skips its ingress and talks plaintext to port 30001 is captured by the egress and
refused at the handshake; a destination outside capture_dst (port 30002) is not captured; the
wire on 30001 carries no plaintext; SIGTERM leaves the tables as they were.
"""

import signal
import sys

from netfilter_peers import (MARKER, Wire, curl, fetch, http_server, make_site, request_peers,
                             two_hosts, wait_access_logs)
import harness
from harness import check

EGRESS_REFUSED = r'msg="connection failed" endpoint=\S+ side=egress[^\n]*stage=handshake'


def client_config(s_ip):
    return {"add_ingress": [
        {"mapping": {"in": {"port": 10001}, "out": {"host": s_ip, "port": 30001}}, "no_ra": True},
        {"socks5": {"proxy_listen": {"host": "127.0.0.1", "port": 1080},
                    "dst_filters": [{"port": 30001}]}, "no_ra": True},
    ]}


# 001_*.txt, the egress of "tng server is using `netfilter` mode", attest -> no_ra.
SERVER = {"add_egress": [{"netfilter": {"capture_dst": {"port": 30001}}, "no_ra": True}]}


def body(ctx):
    client, server, c_ip, s_ip = two_hosts(ctx, 222)
    site, big_sha = make_site(ctx)
    marker_sha = harness.sha256_file(site / "marker.txt")
    before = server.iptables_save(), server.routing_state()
    web = http_server(ctx, server, 30001, site, "web30001")
    other = http_server(ctx, server, 30002, site, "web30002")
    wire = Wire(ctx, server, 30001)
    tng_s = ctx.tng(server, SERVER, "tng-server")
    lines = server.tng_rule_lines()
    check(lines == [":TNG_EGRESS_0 - [0:0]",
                    "-A PREROUTING -p tcp -j TNG_EGRESS_0",
                    "-A OUTPUT -p tcp -j TNG_EGRESS_0",
                    "-A TNG_EGRESS_0 -p tcp -m mark --mark 0x235 -j RETURN",
                    "-A TNG_EGRESS_0 -p tcp -m addrtype ! --src-type LOCAL -m tcp --dport 30001 "
                    "-j REDIRECT --to-ports 40000"],
          "the egress chain TNG_EGRESS_0 from PREROUTING and OUTPUT, REDIRECT to 40000",
          f"got {lines}")
    tng_c = ctx.tng(client, client_config(s_ip), "tng-client")

    fetch(ctx, client, "http://127.0.0.1:10001/big.bin", big_sha, "mapping ingress")
    fetch(ctx, client, f"http://{s_ip}:30001/big.bin", big_sha, "socks5 ingress",
          ["--socks5", "127.0.0.1:1080"])
    fetch(ctx, client, f"http://{s_ip}:30001/marker.txt", marker_sha, "socks5 ingress marker",
          ["--socks5", "127.0.0.1:1080"])
    peers = request_peers(web, "/big.bin") + request_peers(web, "/marker.txt")
    check(peers == [s_ip] * 3, "the server application on its own port got every request from "
          "the egress's plaintext connection", f"http.server saw {peers}")
    check(wait_access_logs(tng_s, "egress", 3) == 3, "the egress served the three tunnels")

    # Plaintext straight to the captured port: captured, and refused at the handshake.
    rc, code, _, err = curl(ctx, client, f"http://{s_ip}:30001/marker.txt", "plain")
    check(rc != 0 and code != "200", "plaintext to the captured port is captured and refused",
          f"curl exit {rc}, http code {code!r}: {err}")
    tng_s.wait_log(EGRESS_REFUSED, 10, "the egress to log the refused plaintext handshake")
    check(len(request_peers(web, "/marker.txt")) == 1,
          "the refused plaintext request never reached the application")

    # Outside capture_dst.
    fetch(ctx, client, f"http://{s_ip}:30002/marker.txt", marker_sha, "port 30002 direct")
    check(request_peers(other, "/marker.txt") == [c_ip], "port 30002 is not captured")

    wire.wait_for(b"GET /marker.txt HTTP/1.1", 10,
                  "the refused plaintext request on the wire (tcpdump sees plaintext when sent)")
    pcap = wire.stop()
    check(MARKER not in pcap, "the plaintext marker never crossed the wire on port 30001 in a "
          "tunnel (the refused plaintext request carried none)")
    check(b"\x17\x03\x03" in pcap, "TLS application data records did")

    for tng in (tng_c, tng_s):
        tng.signal(signal.SIGTERM)
        check(tng.wait(30) == 0, f"{tng.name} exits 0 after SIGTERM", tng.tail())
    after = server.iptables_save(), server.routing_state()
    check(after == before, "server tables and routes are as before the start",
          f"before {before}, after {after}")


if __name__ == "__main__":
    sys.exit(harness.run("netfilter_egress_kinds", body))
