#!/usr/bin/env python3
"""Two seed examples of 001_*.txt whose server side is a netfilter egress, each run on two hosts
(client and server namespaces joined by veth), each host running the published config with only
its addresses changed: aa_addr points at a reference AA in the test's work directory, and every
host has a reference AS on the published as_addr (127.0.0.1:50004).

  cachefs   "The cachefs case" (registered): one config with an http_proxy ingress on 41000
            (dst_filter domain "*", port 9991) and a netfilter egress capturing 9991, both
            attesting and verifying, launched on both hosts. `nc -X connect -x 127.0.0.1:41000
            <server> 9991` on the client reaches the echo server on the server's own port 9991
            through the tunnel, 2 MiB byte-exact; both access-log lines (client ingress, server
            egress) carry peer_tee, peer_policy_ids and local_tee; the wire on 9991 carries only
            TLS; the server's tables and routes are as before after the stop.
  encap     "tng server is using `netfilter` mode, and tng client is using `http_proxy` mode"
            (NOT registered: needs encap_in_http / decap_from_http, i.e. OHTTP, not built yet):
            the published config on both hosts, all_proxy=http://127.0.0.1:41000 curl
            http://<server>:30001/big.bin is byte-exact.

Run one case by hand (meson runs `cachefs`):
  TNG_BIN=build/tng TNG_REFERENCE_AA=build/tools/reference_aa/tng-reference-aa \
  TNG_REFERENCE_AS=build/tools/reference_as/tng-reference-as \
  python3 test_netfilter_http_proxy.py cachefs|encap
"""

import os
import sys
from pathlib import Path

from netfilter_peers import (MARKER, Wire, check_mutual_ra, fetch, http_server,
                             make_site, request_peers, seed_attestation, seed_config, two_hosts,
                             wait_access_logs)
import harness
from harness import check

ECHO = Path(__file__).resolve().parent.parent / "netfilter" / "echo_server.py"
SEED_AA = "unix:///tmp/attestation.sock"

# 001_*.txt, "The cachefs case", as published.
CACHEFS = """
{
  "add_ingress": [
    {
      "http_proxy": {
        "proxy_listen": {
          "host": "0.0.0.0",
          "port": 41000
        },
        "dst_filter": {
          "domain": "*",
          "port": 9991
        }
      },
      "attest": {
        "aa_addr": "unix:///tmp/attestation.sock"
      },
      "verify": {
        "as_addr": "http://127.0.0.1:50004/",
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
          "port": 9991
        }
      },
      "attest": {
        "aa_addr": "unix:///tmp/attestation.sock"
      },
      "verify": {
        "as_addr": "http://127.0.0.1:50004/",
        "policy_ids": [
          "default"
        ]
      }
    }
  ]
}
"""

# 001_*.txt, "tng client as verifier and tng server as attester, with HTTP encapulation
# enabled, while tng server is using `netfilter` mode, and tng client is using `http_proxy`
# mode", as published.
ENCAP = r"""
{
  "add_ingress": [
    {
      "http_proxy": {
        "proxy_listen": {
          "host": "0.0.0.0",
          "port": 41000
        },
        "dst_filter": {
          "domain": "*"
        }
      },
      "encap_in_http": {
        "path_rewrites": [
          {
            "match_regex": "^/api/predict/([^/]+)([/]?.*)$",
            "substitution": "/api/predict/\1"
          }
        ]
      },
      "verify": {
        "as_addr": "http://127.0.0.1:50004/",
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
          "port": 30001
        }
      },
      "decap_from_http": true,
      "attest": {
        "aa_addr": "unix:///tmp/attestation.sock"
      }
    }
  ]
}
"""


def host_config(ctx, ns, tag, text):
    """The published config for one host, its aa_addr pointed at this host's reference AA."""
    return seed_config(text, {SEED_AA: seed_attestation(ctx, ns, tag)})


def cachefs(ctx):
    client, server, c_ip, s_ip = two_hosts(ctx, 224)
    # The manual's node address is 127.0.0.1 (one host); here it is the server's address, given
    # to the proxy as an address exactly like the manual does (dst_filter {"domain": "*"} matches
    # addresses too, as in TNG).
    cachefs_run(ctx, client, server, s_ip, s_ip)


def cachefs_run(ctx, client, server, s_ip, node):
    before = server.iptables_save(), server.routing_state()
    echo = ctx.spawn("echo", [sys.executable, ECHO, "0.0.0.0", 9991], ns=server)
    echo.wait_log(r"echo server listening", 15)
    wire = Wire(ctx, server, 9991)
    tng_s = ctx.tng(server, host_config(ctx, server, "server", CACHEFS), "tng-server")
    tng_c = ctx.tng(client, host_config(ctx, client, "client", CACHEFS), "tng-client")

    # The manual's cachefs client, `nc -X connect -x 127.0.0.1:41000 <node> 9991`, with -N so
    # the end of the payload half-closes and the echo ends.
    payload = MARKER + os.urandom(2 << 20)
    res = client.run(["nc", "-N", "-w", "30", "-X", "connect", "-x", "127.0.0.1:41000",
                      node, "9991"], input=payload, timeout=90)
    greeting, _, echoed = res.stdout.partition(b"\n")
    check(greeting == f"SERVER {s_ip}".encode(), "nc reached the echo server on the server's own "
          "port 9991 from the egress's plaintext connection",
          f"nc exit {res.returncode}, got {res.stdout[:120]!r}: {res.stderr.decode().strip()}")
    check(echoed == payload, f"{len(payload)} bytes echoed byte-exact through the tunnel",
          f"got {len(echoed)} bytes")
    wait_access_logs(tng_s, "egress", 1)
    wait_access_logs(tng_c, "ingress", 1)
    kv_c = check_mutual_ra(tng_c, "ingress")
    kv_s = check_mutual_ra(tng_s, "egress")
    harness.log(f"client ingress access line: peer_tee={kv_c['peer_tee']} "
                f"peer_policy_ids={kv_c['peer_policy_ids']} local_tee={kv_c['local_tee']}; "
                f"server egress: peer_tee={kv_s['peer_tee']} "
                f"peer_policy_ids={kv_s['peer_policy_ids']} local_tee={kv_s['local_tee']}")
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
    tng_s = ctx.tng(server, host_config(ctx, server, "server", ENCAP), "tng-server")
    ctx.tng(client, host_config(ctx, client, "client", ENCAP), "tng-client")
    fetch(ctx, client, f"http://{s_ip}:30001/big.bin", big_sha, "http_proxy + encap_in_http",
          ["--proxy", "http://127.0.0.1:41000"])
    check(request_peers(web, "/big.bin") == [s_ip], "the request went through the egress")
    wait_access_logs(tng_s, "egress", 1)


CASES = {"cachefs": cachefs, "encap": encap}

if __name__ == "__main__":
    names = sys.argv[1:] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(f"unknown case {unknown}; cases: {' '.join(CASES)}", file=sys.stderr)
        sys.exit(2)
    rc = 0
    for name in names:
        rc |= harness.run(f"netfilter_http_proxy_{name}", CASES[name])
    sys.exit(rc)
