#!/usr/bin/env python3
"""capture_cgroup / nocapture_cgroup (cgroup v2) with the real tng binary, in a client and a
server namespace joined by veth; the cgroup is a directory the test makes under the host's cgroup2
mount (tng-test-<pid>/in) and removes again, and processes are put into it by writing their pid to
its cgroup.procs before they exec.

Checks: netfilter ingress with capture_cgroup tunnels curl run in the cgroup (only TLS on the wire,
the server's egress logs the flow, the HTTP server sees the egress's address) while curl outside it
goes direct (plaintext on the wire, HTTP server sees the client); nocapture_cgroup the reverse.
Netfilter egress (cgroup rules only see locally generated packets, OUTPUT): with capture_cgroup
and capture_local_traffic only local processes in the cgroup are captured, remote clients and
local processes outside go direct; with nocapture_cgroup remote clients and local processes
outside are captured, local ones in the cgroup go direct. A missing cgroup: tng exits 1 naming the
path and its JSON key, nothing installed, both under `ip netns exec` (no cgroup2 mount visible:
the kernel checks) and with only the network namespace entered (tng checks beforehand). After
SIGTERM the tables and routes are as before.
"""

import json
import os
import re
import signal
import subprocess
import sys
import types
from pathlib import Path

from netfilter_peers import (MARKER, Wire, http_server, make_site, request_peers, two_hosts)
import harness
from harness import Deadline, check

PORT = 9001


