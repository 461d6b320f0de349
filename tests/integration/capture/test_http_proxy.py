#!/usr/bin/env python3
"""The http_proxy ingress of the real binary, driven by curl (all_proxy, -x, -p -x), nc -X connect
and raw sockets.

Two namespaces joined by a veth: `client` (10.S.1) runs tng with three http_proxy ingresses,
`server` (10.S.2) runs tng with mapping egresses on ports 80, 20001, 20010 and 20011 in front of
a `python3 -m http.server` backend on 127.0.0.1:30001 (the egress stands where a netfilter egress
would capture the destination port), and a second http.server on 0.0.0.0:20012 that is reached
only directly. In the client namespace, model.pai-eas.aliyuncs.com, api1.test and api9.test
resolve to the server (through /etc/netns/<ns>/hosts, which `ip netns exec` mounts).

  41000  the manual's http_proxy example (seed 001, "http_proxy代理方式"), verbatim: verify
         against the AS at the published http://127.0.0.1:50004/ (a reference AS in the client
         namespace), policy "default";
         dst_filter {"domain": "*.pai-eas.aliyuncs.com", "port": 80}
  41001  the manual's second example's filter: dst_filter {"domain": "*"} (any name, any port)
  41002  dst_filters [{"ip_cidr": "10.S.0/24", "port": 20001},
                      {"domain_regex": "^api[0-9]+\\.test$", "port": 20010, "port_end": 20011}]
41001 and 41002 verify like the seed; every egress attests with a reference AA (`sample`
evidence) in the server namespace, so every tunnel is attested one way.
Checks: the seed's access-log lines carry the verification (ingress: peer_tee,
peer_policy_ids) and the attestation (egress: local_tee); tunnelled destinations reach the backend through the egress (its access log counts the
sessions), the others go direct (the direct backend logs them; the egress count does not move);
absolute-URI and CONNECT, byte-exact bulk through CONNECT; the recursion guard; malformed input
gets the right status and the listener keeps serving.
"""

import re
import signal
import sys

from netfilter_peers import SEED_AS_ADDR, SEED_AS_LISTEN, hosts_file
import common
import harness
from harness import check, log

SUBNET = 71
SERVER = f"10.0.{SUBNET}.2"
EGRESS_DONE = r'msg="connection closed" endpoint=\S+ side=egress'
NAMES = ("model.pai-eas.aliyuncs.com", "api1.test", "api9.test")


# The seed's verify block, as published (its as_addr is where the client's reference AS listens).
SEED_VERIFY = {"as_addr": SEED_AS_ADDR, "policy_ids": ["default"]}


def client_config():
    seed = {  # seed 001 "http_proxy代理方式", as published
        "http_proxy": {
            "proxy_listen": {"host": "0.0.0.0", "port": 41000},
            "dst_filter": {"domain": "*.pai-eas.aliyuncs.com", "port": 80},
        },
        "verify": SEED_VERIFY,
    }
    any_name = {"http_proxy": {"proxy_listen": {"host": "0.0.0.0", "port": 41001},
                               "dst_filter": {"domain": "*"}},
                "verify": SEED_VERIFY}
    mixed = {"http_proxy": {"proxy_listen": {"host": "127.0.0.1", "port": 41002},
                            "dst_filters": [
                                {"ip_cidr": f"10.0.{SUBNET}.0/24", "port": 20001},
                                {"domain_regex": r"^api[0-9]+\.test$", "port": 20010,
                                 "port_end": 20011}]},
             "verify": SEED_VERIFY}
    return {"add_ingress": [seed, any_name, mixed]}


def server_config(aa_addr):
    egress = [{"mapping": {"in": {"host": "0.0.0.0", "port": port},
                           "out": {"host": "127.0.0.1", "port": 30001}},
               "attest": {"aa_addr": aa_addr}} for port in (80, 20001, 20010, 20011)]
    return {"add_egress": egress}


