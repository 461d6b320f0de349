"""Peers of the netfilter capture tests: a client and a server namespace joined by veth, an HTTP
server (python3 -m http.server) whose request log names the address each request came from,
tcpdump on the server's veth, and what the manual's attest/verify examples assume on a host (an
AA on a unix socket, an AS on 127.0.0.1:50004: the reference stand-ins). Namespace, rule-state
and AA/AS start-up helpers live in ../harness.py, access-log checks in ../attestation/common.py."""

import contextlib
import json
import re
import shutil
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "attestation"))
import harness  # noqa: E402
from harness import Deadline, check  # noqa: E402
import common  # noqa: E402

MARKER = b"PLAINTEXT-MARKER-7f3a9c1e-must-not-cross-the-wire"

# The AS address the manual's examples use; every host runs its own reference AS there.
SEED_AS_ADDR = "http://127.0.0.1:50004/"
SEED_AS_LISTEN = "127.0.0.1:50004"


def seed_attestation(ctx, ns, tag):
    """A reference AS on the seeds' 127.0.0.1:50004 and a reference AA (`sample` evidence) on a
    unix socket in the work directory (the seeds' /tmp/attestation.sock would be shared by
    every test at once), both in ns; returns the AA's aa_addr."""
    harness.start_reference_as(ctx, ns, SEED_AS_LISTEN, f"{tag}-as")
    _, aa_addr = harness.start_reference_aa(ctx, ns, ctx.workdir / f"{tag}-aa.sock", f"{tag}-aa")
    return aa_addr


def seed_config(text, addresses):
    """A config example of the manual, given as its published JSON text, with only the
    addresses in `addresses` ({published: ours}) replaced; the result must parse as JSON."""
    for published, ours in addresses.items():
        if published not in text:
            raise harness.Failure(f"the seed text has no {published!r} to replace")
        text = text.replace(published, ours)
    return json.loads(text)


def check_mutual_ra(tng, side, after=0):
    """The `after`-th closed `side` connection of tng was attested both ways: its access-log
    line carries the peer's TEE and policy ids (verified) and its own TEE (attested)."""
    kv = common.closed_line(tng, side, after=after)
    common.check_result_fields(tng, side, kv, peer_tee="sample", policy_ids=["default"],
                               local_tee="sample")
    return kv


def two_hosts(ctx, subnet):
    """Client and server namespaces joined by veth; returns (client, server, c_ip, s_ip)."""
    client = ctx.netns("c")
    server = ctx.netns("s")
    c_ip, s_ip = ctx.link(client, server, subnet)
    return client, server, c_ip, s_ip


@contextlib.contextmanager
def hosts_file(ns, names):
    """/etc/netns/<ns>/hosts (which `ip netns exec` mounts over /etc/hosts) naming {name: ip}."""
    hosts_dir = Path("/etc/netns") / ns.name
    hosts_dir.mkdir(parents=True)
    try:
        (hosts_dir / "hosts").write_text(
            "127.0.0.1 localhost\n" + "".join(f"{ip} {n}\n" for n, ip in names.items()))
        yield
    finally:
        shutil.rmtree(hosts_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            hosts_dir.parent.rmdir()  # only when no other test uses it


def make_site(ctx, big_size=4 << 20):
    """A folder with big.bin (random) and marker.txt; returns (folder, sha256 of big.bin)."""
    site = ctx.workdir / "site"
    site.mkdir(exist_ok=True)
    sha = harness.random_file(site / "big.bin", big_size)
    (site / "marker.txt").write_bytes(MARKER * 64)
    return site, sha


def http_server(ctx, ns, port, site, name):
    proc = ctx.spawn(name, [sys.executable, "-m", "http.server", str(port), "--bind", "0.0.0.0"],
                     ns=ns, cwd=site)
    ns.wait_tcp("127.0.0.1", port, 15, proc)
    return proc


def request_peers(proc, path):
    """The client addresses http.server logged for GET requests of `path`."""
    rx = re.compile(r'^(\S+) - - \[[^\]]*\] "GET ' + re.escape(path) + r' ', re.M)
    return rx.findall(proc.stderr_text())


def curl(ctx, ns, url, out_name, args=()):
    """curl from ns; returns (exit code, http code, output path, stderr)."""
    out = ctx.workdir / out_name
    res = ns.run(["curl", "-sS", "--max-time", "60", "-o", out, "-w", "%{http_code}", *args, url],
                 timeout=90)
    return res.returncode, res.stdout.decode().strip(), out, res.stderr.decode().strip()


def fetch(ctx, ns, url, want_sha, what, args=()):
    """curl url from ns and check the body byte-exact against want_sha (sha256 hex)."""
    rc, code, out, err = curl(ctx, ns, url, re.sub(r"\W", "_", what), args)
    check(rc == 0 and code == "200", f"{what}: curl {url} returns 200",
          f"curl exit {rc}, http code {code!r}: {err}")
    got = harness.sha256_file(out)
    check(got == want_sha, f"{what}: body is byte-exact ({out.stat().st_size} bytes)",
          f"sha256 {got} != {want_sha}")


def veth_of(ns):
    """The namespace's veth interface (the only one besides lo)."""
    res = ns.run(["ip", "-o", "link", "show"], check_rc=True)
    names = [l.split(":")[1].strip().split("@")[0] for l in res.stdout.decode().splitlines()]
    names = [n for n in names if n != "lo"]
    if len(names) != 1:
        raise harness.Failure(f"expected one veth in {ns.name}, found {names}")
    return names[0]


class Wire:
    """tcpdump writing every packet of one TCP port on the namespace's veth to a pcap file
    (immediate mode: without it packets of the last second sit in a kernel ring block that a
    stopping tcpdump never reads)."""

    def __init__(self, ctx, ns, port, name="tcpdump"):
        self.path = ctx.workdir / f"{name}.pcap"
        self.proc = ctx.spawn(name, ["tcpdump", "-n", "-U", "--immediate-mode", "-s", "0", "-i",
                                     veth_of(ns), "-w", self.path, "tcp", "port", str(port)], ns=ns)
        self.proc.wait_log(r"listening on", 15, "tcpdump to start capturing")

    def wait_for(self, data, seconds=10, what=None):
        """Waits until the captured bytes contain `data` (tcpdump writes a little behind)."""
        Deadline(seconds, what or f"{data!r} in the capture").poll(
            lambda: data in self.path.read_bytes() or self.proc.assert_running())

    def stop(self):
        """Stops tcpdump (it flushes on SIGTERM) and returns the captured bytes."""
        self.proc.signal(signal.SIGTERM)
        rc = self.proc.wait(15, "tcpdump to exit")
        check(rc == 0, "tcpdump exits cleanly", self.proc.tail())
        return self.path.read_bytes()


def wait_access_logs(tng, side, count, seconds=15):
    """Waits until tng logged `count` finished connections on `side` (ingress/egress)."""
    rx = re.compile(r'msg="connection closed" endpoint=\S+ side=' + side)
    Deadline(seconds, f"{tng.name} to log {count} closed {side} connections").poll(
        lambda: len(rx.findall(tng.stderr_text())) >= count or tng.assert_running())
    return len(rx.findall(tng.stderr_text()))
