"""Shared pieces of the capture tests: the probe (a stand-in gateway that installs the capture
rules with NetfilterRules and relays captured connections), the echo server, and readers of the
legacy tables and policy routes of a namespace."""

import os
import socket
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import harness  # noqa: E402  (the integration harness one folder up)
from harness import Deadline, Failure  # noqa: E402,F401

ECHO = HERE / "echo_server.py"


def probe_bin():
    path = os.environ.get("NETFILTER_PROBE")
    if not path or not os.access(path, os.X_OK):
        raise Failure(f"env NETFILTER_PROBE={path!r} is not the built netfilter_probe "
                      f"(meson sets it; by hand: NETFILTER_PROBE=build/tests/integration/"
                      f"netfilter/netfilter_probe)")
    return path


def start_echo(ctx, ns, ports, name="echo"):
    proc = ctx.spawn(name, [sys.executable, ECHO, "0.0.0.0", *ports], ns=ns)
    proc.wait_log(r"echo server listening", 15)
    return proc


def spawn_probe(ctx, ns, config, name, remove_stale=False):
    import json
    args = [probe_bin(), "--config-content", json.dumps(config)]
    if remove_stale:
        args.append("--remove-stale")
    return ctx.spawn(name, args, ns=ns)


def start_probe(ctx, ns, config, name, remove_stale=False):
    proc = spawn_probe(ctx, ns, config, name, remove_stale)
    proc.wait_log(r"probe ready", 20)
    return proc


def tng_lines(ns):
    """The lines of iptables-legacy-save in ns that mention our chains, in order."""
    return ns.tng_rule_lines()


def tagged_policy(ns):
    """Policy rules and routes of routing protocol 116 (ours) in ns."""
    return ns.tagged_policy()


def _read_line(sock, dl):
    buf = b""
    while not buf.endswith(b"\n"):
        sock.settimeout(max(0.05, dl.remaining()))
        try:
            chunk = sock.recv(1)
        except socket.timeout:
            dl.fail(f"got {buf!r} so far")
        if not chunk:
            raise Failure(f"connection closed after {buf!r}")
        buf += chunk
    return buf.decode().rstrip("\n")


def exchange(ns, host, port, payload=b"capture me\n"):
    """Connects from ns to host:port and returns (orig, server_peer, echo): orig is what the probe
    announced (None when the connection reached the server directly), server_peer the source
    address the echo server saw, echo what came back for payload."""
    dl = Deadline(10, f"an exchange with {host}:{port} from {ns.name}")
    with ns.connect(host, port) as s:
        orig = None
        line = _read_line(s, dl)
        if line.startswith("ORIG "):
            orig = line[5:]
            line = _read_line(s, dl)
        if not line.startswith("SERVER "):
            raise Failure(f"expected the echo server's greeting from {host}:{port}, got {line!r}")
        s.sendall(payload)
        echo = b""
        while len(echo) < len(payload):
            s.settimeout(max(0.05, dl.remaining()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                dl.fail(f"echo so far {echo!r}")
            if not chunk:
                break
            echo += chunk
    return orig, line[7:], echo