class Counter:
    """Counts egress sessions and direct-backend requests, to prove which way a request went."""

    def __init__(self, egress, direct):
        self.egress, self.direct = egress, direct

    def sessions(self):
        return len(re.findall(EGRESS_DONE, self.egress.stderr_text()))

    def direct_hits(self, path):
        return self.direct.stderr_text().count(f"GET {path} HTTP")

    def expect(self, what, tunnel_before, direct_before, path, tunnelled):
        """Waits until the request shows up where it should, then checks the other side."""
        if tunnelled:
            harness.Deadline(15, f"{what}: the egress to log the session").poll(
                lambda: self.sessions() > tunnel_before)
            check(self.direct_hits(path) == direct_before,
                  f"{what}: went through the tunnel (the direct backend did not see it)")
        else:
            harness.Deadline(15, f"{what}: the direct backend to log {path}").poll(
                lambda: self.direct_hits(path) > direct_before)
            check(self.sessions() == tunnel_before,
                  f"{what}: went direct (no egress session)",
                  f"egress sessions {tunnel_before} -> {self.sessions()}")


def curl(ns, ctx, url, args, name, env=()):
    out = ctx.workdir / name
    argv = ["env", *env, "curl", "-sS", "--max-time", "60", "-o", out, "-w", "%{http_code}",
            *args, url]
    res = ns.run(argv, timeout=90)
    return res.returncode, res.stdout.decode().strip(), out, res.stderr.decode().strip()


def fetch(ns, ctx, counter, url, args, want_sha, what, tunnelled, env=()):
    path = "/" + url.split("/", 3)[3]
    before = (counter.sessions(), counter.direct_hits(path))
    rc, code, out, err = curl(ns, ctx, url, args, re.sub(r"\W", "_", what), env)
    check(rc == 0 and code == "200", f"{what}: {' '.join(env)} curl {' '.join(args)} {url} -> 200",
          f"curl exit {rc}, http code {code!r}: {err}")
    got = harness.sha256_file(out)
    check(got == want_sha, f"{what}: body is the file served ({out.stat().st_size} bytes)",
          f"sha256 {got} != {want_sha}")
    counter.expect(what, *before, path, tunnelled)


def raw_exchange(ns, port, data, timeout=30):
    """Sends `data` to the proxy, half-closes, returns everything it answers until it closes."""
    with ns.connect("127.0.0.1", port, timeout=timeout) as s:
        s.settimeout(timeout)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the proxy answered and stopped reading early; the answer is still there
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
        return got


def status_of(answer):
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", answer)
    return int(m.group(1)) if m else None


def body(ctx):
    cns = ctx.netns("client")
    sns = ctx.netns("server")
    ctx.link(cns, sns, SUBNET)
    with hosts_file(cns, {n: SERVER for n in NAMES}):
        run_checks(ctx, cns, sns)


