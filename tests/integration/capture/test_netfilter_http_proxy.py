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
            (registered): the published config on both hosts; all_proxy-style curl through
            127.0.0.1:41000 is byte-exact; the wire on 30001 carries only the camouflage (POST,
            rewritten path, inner Host, tng-metadata; no inner path, header or payload); plain
            HTTP to the captured port is refused with 400 and the egress keeps serving.
  nginx     the manual's mapping + encap_in_http / decap_from_http example on both hosts, the
            client's ingress pointed at a real nginx on the server host that routes camouflaged
            POSTs by their rewritten path to the egress and refuses other paths (registered as
            camouflage_nginx).

Run one case by hand (meson runs `cachefs`):
  TNG_BIN=build/tng TNG_REFERENCE_AA=build/tools/reference_aa/tng-reference-aa \
  TNG_REFERENCE_AS=build/tools/reference_as/tng-reference-as \
  python3 test_netfilter_http_proxy.py cachefs|encap|nginx
"""

import os
import sys
from pathlib import Path

from netfilter_peers import (MARKER, Wire, check_mutual_ra, curl, fetch, http_server,
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
            "substitution": "/api/predict/\\1"
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


def camouflage_site(ctx):
    """make_site plus a model folder under /api/predict/ (what path_rewrites rewrite)."""
    site, big_sha = make_site(ctx)
    model = site / "api" / "predict" / "m1"
    model.mkdir(parents=True, exist_ok=True)
    (model / "marker.txt").write_bytes(MARKER * 64)
    (model / "big.bin").write_bytes((site / "big.bin").read_bytes())
    return site, big_sha


def check_camouflage_wire(pcap, host, outer_paths, inner_paths, where):
    """What the seed manual promises on the wire: POST, the rewritten path, the inner Host, the
    tng-metadata header; none of the inner request (path, headers) nor the payload."""
    for path in outer_paths:
        check(f"POST {path} HTTP/1.1\r\n".encode() in pcap,
              f"{where}: the outer request is POST {path} (path_rewrites)")
    check(f"Host: {host}\r\n".encode() in pcap, f"{where}: the outer Host is the inner one ({host})")
    check(b"tng-metadata: {}\r\n" in pcap, f"{where}: the outer request carries tng-metadata")
    for path in inner_paths:
        check(path.encode() not in pcap, f"{where}: the inner path {path} is not on the wire")
    check(SECRET not in pcap and MARKER not in pcap and b"GET " not in pcap,
          f"{where}: no inner header, request line or payload byte on the wire")


SECRET = b"inner-header-secret-4711"


def encap(ctx):
    client, server, c_ip, s_ip = two_hosts(ctx, 225)
    site, big_sha = camouflage_site(ctx)
    web = http_server(ctx, server, 30001, site, "web")
    wire = Wire(ctx, server, 30001)
    tng_s = ctx.tng(server, host_config(ctx, server, "server", ENCAP), "tng-server")
    ctx.tng(client, host_config(ctx, client, "client", ENCAP), "tng-client")
    proxy = ["--proxy", "http://127.0.0.1:41000"]
    fetch(ctx, client, f"http://{s_ip}:30001/big.bin", big_sha, "http_proxy + encap_in_http",
          proxy)
    check(request_peers(web, "/big.bin") == [s_ip], "the request went through the egress")
    rc, code, out, err = curl(ctx, client, f"http://{s_ip}:30001/api/predict/m1/marker.txt?type=1",
                              "marker", proxy + ["-H", f"X-Inner: {SECRET.decode()}"])
    check(rc == 0 and code == "200" and out.read_bytes() == MARKER * 64,
          "a request under /api/predict/ arrives byte-exact", f"curl {rc} {code}: {err}")
    # CONNECT (curl -p): the request inside the CONNECT names the outer request.
    rc, code, out, err = curl(ctx, client, f"http://{s_ip}:30001/api/predict/m2/x?y=1",
                              "connect", proxy + ["-p"])
    check(rc == 0 and code == "404", "a CONNECT-tunnelled request reaches the application "
          "(404 from http.server for a missing file)", f"curl {rc} {code}: {err}")
    wait_access_logs(tng_s, "egress", 3)
    check_camouflage_wire(wire.stop(), f"{s_ip}:30001", ["/", "/api/predict/m1", "/api/predict/m2"],
                          ["/big.bin", "/api/predict/m1/marker.txt"], "port 30001")

    # Plain HTTP to the captured port is not camouflaged: the egress answers 400 and says why,
    # and keeps serving the tunnel.
    rc, code, out, err = curl(ctx, client, f"http://{s_ip}:30001/marker.txt", "plain")
    check(rc == 0 and code == "400" and b"TNG-camouflaged requests only" in out.read_bytes(),
          "plain HTTP to the captured port gets 400 naming the camouflage",
          f"curl {rc} {code}: {out.read_bytes()[:200]!r} {err}")
    fetch(ctx, client, f"http://{s_ip}:30001/big.bin", big_sha, "after the refusal", proxy)


# 001_*.txt, "tng client as verifier and tng server as attester, with HTTP encapulation
# enabled" (one instance with both the ingress and the egress), as published.
ENCAP_MAPPING = r"""
{
  "add_ingress": [
    {
      "mapping": {
        "in": {
          "host": "0.0.0.0",
          "port": 10001
        },
        "out": {
          "host": "127.0.0.1",
          "port": 20001
        }
      },
      "encap_in_http": {
        "path_rewrites": [
          {
            "match_regex": "^/api/predict/([^/]+)([/]?.*)$",
            "substitution": "/api/predict/\\1"
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
      "mapping": {
        "in": {
          "host": "127.0.0.1",
          "port": 20001
        },
        "out": {
          "host": "127.0.0.1",
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

# The L7 gateway before the egress: nginx routes camouflaged flows by the rewritten path,
# streaming both bodies (no buffering, HTTP/1.1 upstream: a buffered request body would wait
# for the whole tunnel), and refuses every other path.
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log stderr notice;
events {{ }}
http {{
  log_format camouflage '$request|$host|$http_tng_metadata|$status';
  access_log {work}/nginx-access.log camouflage;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  fastcgi_temp_path {work}/nginx-fastcgi;
  uwsgi_temp_path {work}/nginx-uwsgi;
  scgi_temp_path {work}/nginx-scgi;
  server {{
    listen {ip}:20001;
    location /api/predict/ {{
      proxy_pass http://127.0.0.1:20001;
      proxy_http_version 1.1;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_set_header Host $host;
      proxy_set_header Connection "";
    }}
    location / {{
      return 403 "blocked by the L7 gateway\n";
    }}
  }}
}}
"""


def nginx(ctx):
    """The manual's mapping example on both hosts, the client's ingress pointed at an nginx on
    the server host that routes by the outer path to the server's egress."""
    client, server, c_ip, s_ip = two_hosts(ctx, 226)
    site, big_sha = camouflage_site(ctx)
    web = http_server(ctx, server, 30001, site, "web")
    conf = ctx.workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=ctx.workdir, ip=s_ip))
    gw = ctx.spawn("nginx", ["nginx", "-c", conf, "-e", "stderr"], ns=server)
    server.wait_tcp(s_ip, 20001, 15, gw)
    wire = Wire(ctx, server, 20001)
    tng_s = ctx.tng(server, host_config(ctx, server, "server", ENCAP_MAPPING), "tng-server")
    # The client's ingress goes to the gateway's address (the manual's one host has the egress
    # on 127.0.0.1).
    client_cfg = host_config(ctx, client, "client", ENCAP_MAPPING)
    client_cfg["add_ingress"][0]["mapping"]["out"]["host"] = s_ip
    tng_c = ctx.tng(client, client_cfg, "tng-client")

    # As TNG's own test: the application believes it talks to example.com.
    via = ["--connect-to", "example.com:80:127.0.0.1:10001", "-H", f"X-Inner: {SECRET.decode()}"]
    fetch(ctx, client, "http://example.com/api/predict/m1/big.bin?type=1&case=1", big_sha,
          "mapping + encap_in_http through nginx", via)
    rc, code, out, err = curl(ctx, client, "http://example.com/api/predict/m1/marker.txt", "m",
                              via)
    check(rc == 0 and code == "200" and out.read_bytes() == MARKER * 64,
          "a second request through nginx arrives byte-exact", f"curl {rc} {code}: {err}")
    check(request_peers(web, "/api/predict/m1/big.bin?type=1&case=1") == ["127.0.0.1"],
          "the application sees the inner request, from the egress")
    log_lines = (ctx.workdir / "nginx-access.log").read_text().splitlines()
    check(log_lines.count("POST /api/predict/m1 HTTP/1.1|example.com|{}|200") == 2,
          "nginx saw two camouflaged POSTs routed by the rewritten path and the inner Host",
          f"nginx log: {log_lines}")

    # A path no rewrite matches goes out as POST /, which this gateway refuses: the ingress
    # answers the application 502, naming the gateway's answer.
    rc, code, out, err = curl(ctx, client, "http://example.com/other/big.bin", "refused", via)
    body = out.read_bytes()
    check(rc == 0 and code == "502" and b"answered the camouflage POST with 403" in body,
          "a flow the gateway refuses gets 502 naming the gateway's 403",
          f"curl {rc} {code}: {body[:300]!r} {err}")
    check_camouflage_wire(wire.stop(), "example.com", ["/api/predict/m1", "/"],
                          ["/api/predict/m1/big.bin", "/api/predict/m1/marker.txt", "/other/"],
                          "client to nginx")
    wait_access_logs(tng_s, "egress", 2)
    for t in (tng_c, tng_s):
        t.stop(30)


CASES = {"cachefs": cachefs, "encap": encap, "nginx": nginx}

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
