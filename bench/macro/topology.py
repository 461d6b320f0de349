"""Where a pair runs: on one loopback, or in TNG's benchmark topology of two hosts joined by veth.

loopback: everything in the harness's own network namespace, on 127.0.0.1.
veth: a client namespace (load generators and the client-side proxy) and a server namespace (the
server-side proxy and the backend) joined by a veth pair, client 10.77.0.1, server 10.77.0.2.
The tunnel leg crosses a real link with its own qdisc, checksums and GRO, as between two
containers on one host. tng runs there as TNG's own benchmark does: a netfilter ingress captures
the client's connections to the server address, a netfilter egress captures them on the server
(`no_ra`); the peers have no transparent capture and keep their port mappings.
Python 3 stdlib only.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
from pathlib import Path

from procs import BenchError

NETNS_DIR = Path("/run/netns")
PREFIX = "tngbench"
CLIENT_IP, SERVER_IP = "10.77.0.1", "10.77.0.2"
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _run(argv, what):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise BenchError(f"{what}: `{' '.join(map(str, argv))}` exited {r.returncode}: "
                         f"{r.stderr.strip()}")


def _setns(fd):
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise BenchError(f"setns: {os.strerror(err)}")


class Loopback:
    """The harness's own namespace: one host, every address 127.0.0.1."""

    name = "loopback"
    veth = False
    client_ns = server_ns = None    # paths for Supervisor.start(ns=...); None: this namespace
    client_net = server_net = None  # pids whose /proc/<pid>/net shows that side's sockets
    server_ip = "127.0.0.1"         # where the client side reaches the server host
    backend_bind = "127.0.0.1"      # what backends bind on the server host
    client_dev = "lo"               # where tcpdump sees the tunnel leg

    def mode(self, pinning):
        """The results key: loopback keeps the plain pinning names of earlier runs."""
        return pinning

    @contextlib.contextmanager
    def on_client(self):
        yield

    def close(self):
        pass


class Veth(Loopback):
    """Two named namespaces joined by a veth pair; created by open(), removed by close()."""

    name = "veth"
    veth = True
    backend_bind = "0.0.0.0"  # reached from the pair (127.0.0.1) and from `direct` (SERVER_IP)
    server_ip = SERVER_IP

    def __init__(self):
        tag = f"{PREFIX}-{os.getpid()}"
        self.names = (f"{tag}-c", f"{tag}-s")
        self.client_ns, self.server_ns = (str(NETNS_DIR / n) for n in self.names)
        self.client_dev, self._server_dev = f"tb{os.getpid() % 10**7}c", f"tb{os.getpid() % 10**7}s"
        self._holders = []
        self.client_net = self.server_net = None

    def mode(self, pinning):
        return f"veth {pinning}"

    def open(self):
        remove_stale()
        try:
            for n in self.names:
                _run(["ip", "netns", "add", n], f"create network namespace {n}")
                _run(["ip", "-n", n, "link", "set", "lo", "up"], f"lo up in {n}")
            c, s = self.names
            _run(["ip", "-n", c, "link", "add", self.client_dev, "type", "veth", "peer", "name",
                  self._server_dev, "netns", s], "create the veth pair")
            for ns, dev, ip in ((c, self.client_dev, CLIENT_IP), (s, self._server_dev, SERVER_IP)):
                _run(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev], f"address {ip}")
                _run(["ip", "-n", ns, "link", "set", dev, "up"], f"{dev} up")
            # A process in each namespace, so the harness can read that side's /proc/net/tcp.
            self.client_net, self.server_net = (self._holder(p) for p in
                                                (self.client_ns, self.server_ns))
        except BaseException:
            self.close()
            raise
        return self

    def _holder(self, ns):
        fd = os.open(ns, os.O_RDONLY | os.O_CLOEXEC)

        def pre_exec():
            _libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
            if _libc.setns(fd, _CLONE_NEWNET) != 0:
                os._exit(126)
        try:
            p = subprocess.Popen(["sleep", "infinity"], preexec_fn=pre_exec,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        finally:
            os.close(fd)
        self._holders.append(p)
        return p.pid

    @contextlib.contextmanager
    def on_client(self):
        """Moves the calling thread into the client namespace (sockets made here stay there)."""
        orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        target = os.open(self.client_ns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(orig)
        finally:
            os.close(target)
            os.close(orig)

    def close(self):
        for p in self._holders:
            p.kill()
            p.wait()
        self._holders = []
        for n in self.names:
            if (NETNS_DIR / n).exists():
                # Deleting the namespace also deletes the veth pair and its rules.
                subprocess.run(["ip", "netns", "del", n], capture_output=True)


def remove_stale():
    """Namespaces left by a harness that was killed outright (its pid is gone)."""
    if not NETNS_DIR.is_dir():
        return
    for entry in NETNS_DIR.iterdir():
        parts = entry.name.split("-")
        if len(parts) == 3 and parts[0] == PREFIX and parts[1].isdigit():
            if not Path(f"/proc/{parts[1]}").exists():
                subprocess.run(["ip", "netns", "del", entry.name], capture_output=True)
