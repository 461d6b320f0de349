"""Shared pieces of the attestation tests: the three-host topology, the reference AA and AS,
TNG attest/verify configs, a byte-recording backend, access-log parsing, and the two checks
every test makes: a good connection carries the attestation result into the access log, and a
rejected one closes the client with no plaintext byte reaching the backend.

Topology (one per scenario, every host its own network namespace):

    client ns  (app client, ingress tng [, its AA])  10.0.1.1 <-> 10.0.1.2  server ns
    client ns  10.0.2.1 <-> 10.0.2.2  as ns (tng-reference-as on 0.0.0.0:8080, 8081, ...)
    server ns  10.0.3.1 <-> 10.0.3.2  as ns
    server ns: egress tng on 0.0.0.0:20001.., backend on 127.0.0.1:30001 [, its AA]

AA sockets are unix sockets in the test's work directory.
"""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import harness  # noqa: E402
from harness import Deadline, Failure, check, log  # noqa: E402

BACKEND = HERE / "backend.py"
TLS_PEER = HERE / "tls_peer.py"
INGRESS_PORT = 10001
EGRESS_PORT = 20001
BACKEND_PORT = 30001
AS_PORT = 8080
RA_OID = "2.23.133.5.4.9"

FAILED_ATTESTATION = r'msg="connection failed"[^\n]*stage=attestation'
CLOSED = r'msg="connection closed"'


# ---------------------------------------------------------------------------------------------
# logfmt

