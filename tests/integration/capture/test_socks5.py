#!/usr/bin/env python3
"""The socks5 ingress of the real binary, driven by curl and a raw SOCKS5 client.

One namespace: `python3 -m http.server` backends on 127.0.0.1:30001 and [::1]:30002, a mapping
egress on 0.0.0.0:20001 in front of 30001 (it stands where a netfilter egress would capture the
destination port), and two socks5 ingresses:
  1080  no auth; dst_filters: {"domain": "localhost", "port": 20001}, {"ip": "127.0.0.1",
        "port": 20001}
  1081  username/password alice/wonderland; dst_filters: {"port": 20001}
Checks: curl --socks5-hostname (name resolved in the gateway) and --socks5 (IPv4, IPv6) through
the tunnel and direct, byte-exact; that only matching destinations enter the tunnel (the egress
counts its sessions, and plaintext sent to it is refused); password auth; the RFC 1928 reply
codes for refused / unreachable / unresolvable destinations and unsupported commands and address
types; malformed clients are logged by what was wrong and the listener keeps serving.
"""

import re
import signal
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import harness  # noqa: E402
from harness import check, log  # noqa: E402

EGRESS_DONE = r'msg="connection closed" endpoint=\S+ side=egress'
EGRESS_REFUSED = r'msg="connection failed" endpoint=\S+ side=egress[^\n]*stage=handshake'


def config():
    ingress = [
        {"socks5": {"proxy_listen": {"host": "127.0.0.1", "port": 1080},
                    "dst_filters": [{"domain": "localhost", "port": 20001},
                                    {"ip": "127.0.0.1", "port": 20001}]},
         "no_ra": True},
        {"socks5": {"proxy_listen": {"host": "127.0.0.1", "port": 1081},
                    "dst_filters": [{"port": 20001}],
                    "auth": {"username": "alice", "password": "wonderland"}},
         "no_ra": True},
    ]
    egress = [{"mapping": {"in": {"host": "0.0.0.0", "port": 20001},
                           "out": {"host": "127.0.0.1", "port": 30001}},
               "no_ra": True}]
    return {"add_ingress": ingress, "add_egress": egress}


def curl(ns, ctx, url, proxy_args, out_name):
    """curl through a SOCKS5 proxy; returns (exit code, http code, body path, stderr)."""
    out = ctx.workdir / out_name
    res = ns.run(["curl", "-sS", "--max-time", "60", "-o", out, "-w", "%{http_code}",
                  *proxy_args, url], timeout=90)
    return res.returncode, res.stdout.decode().strip(), out, res.stderr.decode().strip()


def fetch(ns, ctx, url, proxy_args, want_sha, what):
    rc, code, out, err = curl(ns, ctx, url, proxy_args, re.sub(r"\W", "_", what))
    check(rc == 0 and code == "200", f"{what}: curl {' '.join(proxy_args)} {url} returns 200",
          f"curl exit {rc}, http code {code!r}: {err}")
    got = harness.sha256_file(out)
    check(got == want_sha, f"{what}: body is the file served ({out.stat().st_size} bytes)",
          f"sha256 {got} != {want_sha}")


def recv_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def socks_reply(ns, request, greeting=b"\x05\x01\x00", port=1080):
    """A raw SOCKS5 exchange: returns (method selection, reply); the reply is b"" at EOF."""
    with ns.connect("127.0.0.1", port, timeout=30) as s:
        s.settimeout(30)
        s.sendall(greeting)
        method = recv_exactly(s, 2)
        s.sendall(request)
        return method, recv_exactly(s, 10)


def connect_v4(ip, port, command=1):
    return bytes([5, command, 0, 1]) + socket.inet_aton(ip) + port.to_bytes(2, "big")


def connect_name(name, port):
    return bytes([5, 1, 0, 3, len(name)]) + name.encode() + port.to_bytes(2, "big")


def expect_reply(ns, request, code, what):
    method, reply = socks_reply(ns, request)
    check(method == b"\x05\x00", f"{what}: method selection is no-auth", f"got {method!r}")
    check(reply[:2] == bytes([5, code]) and len(reply) == 10,
          f"{what}: reply code 0x{code:02x}", f"got {reply!r}")


