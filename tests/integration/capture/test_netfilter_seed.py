#!/usr/bin/env python3
"""The seed's "netfilter ingress to netfilter egress" example (the mesh node of
002_*.txt: a netfilter ingress and a netfilter egress both capturing port 9001) run by the real
binary on two hosts, a client and a server namespace joined by veth, each with the same config.

Changes to the published example: the missing comma between "add_ingress" and "add_egress" is
added (a real typo: as published it is not JSON), and the addresses: aa_addr points at a
reference AA (`sample` evidence) in the test's work directory, "<attestation-service-url>" at a
reference AS on the host's 127.0.0.1:50004. attest and verify stay as published, so every
connection is attested and verified both ways.

Checks: curl on the client to the server's own address and port 9001 is captured by the client's
ingress (TPROXY), tunnelled, captured by the server's egress (REDIRECT) and handed to the HTTP
server, which keeps its port and sees the request coming from the egress (byte-exact, 4 MiB);
a peer.py duplex transfer of 3 MiB each way byte-exact; port 9002 (outside capture_dst) goes
direct; the wire on port 9001 carries TLS records and never the plaintext marker; the rules are
the expected ones; the client's ingress and the server's egress access-log lines carry peer_tee,
peer_policy_ids and local_tee (mutual RA); the server's capabilities are reduced to CAP_NET_ADMIN + CAP_NET_RAW; after
SIGTERM iptables-legacy-save, `ip rule` and `ip route show table all` equal what they were.
"""

import signal
import sys
from pathlib import Path

from netfilter_peers import (MARKER, SEED_AS_ADDR, Wire, check_mutual_ra, fetch, http_server,
                             make_site, request_peers, seed_attestation, seed_config, two_hosts,
                             wait_access_logs)
import harness
import transfers
from harness import check, log

# 002_*.txt "单个节点上的 TNG 配置示例" as published, except the comma added after the
# "add_ingress" array (missing in the manual).
MESH = """
{
    "add_ingress": [
        {
            "netfilter": {
                "capture_dst": {
                    "port": 9001
                }
            },
            "attest": {
                "aa_addr": "unix:///run/confidential-containers/attestation-agent/attestation-agent.sock"
            },
            "verify": {
                "as_addr": "<attestation-service-url>",
                "policy_ids": [
                    "default"
                ]
            }
        }
    ],
    "add_egress": [
        {
            "netfilter": {
                "capture_dst": {
                    "port": 9001
                }
            },
            "attest": {
                "aa_addr": "unix:///run/confidential-containers/attestation-agent/attestation-agent.sock"
            },
            "verify": {
                "as_addr": "<attestation-service-url>",
                "policy_ids": [
                    "default"
                ]
            }
        }
    ]
}
"""
SEED_AA = "unix:///run/confidential-containers/attestation-agent/attestation-agent.sock"


def mesh_config(ctx, ns, tag):
    """The published node config for one host: only the AA and AS addresses are ours."""
    return seed_config(MESH, {SEED_AA: seed_attestation(ctx, ns, tag),
                              "<attestation-service-url>": SEED_AS_ADDR})

# CAP_NET_ADMIN (12) and CAP_NET_RAW (13).
KEPT_CAPS = (1 << 12) | (1 << 13)


def cap_eff(pid):
    """CapEff of every thread of pid (capabilities are per thread)."""
    out = set()
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        for line in status.read_text().splitlines():
            if line.startswith("CapEff:"):
                out.add(int(line.split()[1], 16))
    return out