def cgroup2_mount():
    """Where the host's cgroup2 hierarchy is mounted (a full mount: root "/")."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        head, _, tail = line.partition(" - ")
        fields = head.split()
        if tail.split()[0] == "cgroup2" and fields[3] == "/":
            return Path(fields[4])
    raise harness.Failure("no cgroup2 file system is mounted: capture_cgroup needs cgroup v2")


def in_cgroup(ns, procs, argv):
    """argv run in ns's network namespace (nsenter: `ip netns exec` would hide /sys/fs/cgroup)
    as a process that moved itself into the cgroup whose cgroup.procs is `procs` first."""
    return ["nsenter", f"--net=/run/netns/{ns.name}", "sh", "-c",
            'echo $$ > "$0" && exec "$@"', procs, *[str(a) for a in argv]]


class Client:
    """curl from a namespace, inside the cgroup or not."""

    def __init__(self, ctx, ns, procs=None):
        self.ctx, self.ns, self.procs = ctx, ns, procs

    def fetch(self, url, what, want_sha=None, want=None):
        out = self.ctx.workdir / re.sub(r"\W", "_", what)
        argv = ["curl", "-sS", "--max-time", "30", "-o", out, "-w", "%{http_code}", url]
        if self.procs:
            res = subprocess.run(in_cgroup(self.ns, self.procs, argv),
                                         capture_output=True, timeout=60)
        else:
            res = self.ns.run(argv, timeout=60)
        code = res.stdout.decode().strip()
        check(res.returncode == 0 and code == "200", f"{what}: curl {url} returns 200",
              f"curl exit {res.returncode}, http code {code!r}: {res.stderr.decode().strip()}")
        if want_sha:
            got = harness.sha256_file(out)
            check(got == want_sha, f"{what}: body is byte-exact", f"sha256 {got} != {want_sha}")
        if want is not None:
            check(out.read_bytes() == want, f"{what}: body is as served")


def closed(tng, side):
    return len(re.findall(r'msg="connection closed" endpoint=\S+ side=' + side,
                          tng.stderr_text()))


def wait_closed(tng, side, count, what):
    Deadline(15, f"{tng.name} to log {count} closed {side} connections").poll(
        lambda: closed(tng, side) >= count or tng.assert_running())
    check(closed(tng, side) == count, what, f"{closed(tng, side)} closed {side} connections")


def stop(tng):
    tng.signal(signal.SIGTERM)
    check(tng.wait(30) == 0, f"{tng.name} exits 0 after SIGTERM", tng.tail())


def state(ns):
    return ns.iptables_save(), ns.routing_state()


def ingress_case(ctx, key, hosts, cg, web, site):
    """Netfilter ingress on the client with `key` (capture_cgroup or nocapture_cgroup) = [cg]."""
    client, server, c_ip, s_ip = hosts
    before = state(client)
    inside, outside = Client(ctx, client, cg.procs), Client(ctx, client)
    captured, direct = (inside, outside) if key == "capture_cgroup" else (outside, inside)
    cap_name, dir_name = ("in", "outside") if key == "capture_cgroup" else ("outside", "in")
    tng = ctx.tng(client, {"add_ingress": [{"netfilter": {"capture_dst": {"port": PORT},
                                                          key: [cg.path]}, "no_ra": True}]},
                  f"tng-ingress-{key}")
    lines = client.tng_rule_lines()
    check(any(f'-m cgroup --path "{cg.path}"' in l for l in lines),
          f"ingress {key}: the cgroup match is installed", "\n".join(lines))
    srv = ctx.tng(server, {"add_egress": [{"netfilter": {"capture_dst": {"port": PORT}},
                                           "no_ra": True}]}, f"srv-{key}")
    marker = (site.dir / "marker.txt").read_bytes()

    wire = Wire(ctx, server, PORT, f"wire-{key}-captured")
    captured.fetch(f"http://{s_ip}:{PORT}/big.bin?{key}", f"ingress {key}: a process {cap_name} "
                   f"the cgroup", want_sha=site.sha)
    captured.fetch(f"http://{s_ip}:{PORT}/marker.txt?{key}", f"ingress {key}: marker {cap_name}",
                   want=marker)
    wait_closed(tng, "ingress", 2, f"ingress {key}: both requests {cap_name} the cgroup went "
                "through the ingress")
    wait_closed(srv, "egress", 2, f"ingress {key}: and through the server's egress")
    check(request_peers(web, f"/big.bin?{key}") == [s_ip],
          f"ingress {key}: the HTTP server got the request from the egress (tunneled)",
          web.tail())
    data = wire.stop()
    check(len(data) > 1000 and MARKER not in data and b"GET /" not in data,
          f"ingress {key}: only TLS on the wire for the captured process",
          f"{len(data)} bytes captured")
    stop(srv)  # the direct connection must meet the HTTP server itself, not the egress

    wire = Wire(ctx, server, PORT, f"wire-{key}-direct")
    direct.fetch(f"http://{s_ip}:{PORT}/marker.txt?{key}-direct",
                 f"ingress {key}: a process {dir_name} the cgroup", want=marker)
    check(request_peers(web, f"/marker.txt?{key}-direct") == [c_ip],
          f"ingress {key}: the HTTP server got that request from the client itself", web.tail())
    wire.wait_for(MARKER, what="the plaintext marker on the wire")
    wire.stop()
    check(closed(tng, "ingress") == 2, f"ingress {key}: the ingress saw nothing of it",
          tng.tail())
    stop(tng)
    check(state(client) == before, f"ingress {key}: after SIGTERM tables and routes as before")


def egress_case(ctx, key, hosts, cg, site):
    """Netfilter egress on the server with capture_local_traffic and `key` = [cg]: cgroup matches
    see only locally generated packets, so the local TLS clients are mapping ingresses in the
    server namespace (in or outside the cgroup)."""
    client, server, c_ip, s_ip = hosts
    before = state(server)
    srv = ctx.tng(server, {"add_egress": [{"netfilter": {
        "capture_dst": {"port": PORT}, "capture_local_traffic": True, key: [cg.path]},
        "no_ra": True}]}, f"srv-egress-{key}")
    nat = server.run(["iptables-legacy-save", "-t", "nat"], check_rc=True).stdout.decode()
    jumps_pre = "-A PREROUTING -p tcp -j TNG_EGRESS_0" in nat
    check("-A OUTPUT -p tcp -j TNG_EGRESS_0_CGROUP" in nat and
          jumps_pre == (key == "nocapture_cgroup"),
          f"egress {key}: OUTPUT jumps to the cgroup chain, PREROUTING "
          f"{'does' if key == 'nocapture_cgroup' else 'does not'} jump", nat)
    mapping = {"add_ingress": [{"mapping": {"in": {"port": 10001},
                                            "out": {"host": s_ip, "port": PORT}},
                                "no_ra": True}]}
    local_plain = Client(ctx, server, cg.procs if key == "nocapture_cgroup" else None)
    n = 0
    if key == "capture_cgroup":
        # Remote clients are not captured at all (PREROUTING does not jump): plaintext arrives.
        Client(ctx, client).fetch(f"http://{s_ip}:{PORT}/big.bin?remote-{key}",
                                  f"egress {key}: a remote plaintext client", want_sha=site.sha)
        # The local TLS client is a tng in the cgroup.
        tls = ctx.spawn(f"map-in-cgroup-{key}", in_cgroup(server, cg.procs, [
            harness.tng_bin(), "launch", "--config-content", json.dumps(mapping)]))
        tls.wait_log(r'msg="gateway ready"', 20)
        cg.members.append(tls)
        what_tls, what_plain = "in", "outside"
    else:
        # Remote clients are captured: a mapping ingress on the client reaches the HTTP server.
        remote = ctx.tng(client, mapping, f"map-remote-{key}")
        Client(ctx, client).fetch("http://127.0.0.1:10001/big.bin?remote",
                                  f"egress {key}: a remote client through its ingress",
                                  want_sha=site.sha)
        n += 1
        wait_closed(srv, "egress", n, f"egress {key}: the remote client was captured")
        stop(remote)
        tls = ctx.tng(server, mapping, f"map-local-{key}")
        what_tls, what_plain = "outside", "in"
    Client(ctx, server).fetch("http://127.0.0.1:10001/big.bin?local",
                              f"egress {key}: a local tng {what_tls} the cgroup", want_sha=site.sha)
    n += 1
    wait_closed(srv, "egress", n, f"egress {key}: its connection was captured")
    local_plain.fetch(f"http://{s_ip}:{PORT}/big.bin?local-plain",
                      f"egress {key}: a local plaintext client {what_plain} the cgroup",
                      want_sha=site.sha)
    check(closed(srv, "egress") == n, f"egress {key}: that one went direct", srv.tail())
    if key == "capture_cgroup":
        check(closed(srv, "egress") == 1, f"egress {key}: the remote one went direct too")
    stop(tls)
    stop(srv)
    check(state(server) == before, f"egress {key}: after SIGTERM tables and routes as before")


def missing_case(ctx, ns, cg):
    """A cgroup that does not exist: exit 1 naming the path and the key, nothing installed."""
    before = state(ns)
    missing = cg.path + "/missing"
    config = json.dumps({"add_ingress": [{"netfilter": {"capture_dst": {"port": PORT}},
                                          "no_ra": True}],
                         "add_egress": [{"netfilter": {"capture_dst": {"port": PORT + 1},
                                                       "nocapture_cgroup": [cg.path, missing]},
                                         "no_ra": True}]})
    argv = [harness.tng_bin(), "launch", "--config-content", config]
    key = "add_egress[0].netfilter.nocapture_cgroup[1]"
    for how, name, wrap in (("ip netns exec (the kernel checks)", "netns-exec", None),
                            ("nsenter --net (tng checks)", "nsenter",
                             ["nsenter", f"--net=/run/netns/{ns.name}"])):
        proc = (ctx.spawn(f"tng-missing-{name}", wrap + argv) if wrap else
                ctx.spawn(f"tng-missing-{name}", argv, ns=ns))
        rc = proc.wait(20)
        err = proc.stderr_text()
        check(rc == 1 and missing in err and key in err,
              f"missing cgroup, {how}: exit 1 naming the path and {key}", f"exit {rc}: {err}")
        check(state(ns) == before, f"missing cgroup, {how}: no rule or route left")


class Cgroup:
    """tng-test-<pid>/in under the cgroup2 mount; removed (members killed first) by close()."""

    def __init__(self):
        self.top = cgroup2_mount() / f"tng-test-{os.getpid()}"
        self.dir = self.top / "in"
        self.dir.mkdir(parents=True)
        self.path = "/" + str(self.dir.relative_to(cgroup2_mount()))
        self.procs = self.dir / "cgroup.procs"
        self.members = []

    def close(self):
        for p in self.members:
            p.stop(5)
        if self.dir.exists():
            if (self.dir / "cgroup.procs").read_text().strip():
                (self.dir / "cgroup.kill").write_text("1")
            Deadline(10, f"{self.dir} to empty").poll(
                lambda: not (self.dir / "cgroup.procs").read_text().strip())
            self.dir.rmdir()
        self.top.rmdir()


def body(ctx):
    hosts = two_hosts(ctx, 225)
    client, server, c_ip, s_ip = hosts
    folder, sha = make_site(ctx, 1 << 20)
    site = types.SimpleNamespace(dir=folder, sha=sha)
    web = http_server(ctx, server, PORT, site.dir, "web")
    cg = Cgroup()
    try:
        harness.log(f"cgroup {cg.path} at {cg.dir}")
        ingress_case(ctx, "capture_cgroup", hosts, cg, web, site)
        ingress_case(ctx, "nocapture_cgroup", hosts, cg, web, site)
        egress_case(ctx, "capture_cgroup", hosts, cg, site)
        egress_case(ctx, "nocapture_cgroup", hosts, cg, site)
        missing_case(ctx, client, cg)
    finally:
        cg.close()
    check(not cg.top.exists(), "the test's cgroup directories are removed")


if __name__ == "__main__":
    sys.exit(harness.run("netfilter_cgroup", body))