_KV = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def logfmt(line):
    """The key=value pairs of one log line (quoted values unescaped)."""
    out = {}
    for k, v in _KV.findall(line):
        if v.startswith('"'):
            v = v[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        out[k] = v
    return out


def log_lines(proc, pattern):
    return [l for l in proc.stderr_text().splitlines() if re.search(pattern, l)]


# ---------------------------------------------------------------------------------------------
# TNG config pieces


def attest(aa_addr, model=None, as_addr=None, policy_ids=None, refresh_interval=None):
    a = {"aa_addr": aa_addr}
    if model:
        a["model"] = model
    if as_addr:
        a["as_addr"] = as_addr
    if policy_ids is not None:
        a["policy_ids"] = list(policy_ids)
    if refresh_interval is not None:
        a["refresh_interval"] = refresh_interval
    return a


def verify(as_addr=None, policy_ids=("default",), model=None, trusted_certs_paths=None):
    v = {}
    if model:
        v["model"] = model
    if as_addr:
        v["as_addr"] = as_addr
    v["policy_ids"] = list(policy_ids)
    if trusted_certs_paths:
        v["trusted_certs_paths"] = [str(p) for p in trusted_certs_paths]
    return v


def ra(attest_opts=None, verify_opts=None):
    """The RA part of an endpoint: attest and/or verify, or no_ra when neither is given."""
    out = {}
    if attest_opts:
        out["attest"] = attest_opts
    if verify_opts:
        out["verify"] = verify_opts
    return out or {"no_ra": True}


def ingress(in_port, out_host, out_port, ra_opts):
    return {"mapping": {"in": {"host": "127.0.0.1", "port": in_port},
                        "out": {"host": out_host, "port": out_port}}, **ra_opts}


def egress(in_port, ra_opts, out_port=BACKEND_PORT):
    return {"mapping": {"in": {"host": "0.0.0.0", "port": in_port},
                        "out": {"host": "127.0.0.1", "port": out_port}}, **ra_opts}


# ---------------------------------------------------------------------------------------------
# hosts and processes


class Backend:
    """backend.py: an HTTP responder that stores every byte it receives, one file per connection."""

    def __init__(self, ctx, ns, port=BACKEND_PORT, name="backend"):
        self.rx_dir = ctx.workdir / f"{name}-rx"
        self.rx_dir.mkdir()
        self.proc = ctx.spawn(name, [sys.executable, BACKEND, "--port", port, "--rx-dir",
                                     self.rx_dir], ns=ns)
        self.proc.wait_log(r"backend listening", 15)

    def files(self):
        return sorted(self.rx_dir.glob("*.bin"))

    def connections(self):
        return len(self.files())

    def received(self):
        return b"".join(p.read_bytes() for p in self.files())

    def total_bytes(self):
        return sum(p.stat().st_size for p in self.files())


class Topology:
    """Client, server and AS namespaces joined by veth (see the module docstring)."""

    def __init__(self, ctx, tag, link_client_as=True):
        self.ctx = ctx
        self.tag = tag
        self.client = ctx.netns(tag + "c")
        self.server = ctx.netns(tag + "s")
        self.asns = ctx.netns(tag + "a")
        _, self.server_ip = ctx.link(self.client, self.server, 1)
        self.as_ip_from_client = None
        if link_client_as:
            _, self.as_ip_from_client = ctx.link(self.client, self.asns, 2)
        _, self.as_ip_from_server = ctx.link(self.server, self.asns, 3)
        self.backend = Backend(ctx, self.server, name=f"{tag}-backend")

    def as_addr(self, side, port=AS_PORT):
        ip = self.as_ip_from_client if side == "client" else self.as_ip_from_server
        if ip is None:
            raise Failure(f"{self.tag}: the client namespace has no link to the AS")
        return f"http://{ip}:{port}"

    def start_aa(self, side, name, *flags, start=True, sock=None):
        """A tng-reference-aa for `side` ("client"/"server"); returns (proc or None, aa_addr).

        The socket is named after `sock` (default: name). With start=False only the address
        is chosen (nothing listens there yet).
        """
        path = self.ctx.workdir / f"{self.tag}-{sock or name}.sock"
        addr = f"unix://{path}"
        if not start:
            return None, addr
        ns = self.client if side == "client" else self.server
        return harness.start_reference_aa(self.ctx, ns, path, f"{self.tag}-{name}", *flags)

    def start_as(self, name, *flags, port=AS_PORT):
        return harness.start_reference_as(self.ctx, self.asns, f"0.0.0.0:{port}",
                                          f"{self.tag}-{name}", *flags)

    def as_certificate(self, port=AS_PORT):
        """The AS's trust anchors (GET /certificate) saved as a PEM file; returns its path."""
        out = self.ctx.workdir / f"{self.tag}-as-{port}.pem"
        res = self.server.run(["curl", "-sS", "--max-time", "10", "-o", out,
                               f"{self.as_addr('server', port)}/certificate"], timeout=20)
        check(res.returncode == 0 and b"BEGIN CERTIFICATE" in out.read_bytes(),
              f"fetched the AS certificate chain from :{port} into {out.name}",
              res.stderr.decode(errors="replace"))
        return out

    def start_tng(self, side, name, ingress_eps=(), egress_eps=(), wait="ready"):
        """tng in the client or server namespace with the given endpoints.

        wait="ready" waits for `gateway ready`; wait="listening" only for its listeners (for
        scenarios where attestation material may never arrive).
        """
        ns = self.client if side == "client" else self.server
        cfg = {}
        if ingress_eps:
            cfg["add_ingress"] = list(ingress_eps)
        if egress_eps:
            cfg["add_egress"] = list(egress_eps)
        name = f"{self.tag}-{name}"
        if wait == "ready":
            return self.ctx.tng(ns, cfg, name=name)
        path = self.ctx.workdir / f"{name}.json"
        path.write_text(json.dumps(cfg, indent=2))
        proc = self.ctx.spawn(name, [harness.tng_bin(), "launch", "--config-file", path], ns=ns)
        ports = [ep["mapping"]["in"]["port"] for ep in (*ingress_eps, *egress_eps)]
        wait_listening(ns, ports, proc)
        return proc


def wait_listening(ns, ports, proc, seconds=20):
    """Waits until every port has a TCP listener in ns (read with ss: no probe connection)."""
    def listening():
        proc.assert_running("while waiting for its listeners")
        out = ns.run(["ss", "-Hltn"], timeout=10).stdout.decode()
        have = {int(m) for m in re.findall(r":(\d+)\s", out)}
        return all(p in have for p in ports)
    Deadline(seconds, f"{proc.name} to listen on {ports}").poll(listening, interval=0.05)


# ---------------------------------------------------------------------------------------------
# checks


def curl_ok(topo, port=INGRESS_PORT, what="curl through the tunnel", path="/hello"):
    """curl via the ingress: HTTP 200 with the backend's reply. Returns the body."""
    res = topo.client.run(["curl", "-sS", "--max-time", "30", "-w", "\n%{http_code}",
                           f"http://127.0.0.1:{port}{path}"], timeout=45)
    out = res.stdout.decode(errors="replace")
    body, _, code = out.rpartition("\n")
    check(res.returncode == 0 and code == "200" and "backend reply" in body,
          f"{topo.tag}: {what} (:{port}) returns 200 from the backend",
          f"curl exit {res.returncode}, code {code!r}, body {body[:120]!r}: "
          f"{res.stderr.decode(errors='replace').strip()}")
    return body


def wait_curl_ok(topo, seconds, port=INGRESS_PORT, what="a good connection"):
    """Retries curl until one succeeds (after a dependency came back), then checks it."""
    last = []

    def once():
        res = topo.client.run(["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w",
                               "%{http_code}", f"http://127.0.0.1:{port}/retry"], timeout=20)
        last[:] = [f"exit {res.returncode} code {res.stdout.decode()!r} "
                   f"{res.stderr.decode(errors='replace').strip()}"]
        return res.returncode == 0 and res.stdout.decode() == "200"
    Deadline(seconds, f"{topo.tag}: {what} via :{port}").poll(
        once, interval=0.5, detail=lambda: f"last curl: {last[0] if last else '-'}")
    curl_ok(topo, port, what)


def closed_line(proc, side, after=0, seconds=15):
    """The first `connection closed` line of `side` logged after the first `after` such lines."""
    pattern = rf'{CLOSED}[^\n]*side={side}\b'

    def found():
        lines = log_lines(proc, pattern)
        if len(lines) > after:
            return lines[after]
        proc.assert_running("before logging the connection")
        return None
    line = Deadline(seconds, f"{proc.name} to log a closed {side} connection").poll(
        found, detail=lambda: "stderr ends:\n" + proc.tail())
    return logfmt(line)


def count_closed(proc, side):
    return len(log_lines(proc, rf'{CLOSED}[^\n]*side={side}\b'))


def check_result_fields(proc, side, kv, peer_tee=None, policy_ids=None, local_tee=None):
    """The access-log line carries exactly the attestation facts this side has."""
    who = f"{proc.name} {side} access line"
    if peer_tee:
        check(kv.get("peer_tee") == peer_tee, f"{who} has peer_tee={peer_tee}", f"got {kv}")
        want = ",".join(policy_ids)
        check(kv.get("peer_policy_ids") == want, f"{who} has peer_policy_ids={want}",
              f"got {kv}")
    else:
        check("peer_tee" not in kv and "peer_policy_ids" not in kv,
              f"{who} has no peer attestation result (it verifies nothing)", f"got {kv}")
    if local_tee:
        check(kv.get("local_tee") == local_tee, f"{who} has local_tee={local_tee}", f"got {kv}")
    else:
        check("local_tee" not in kv, f"{who} has no local_tee (it attests nothing)", f"got {kv}")
    check(kv.get("result") == "ok", f"{who} says result=ok", f"got {kv}")


def app_attempt(ns, port, marker, seconds=20):
    """A plain app client: connects, sends a request carrying `marker` at once, reads to the end.

    Returns (bytes received, how it ended: "eof", "reset" or an error text); Failure if the
    gateway neither answers nor closes within `seconds`.
    """
    s = ns.connect("127.0.0.1", port, timeout=10)
    got = b""
    try:
        s.settimeout(seconds)
        try:
            s.sendall(f"GET /{marker} HTTP/1.1\r\nHost: app\r\nX-Secret: {marker}\r\n\r\n"
                      .encode())
        except (BrokenPipeError, ConnectionResetError):
            return got, "reset"
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return got, "reset"
            except socket.timeout:
                raise Failure(f"the client on :{port} was neither answered nor closed within "
                              f"{seconds:g}s (received {len(got)} bytes)")
            if not chunk:
                return got, "eof"
            got += chunk
    finally:
        s.close()


def expect_rejected(topo, what, rejecter, hint, port=INGRESS_PORT, client_seconds=20,
                    log_seconds=20, others=(), attempt=None, stage=FAILED_ATTESTATION):
    """One rejected connection: the client is closed having received nothing, `rejecter` logs
    `connection failed` at `stage` (attestation) with an error matching `hint`, the backend got
    no byte, and every tng process is still running. Returns the logged error text.

    attempt(marker) -> (bytes received, how it ended) replaces the plain app client (e.g. a
    TLS peer that talks to an egress directly)."""
    before_fail = len(log_lines(rejecter, stage))
    before_bytes = topo.backend.total_bytes()
    marker = f"secret-{topo.tag}-{os.urandom(6).hex()}"
    if attempt is None:
        got, how = app_attempt(topo.client, port, marker, client_seconds)
    else:
        got, how = attempt(marker)
    check(got == b"", f"{what}: the client sees the connection closed ({how}) with no reply",
          f"received {got[:200]!r}")

    def failed():
        lines = log_lines(rejecter, stage)
        return lines[before_fail] if len(lines) > before_fail else None
    line = Deadline(log_seconds, f"{rejecter.name} to log the failed connection ({what})").poll(
        failed, detail=lambda: "stderr ends:\n" + rejecter.tail())
    kv = logfmt(line)
    err = kv.get("error", "")
    check(err.strip() != "", f"{what}: {rejecter.name} logs stage={kv.get('stage')} with an "
          f"error: {err[:200]}", f"line: {line}")
    check(re.search(hint, err, re.I), f"{what}: the error names the cause (/{hint}/)",
          f"error was: {err}")
    check_no_plaintext(topo, what, before_bytes, marker)
    for p in (rejecter, *others):
        p.assert_running(f"after {what}")
    return err


def check_no_plaintext(topo, what, before_bytes, marker):
    total = topo.backend.total_bytes()
    check(total == before_bytes, f"{what}: the backend received no byte",
          f"{total - before_bytes} bytes arrived")
    check(marker.encode() not in topo.backend.received(),
          f"{what}: the request never reached the backend")


def server_cert_text(ns, host, port, extra=()):
    """The text form of the certificate a TLS server presents (openssl s_client, ALPN rats-tls)."""
    res = ns.run(["openssl", "s_client", "-connect", f"{host}:{port}", "-alpn", "rats-tls",
                  "-tls1_3", *extra], input=b"", timeout=20)
    pem = re.search(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", res.stdout,
                    re.S)
    if not pem:
        raise Failure(f"no certificate from {host}:{port}: "
                      f"{res.stderr.decode(errors='replace')[-400:]}")
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-fingerprint", "-sha256"],
                          input=pem.group(0), capture_output=True, timeout=10)
    return text.stdout.decode(errors="replace")


def make_cert(ctx, name, addext=()):
    """A self-signed P-256 certificate like TNG's (CN=TNG), with extra -addext values only."""
    key, crt = ctx.workdir / f"{name}.key", ctx.workdir / f"{name}.crt"
    args = []
    for e in addext:
        args += ["-addext", e]
    harness.run_checked(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                         "ec_paramgen_curve:P-256", "-nodes", "-subj",
                         "/CN=TNG/O=Inclavare Containers", "-days", "1", *args, "-keyout", key,
                         "-out", crt], f"certificate {name}")
    return crt, key