def body(ctx):
    ns = ctx.netns("socks")
    site = ctx.workdir / "site"
    site.mkdir()
    small_sha = harness.random_file(site / "small.bin", 4096)
    big_sha = harness.random_file(site / "big.bin", 16 << 20)
    v4 = ctx.spawn("http4", [sys.executable, "-m", "http.server", "30001", "--bind", "127.0.0.1"],
                   ns=ns, cwd=site)
    v6 = ctx.spawn("http6", [sys.executable, "-m", "http.server", "30002", "--bind", "::1"],
                   ns=ns, cwd=site)
    ns.wait_tcp("127.0.0.1", 30001, 15, v4)
    v6_up = harness.Deadline(15, "[::1]:30002 to accept connections")
    v6_up.poll(lambda: ns.run(["curl", "-s", "-o", "/dev/null", "http://[::1]:30002/"],
                              timeout=10).returncode == 0 or v6.assert_running())
    tng = ctx.tng(ns, config())
    tunnelled = 0

    # Through the tunnel: by name (socks5h, resolved in the gateway) and by IPv4 address.
    fetch(ns, ctx, "http://localhost:20001/big.bin", ["--socks5-hostname", "127.0.0.1:1080"],
          big_sha, "tunnel by name")
    tunnelled += 1
    fetch(ns, ctx, "http://127.0.0.1:20001/small.bin", ["--socks5", "127.0.0.1:1080"], small_sha,
          "tunnel by IPv4 address")
    tunnelled += 1

    # Direct: destinations no filter matches, IPv4 and IPv6.
    fetch(ns, ctx, "http://127.0.0.1:30001/big.bin", ["--socks5", "127.0.0.1:1080"], big_sha,
          "direct IPv4")
    fetch(ns, ctx, "http://[::1]:30002/small.bin", ["--socks5", "127.0.0.1:1080"], small_sha,
          "direct IPv6")
    fetch(ns, ctx, "http://localhost:30001/small.bin", ["--socks5-hostname", "127.0.0.1:1080"],
          small_sha, "direct by name")

    # The egress port by an address no filter names: sent direct, so the egress sees plaintext
    # and refuses it. That the tunnelled requests above worked shows the filters chose.
    rc, code, _, err = curl(ns, ctx, "http://127.0.0.2:20001/small.bin",
                            ["--socks5", "127.0.0.1:1080"], "plain_to_egress")
    check(rc != 0 and code != "200", "unmatched destination on the egress port goes direct and "
          "the egress refuses the plaintext", f"curl exit {rc}, http code {code!r}: {err}")
    tng.wait_log(EGRESS_REFUSED, 10, "the egress to log the refused plaintext handshake")

    # Username/password (RFC 1929).
    fetch(ns, ctx, "http://127.0.0.1:20001/small.bin",
          ["--socks5-hostname", "127.0.0.1:1081", "--proxy-user", "alice:wonderland"], small_sha,
          "password auth")
    tunnelled += 1
    rc, _, _, err = curl(ns, ctx, "http://127.0.0.1:20001/small.bin",
                         ["--socks5-hostname", "127.0.0.1:1081", "--proxy-user", "alice:nope"],
                         "wrong_password")
    check(rc != 0, "a wrong password is rejected", f"curl exit {rc}: {err}")
    tng.wait_log(r"stage=auth[^\n]*wrong username or password \(username 'alice'\)", 10)
    rc, _, _, err = curl(ns, ctx, "http://127.0.0.1:20001/small.bin",
                         ["--socks5-hostname", "127.0.0.1:1081"], "no_credentials")
    check(rc != 0, "a client without credentials is rejected", f"curl exit {rc}: {err}")
    method, reply = socks_reply(ns, b"", greeting=b"\x05\x01\x00", port=1081)
    check(method == b"\x05\xff" and reply == b"", "only no-auth offered: method 0xff, then close",
          f"got {method!r} {reply!r}")
    tng.wait_log(r"no acceptable method: the client offered \[0x00\]", 10)

    # Failure replies name the cause (RFC 1928 section 6).
    expect_reply(ns, connect_v4("127.0.0.1", 30009), 0x05, "nothing listens on 30009")
    expect_reply(ns, connect_v4("10.99.0.1", 80), 0x03, "no route to 10.99.0.1")
    expect_reply(ns, connect_name("no-such-host.invalid", 80), 0x04, "unresolvable name")
    expect_reply(ns, connect_v4("127.0.0.1", 30001, command=2), 0x07, "BIND")
    expect_reply(ns, connect_v4("127.0.0.1", 30001, command=3), 0x07, "UDP ASSOCIATE")
    expect_reply(ns, bytes([5, 1, 0, 9, 1, 2, 3, 4, 0, 80]), 0x08, "address type 0x09")
    tng.wait_log(r"command 0x02 \(BIND\) to 127\.0\.0\.1:30001 is not supported", 10)

    # Malformed clients: each is logged by what was wrong; the listener keeps serving.
    with ns.connect("127.0.0.1", 1080, timeout=30) as s:
        s.settimeout(30)
        s.sendall(bytes([4, 1, 0, 80, 127, 0, 0, 1, 0]))  # SOCKS4
        check(s.recv(100) == b"", "a SOCKS4 client gets no reply and is closed")
    tng.wait_log(r"SOCKS version 0x04, expected 0x05 \(a SOCKS4 client\)", 10)
    with ns.connect("127.0.0.1", 1080, timeout=30) as s:
        s.settimeout(30)
        s.sendall(b"\x05\x01\x00" + bytes([5, 1, 0, 3, 40]) + b"cut-short")
        s.shutdown(socket.SHUT_WR)
        check(recv_exactly(s, 100) == b"\x05\x00", "a request cut short gets no reply")
    tng.wait_log(r"truncated request: client closed the connection after 14 of at least 47", 10)
    fetch(ns, ctx, "http://localhost:20001/small.bin", ["--socks5-hostname", "127.0.0.1:1080"],
          small_sha, "after the malformed clients")
    tunnelled += 1

    # Only the tunnelled requests reached the egress as tunnel sessions.
    harness.Deadline(15, f"{tunnelled} egress sessions to finish").poll(
        lambda: len(re.findall(EGRESS_DONE, tng.stderr_text())) >= tunnelled)
    sessions = len(re.findall(EGRESS_DONE, tng.stderr_text()))
    check(sessions == tunnelled, f"the egress served exactly the {tunnelled} tunnelled requests",
          f"it logged {sessions} finished sessions")

    tng.signal(signal.SIGTERM)
    rc = tng.wait(30, "tng to exit after SIGTERM")
    check(rc == 0, "tng exits 0 after SIGTERM", f"exit code {rc}")
    log("socks5 ingress served, filtered and refused as configured")


if __name__ == "__main__":
    sys.exit(harness.run("socks5_ingress", body))