def run_checks(ctx, cns, sns):
    site = ctx.workdir / "site"
    site.mkdir()
    small_sha = harness.random_file(site / "small.bin", 4096)
    big_sha = harness.random_file(site / "big.bin", 6 << 20)
    backend = ctx.spawn("backend", [sys.executable, "-m", "http.server", "30001", "--bind",
                                    "127.0.0.1"], ns=sns, cwd=site)
    direct = ctx.spawn("direct", [sys.executable, "-m", "http.server", "20012", "--bind",
                                  "0.0.0.0"], ns=sns, cwd=site)
    sns.wait_tcp("127.0.0.1", 30001, 15, backend)
    sns.wait_tcp("127.0.0.1", 20012, 15, direct)
    _, aa_addr = harness.start_reference_aa(ctx, sns, ctx.workdir / "aa.sock", "aa")
    harness.start_reference_as(ctx, cns, SEED_AS_LISTEN, "as")
    egress = ctx.tng(sns, server_config(aa_addr), name="tng-server")
    ingress = ctx.tng(cns, client_config(), name="tng-client")
    counter = Counter(egress, direct)
    model = "model.pai-eas.aliyuncs.com"

    # The seed example: all_proxy=http://... curl, as the manual shows it.
    seed_env = ["all_proxy=http://127.0.0.1:41000"]
    fetch(cns, ctx, counter, f"http://{model}/small.bin", [], small_sha,
          "seed: *.pai-eas.aliyuncs.com:80 via all_proxy", True, seed_env)
    common.check_result_fields(ingress, "ingress", common.closed_line(ingress, "ingress"),
                               peer_tee="sample", policy_ids=["default"])
    # The forwarded exchange ends the tunnel with close_notify: the egress logs a clean close,
    # not a truncated (reset) stream.
    kv = common.closed_line(egress, "egress")
    check(kv.get("local_tee") == "sample" and "peer_tee" not in kv and kv.get("result") == "ok",
          "tng-server egress access line has local_tee=sample, no peer result, result=ok",
          f"got {kv}")
    fetch(cns, ctx, counter, f"http://{model}:20012/small.bin", [], small_sha,
          "seed: matching name, other port goes direct", False, seed_env)
    fetch(cns, ctx, counter, f"http://{SERVER}:20012/big.bin", [], big_sha,
          "seed: an address goes direct", False, seed_env)
    fetch(cns, ctx, counter, f"http://api1.test:20012/small.bin", [], small_sha,
          "seed: another domain goes direct", False, seed_env)

    # dst_filter {"domain": "*"}: every host, any port; addresses too (TNG matches the host text).
    fetch(cns, ctx, counter, f"http://api9.test:20001/big.bin", ["-x", "http://127.0.0.1:41001"],
          big_sha, "domain *: a name goes through the tunnel", True)
    fetch(cns, ctx, counter, f"http://{SERVER}:20001/small.bin", ["-x", "http://127.0.0.1:41001"],
          small_sha, "domain *: an address goes through the tunnel", True)
    # CONNECT (curl -p) to a plain HTTP backend, byte-exact bulk.
    fetch(cns, ctx, counter, f"http://{model}:80/big.bin", ["-p", "-x", "http://127.0.0.1:41001"],
          big_sha, "domain *: CONNECT bulk through the tunnel", True)
    fetch(cns, ctx, counter, f"http://{SERVER}:20012/big.bin",
          ["-p", "-x", "http://127.0.0.1:41000"], big_sha, "seed filter: CONNECT direct", False)

    # ip_cidr + port, domain_regex + port range.
    mixed = ["-x", "http://127.0.0.1:41002"]
    fetch(cns, ctx, counter, f"http://{SERVER}:20001/small.bin", mixed, small_sha,
          "ip_cidr 10.0.71.0/24 port 20001: tunnel", True)
    fetch(cns, ctx, counter, f"http://{SERVER}:20012/small.bin", mixed, small_sha,
          "ip_cidr: other port goes direct", False)
    fetch(cns, ctx, counter, f"http://api1.test:20010/small.bin", mixed, small_sha,
          "domain_regex port 20010 (range start): tunnel", True)
    fetch(cns, ctx, counter, f"http://api9.test:20011/small.bin", ["-p", *mixed], small_sha,
          "domain_regex port 20011 (range end), CONNECT: tunnel", True)
    fetch(cns, ctx, counter, f"http://api9.test:20012/small.bin", mixed, small_sha,
          "domain_regex port 20012 (past the range): direct", False)

    # nc -X connect -x, as the manual's cachefs example uses it.
    before = counter.sessions()
    res = cns.run(["nc", "-N", "-w", "30", "-X", "connect", "-x", "127.0.0.1:41002", SERVER,
                   "20001"], input=b"GET /small.bin HTTP/1.0\r\n\r\n", timeout=60)
    check(res.stdout.startswith(b"HTTP/1.0 200") and
          harness.sha256_hex(res.stdout.split(b"\r\n\r\n", 1)[-1]) == small_sha,
          "nc -X connect -x: the file through the tunnel",
          f"exit {res.returncode}, got {res.stdout[:120]!r}, {res.stderr.decode().strip()}")
    counter.expect("nc -X connect", before, counter.direct_hits("/small.bin"), "/small.bin", True)

    # The recursion guard: a request that already carries the header, and a client that uses
    # the proxy as the origin (the proxy forwards to itself; the inner pass refuses).
    rc, code, out, err = curl(cns, ctx, f"http://{SERVER}:20012/small.bin",
                              ["-x", "http://127.0.0.1:41000", "-H", "X-Tng-Http-Forward: true"],
                              "recursion_header")
    check(code == "400" and out.read_text() == "recursion is detected",
          "X-Tng-Http-Forward on a request -> 400 recursion is detected",
          f"curl exit {rc}, code {code!r}, body {out.read_bytes()[:200]!r}: {err}")
    rc, code, out, err = curl(cns, ctx, "http://127.0.0.1:41000/", [], "recursion_self")
    check(code == "400" and out.read_text() == "recursion is detected",
          "curl 127.0.0.1:41000 (the proxy as origin) -> 400 recursion is detected",
          f"curl exit {rc}, code {code!r}, body {out.read_bytes()[:200]!r}: {err}")
    ingress.wait_log(r"recursion is detected \(answered 400\)", 10)

    # Malformed input: the right status, a log line naming the problem, and the listener
    # keeps serving.
    answer = raw_exchange(cns, 41001, b"garbage\r\n\r\n")
    check(status_of(answer) == 400, "a garbage request line -> 400", f"got {answer[:200]!r}")
    ingress.wait_log(r"stage=request[^\n]*request line[^\n]*answered 400", 10)
    big_header = (b"GET http://api1.test:20012/ HTTP/1.1\r\nHost: api1.test:20012\r\nX-Big: " +
                  b"x" * (80 << 10) + b"\r\n\r\n")
    answer = raw_exchange(cns, 41001, big_header)
    check(status_of(answer) == 431, "an 80 KiB header -> 431", f"got {answer[:200]!r}")
    ingress.wait_log(r"header block larger than \d+ bytes[^\n]*answered 431", 10)
    answer = raw_exchange(cns, 41001, b"CONNECT api1.test HTTP/1.1\r\nHost: api1.test\r\n\r\n")
    check(status_of(answer) == 400 and b"CONNECT needs host:port" in answer,
          "CONNECT without a port -> 400 naming it", f"got {answer[:300]!r}")
    answer = raw_exchange(cns, 41001, b"CONNECT api1.test:20099 HTTP/1.1\r\n"
                                      b"Host: api1.test:20099\r\n\r\n")
    check(status_of(answer) == 502 and b"refused" in answer,
          "CONNECT to a closed port -> 502 naming the refusal", f"got {answer[:300]!r}")
    answer = raw_exchange(cns, 41001, b"GET / HTTP/1.0\r\n\r\n")
    check(status_of(answer) == 400 and b"neither an absolute URI nor a Host" in answer,
          "no destination at all -> 400", f"got {answer[:300]!r}")
    fetch(cns, ctx, counter, f"http://api1.test:20001/small.bin", ["-x", "http://127.0.0.1:41001"],
          small_sha, "after the malformed clients", True)

    # Keep-alive across destinations: one curl, two URLs on one proxy connection, one tunnelled
    # and one direct; each request goes where its own authority says.
    before = (counter.sessions(), counter.direct_hits("/big.bin"))
    out1, out2 = ctx.workdir / "ka1", ctx.workdir / "ka2"
    res = cns.run(["curl", "-sS", "--max-time", "60", "-x", "http://127.0.0.1:41002",
                   f"http://{SERVER}:20001/small.bin", "-o", out1,
                   f"http://{SERVER}:20012/big.bin", "-o", out2], timeout=90)
    check(res.returncode == 0 and harness.sha256_file(out1) == small_sha and
          harness.sha256_file(out2) == big_sha,
          "keep-alive: a tunnelled then a direct request on one proxy connection",
          f"curl exit {res.returncode}: {res.stderr.decode().strip()}")
    harness.Deadline(15, "the keep-alive tunnel session to finish").poll(
        lambda: counter.sessions() == before[0] + 1 and counter.direct_hits("/big.bin") ==
        before[1] + 1)

    for proc in (ingress, egress):
        proc.signal(signal.SIGTERM)
        rc = proc.wait(30, f"{proc.name} to exit after SIGTERM")
        check(rc == 0, f"{proc.name} exits 0 after SIGTERM", f"exit code {rc}")
    log("http_proxy ingress routed, forwarded and refused as configured")


if __name__ == "__main__":
    sys.exit(harness.run("http_proxy_ingress", body))
