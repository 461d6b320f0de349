#!/usr/bin/env python3
"""`tng launch --bench-plain-tunnel`: the benchmark-only plaintext tunnel (bench/macro's plain
relay figure measures it against socat, HAProxy and nginx).

  * both processes of the seed no_ra pair, started with the flag, log the loud warning;
  * curl through the pair gets the file served (24 MiB, byte-exact) and the bytes on the
    ingress -> egress port are the plaintext HTTP request (no TLS record), so the flag does what
    it says and nothing else;
  * without the flag, the same port carries a TLS handshake (the tunnel is never plaintext by
    accident).
"""

import signal
import sys

import configs
import harness
from harness import check, log

WARNING = "tunnels between ingress and egress carry PLAINTEXT"


def fetch(ctx, ns, name, want, label):
    out = ctx.workdir / f"got-{label}-{name}"
    res = ns.run(["curl", "-sS", "--max-time", "60", "-o", out, "-w", "%{http_code}",
                  "-H", "X-Plain-Marker: 7f3c9a", f"http://127.0.0.1:10001/{name}"], timeout=90)
    code = res.stdout.decode().strip()
    check(res.returncode == 0 and code == "200", f"{label}: curl GET /{name} returns 200",
          f"curl exit {res.returncode}, http code {code!r}: {res.stderr.decode().strip()}")
    got = harness.sha256_file(out)
    check(got == want, f"{label}: /{name} is byte-exact", f"sha256 {got} != {want}")


def run_pair(ctx, ns, site_sha, plain):
    label = "plain" if plain else "tls"
    capture = ctx.workdir / f"{label}.pcap"
    dump = ctx.spawn(f"tcpdump-{label}", ["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", capture,
                                          "tcp port 20001"], ns=ns)
    dump.wait_log(r"listening on", 15)
    tng = ctx.tng(ns, configs.seed_no_ra_config(), name=f"tng-{label}",
                  args=["--bench-plain-tunnel"] if plain else [])
    fetch(ctx, ns, "big.bin", site_sha, label)
    tng.signal(signal.SIGTERM)
    check(tng.wait(30, "tng to exit") == 0, f"{label}: tng exits 0 after SIGTERM")
    dump.signal(signal.SIGINT)
    dump.wait(15, "tcpdump to exit")
    warned = WARNING in tng.stderr_text()
    check(warned == plain, f"{label}: the plaintext warning is {'logged' if plain else 'absent'}")
    data = capture.read_bytes()
    has_request = b"X-Plain-Marker: 7f3c9a" in data
    check(has_request == plain,
          f"{label}: the request is {'visible' if plain else 'not visible'} on the tunnel port")


def body(ctx):
    ns = ctx.netns("plain")
    site = ctx.workdir / "site"
    site.mkdir()
    big_sha = harness.random_file(site / "big.bin", 24 << 20)
    backend = ctx.spawn("http.server", [sys.executable, "-m", "http.server", "30001", "--bind",
                                        "127.0.0.1"], ns=ns, cwd=site)
    ns.wait_tcp("127.0.0.1", 30001, 15, backend)
    run_pair(ctx, ns, big_sha, plain=True)
    run_pair(ctx, ns, big_sha, plain=False)
    log("--bench-plain-tunnel relays plaintext, and only with the flag")


if __name__ == "__main__":
    sys.exit(harness.run("bench_plain_tunnel", body))