def body(ctx):
    client, server, c_ip, s_ip = two_hosts(ctx, 221)
    site, big_sha = make_site(ctx)
    before = {ns.name: (ns.iptables_save(), ns.routing_state()) for ns in (client, server)}

    web = http_server(ctx, server, 9001, site, "web9001")
    other = http_server(ctx, server, 9002, site, "web9002")
    wire = Wire(ctx, server, 9001)

    tng_s = ctx.tng(server, mesh_config(ctx, server, "server"), "tng-server")
    tng_c = ctx.tng(client, mesh_config(ctx, client, "client"), "tng-client")
    for ns in (client, server):
        lines = ns.tng_rule_lines()
        check(any(":TNG_EGRESS_0" in l for l in lines) and
              any(":TNG_INGRESS_0_PREROUTING" in l for l in lines) and
              any("REDIRECT --to-ports 40001" in l for l in lines) and
              any("TPROXY --on-port 40000 --on-ip 127.0.0.1" in l for l in lines),
              f"{ns.name}: egress REDIRECT to 40001 and ingress TPROXY to 40000 installed",
              f"got {lines}")
        rules, routes = ns.tagged_policy()
        check(rules == ["from all fwmark 0x236/0xffffff lookup 239 proto 116"] and len(routes) == 1,
              f"{ns.name}: one fwmark policy rule and one local route", f"{rules} {routes}")
    for tng in (tng_s, tng_c):
        caps = cap_eff(tng.pid)
        check(caps == {KEPT_CAPS}, f"every thread of {tng.name} kept only CAP_NET_ADMIN and "
              "CAP_NET_RAW", f"CapEff {[hex(c) for c in caps]}")

    # Captured on the client, tunnelled, captured on the server, byte-exact.
    fetch(ctx, client, f"http://{s_ip}:9001/big.bin", big_sha, "captured 4 MiB download")
    fetch(ctx, client, f"http://{s_ip}:9001/marker.txt", harness.sha256_file(site / "marker.txt"),
          "captured marker download")
    peers = request_peers(web, "/big.bin") + request_peers(web, "/marker.txt")
    check(peers == [s_ip, s_ip], "the server application on its own port 9001 got both requests "
          "from the egress's plaintext connection (server address), not from the client",
          f"http.server saw {peers}")
    check(wait_access_logs(tng_c, "ingress", 2) == 2 and wait_access_logs(tng_s, "egress", 2) == 2,
          "the client's ingress and the server's egress each served both connections")
    for i in range(2):  # the second may reuse cached evidence and verification
        check_mutual_ra(tng_c, "ingress", after=i)
        check_mutual_ra(tng_s, "egress", after=i)

    # Both directions at once, byte-exact, through the same capture.
    web.stop()
    server.wait_refused("127.0.0.1", 9001)
    _, report = ctx.peer_server(server, 9001, host="0.0.0.0")
    proc = ctx.peer_client(client, "duplex", ["--host", s_ip, "--port", 9001, "--mode", "duplex",
                                              "--id", "duplex", "--send", 3 << 20,
                                              "--recv", 3 << 20])
    res = transfers.client_result(proc, 90, "the duplex transfer")
    transfers.compare_transfer("captured duplex", res, transfers.wait_report(report, "duplex", 15))
    wait_access_logs(tng_s, "egress", 3)

    # Outside capture_dst: direct, not tunnelled.
    fetch(ctx, client, f"http://{s_ip}:9002/marker.txt", harness.sha256_file(site / "marker.txt"),
          "port 9002 (not in capture_dst)")
    check(request_peers(other, "/marker.txt") == [c_ip],
          "port 9002 is not captured: the server saw the client's own address")

    # The wire of the captured port: TLS records only.
    pcap = wire.stop()
    check(len(pcap) > 4 << 20, f"tcpdump captured the transfers on port 9001 ({len(pcap)} bytes)")
    check(MARKER not in pcap, "the plaintext marker never crossed the wire on port 9001")
    check(b"\x17\x03\x03" in pcap, "TLS application data records did")

    for tng in (tng_c, tng_s):
        tng.signal(signal.SIGTERM)
        rc = tng.wait(30, f"{tng.name} to exit after SIGTERM")
        check(rc == 0 and "capture rules removed" in tng.stderr_text(),
              f"{tng.name} exits 0 after SIGTERM and removes its rules", tng.tail())
    for ns in (client, server):
        after = (ns.iptables_save(), ns.routing_state())
        check(after == before[ns.name], f"{ns.name}: iptables-legacy-save, ip rule and ip route "
              "show table all are as before the start", f"before {before[ns.name]}, after {after}")
    log("seed netfilter ingress -> netfilter egress works end to end")


if __name__ == "__main__":
    sys.exit(harness.run("netfilter_seed_mesh", body))
