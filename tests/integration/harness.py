"""Integration test harness: private network namespaces, processes, deadlines, payload checks.

Every test script builds a Context, creates the namespaces it needs (never touching the host's
own network namespace), starts the real `tng` binary and real peers inside them, and always
cleans up, also on failure, SIGTERM from the test runner, or Ctrl-C. Python 3 stdlib only.
"""

import contextlib
import ctypes
import hashlib
import itertools
import json
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PEER = HERE / "peer.py"
NETNS_DIR = Path("/run/netns")
NS_PREFIX = "tngit"

_T0 = time.monotonic()
_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000


class Failure(Exception):
    """A check failed; the message says what was checked and why it failed."""


def log(msg):
    print(f"[{time.monotonic() - _T0:7.2f}s] {msg}", flush=True)


def check(cond, what, why=""):
    """Records one check: prints `ok: what`, or raises Failure naming what failed and why."""
    if not cond:
        raise Failure(f"{what}: {why}" if why else what)
    log(f"ok: {what}")


class Deadline:
    """A bounded wait. Every wait in the suite polls under one of these; nothing sleeps blindly."""

    def __init__(self, seconds, what):
        self.seconds = seconds
        self.what = what
        self.end = time.monotonic() + seconds

    def remaining(self):
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end

    def fail(self, detail=""):
        extra = f" ({detail})" if detail else ""
        raise Failure(f"timed out after {self.seconds:g}s waiting for {self.what}{extra}")

    def poll(self, predicate, interval=0.02, detail=None):
        """Calls predicate until it returns a truthy value (returned) or the deadline passes."""
        while True:
            value = predicate()
            if value:
                return value
            if self.expired():
                self.fail(detail() if callable(detail) else (detail or ""))
            time.sleep(min(interval, self.remaining()) or 0.001)


# ---------------------------------------------------------------------------------------------
# payload helpers


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def random_file(path, size, seed=None):
    """Writes `size` random bytes to path; returns their sha256 hex."""
    h = hashlib.sha256()
    rng_bytes = os.urandom if seed is None else random.Random(seed).randbytes
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = rng_bytes(min(left, 1 << 20))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return h.hexdigest()


def raise_nofile_limit(want):
    """Raises RLIMIT_NOFILE (children inherit it: tng and the peers need one fd per connection)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        raise Failure(f"RLIMIT_NOFILE is {soft} (hard limit {hard}); this test needs {want}")
    return soft


# ---------------------------------------------------------------------------------------------
# the binary


def tng_bin():
    path = os.environ.get("TNG_BIN")
    if not path:
        raise Failure("env TNG_BIN is not set; point it at the built tng binary "
                      "(meson test sets it; by hand: TNG_BIN=build/tng)")
    if not os.access(path, os.X_OK):
        raise Failure(f"TNG_BIN={path} is not an executable file (build it: ninja -C <dir> tng)")
    return os.path.abspath(path)



def reference_tool(env_name, target):
    """Path of a reference stand-in (tools/) from env (meson sets it); Failure naming the fix."""
    path = os.environ.get(env_name)
    if not path:
        raise Failure(f"env {env_name} is not set; meson sets it (by hand: "
                      f"{env_name}=build/{target})")
    if not os.access(path, os.X_OK):
        raise Failure(f"{env_name}={path} is not executable (build it: ninja -C build {target})")
    return os.path.abspath(path)


def start_reference_aa(ctx, ns, sock_path, name, *flags):
    """tng-reference-aa (ttrpc AA, `sample` evidence) on a unix socket; returns (proc, aa_addr)."""
    aa = reference_tool("TNG_REFERENCE_AA", "tools/reference_aa/tng-reference-aa")
    proc = ctx.spawn(name, [aa, "--socket", sock_path, *flags], ns=ns)
    proc.wait_log(r'msg=listening', 15, f"{name} to listen on {sock_path}")
    return proc, f"unix://{sock_path}"


def start_reference_as(ctx, ns, listen, name, *flags):
    """tng-reference-as (trustee REST AS issuing EAR tokens) listening on `listen` (host:port)."""
    as_bin = reference_tool("TNG_REFERENCE_AS", "tools/reference_as/tng-reference-as")
    proc = ctx.spawn(name, [as_bin, "--listen", listen, *flags], ns=ns)
    proc.wait_log(r'msg=listening', 15, f"{name} to listen on {listen}")
    return proc


# ---------------------------------------------------------------------------------------------
# network namespaces


def _setns(fd):
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


class Netns:
    """A private network namespace with lo up. Processes and sockets can be placed inside it."""

    def __init__(self, name):
        self.name = name
        self.created = False

    def create(self):
        if (NETNS_DIR / self.name).exists():
            raise Failure(f"network namespace {self.name} already exists (left by a crashed run "
                          f"with the same pid? remove it: ip netns del {self.name})")
        run_checked(["ip", "netns", "add", self.name], f"create network namespace {self.name}")
        self.created = True
        run_checked(self.cmd(["ip", "link", "set", "lo", "up"]), f"lo up in {self.name}")
        return self

    def cmd(self, argv):
        return ["ip", "netns", "exec", self.name, *[str(a) for a in argv]]

    def run(self, argv, timeout=30, input=None, check_rc=False, what=None):
        """Runs argv to completion inside the namespace; output captured (bytes)."""
        try:
            res = subprocess.run(self.cmd(argv), input=input, capture_output=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"{what or argv[0]} did not finish within {timeout}s in {self.name}")
        if check_rc and res.returncode != 0:
            raise Failure(f"{what or ' '.join(map(str, argv))} failed with exit code "
                          f"{res.returncode}: {res.stderr.decode(errors='replace').strip()}")
        return res

    @contextlib.contextmanager
    def entered(self):
        """Moves the calling thread into the namespace (sockets made here stay in it)."""
        orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        target = os.open(NETNS_DIR / self.name, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(orig)
        finally:
            os.close(target)
            os.close(orig)

    def socket(self, family=socket.AF_INET, kind=socket.SOCK_STREAM):
        with self.entered():
            return socket.socket(family, kind)

    def connect(self, host, port, timeout=5.0):
        """A TCP connection from inside the namespace; raises OSError like socket.connect."""
        s = self.socket()
        try:
            s.settimeout(timeout)
            s.connect((host, port))
        except BaseException:
            s.close()
            raise
        return s

    def probe(self, host, port, timeout=1.0):
        """'open', 'refused' or the error text for a connection attempt to host:port."""
        try:
            self.connect(host, port, timeout).close()
            return "open"
        except ConnectionRefusedError:
            return "refused"
        except OSError as e:
            return f"error: {e}"

    def wait_tcp(self, host, port, seconds=15, proc=None):
        """Waits until host:port accepts connections (and proc, if given, is still running)."""
        dl = Deadline(seconds, f"{host}:{port} to accept connections in {self.name}")

        def ready():
            if proc is not None:
                proc.assert_running(f"while waiting for {host}:{port}")
            return self.probe(host, port) == "open"
        dl.poll(ready, interval=0.05)

    def wait_refused(self, host, port, seconds=15):
        """Waits until connections to host:port are refused (the listener is gone)."""
        last = []

        def refused():
            last[:] = [self.probe(host, port)]
            return last[0] == "refused"
        Deadline(seconds, f"{host}:{port} to refuse connections in {self.name}").poll(
            refused, interval=0.05, detail=lambda: f"last attempt: {last[0] if last else '-'}")

    # -- netfilter state (the capture rules tng installs; legacy x_tables, see endpoints/netfilter)

    def iptables_save(self):
        """The namespace's legacy nat and mangle tables as iptables-legacy-save prints them,
        without the comment lines (which carry a timestamp) and with packet counters zeroed, for
        before/after checks. The kernel instantiates a table on first use and never removes it,
        so both are instantiated first: an empty table then reads the same before and after."""
        for table in ("nat", "mangle"):
            self.run(["iptables-legacy", "-t", table, "-S"], check_rc=True,
                     what=f"iptables-legacy -t {table} -S")
        res = self.run(["iptables-legacy-save"], check_rc=True, what="iptables-legacy-save")
        lines = [l for l in res.stdout.decode().splitlines() if not l.startswith("#")]
        return [re.sub(r"\[\d+:\d+\]$", "[0:0]", l) for l in lines]

    def tng_rule_lines(self):
        """The lines of iptables-legacy-save that mention TNG chains, in order."""
        return [l for l in self.iptables_save() if "TNG_" in l]

    def routing_state(self):
        """`ip -4 rule` and `ip -4 route show table all` (the TPROXY policy routes live there;
        IPv6 is left out: its link-local routes appear on their own some time after link-up)."""
        rules = self.run(["ip", "-4", "rule", "show"], check_rc=True).stdout.decode()
        routes = self.run(["ip", "-4", "route", "show", "table", "all"],
                          check_rc=True).stdout.decode()
        return rules.splitlines(), routes.splitlines()

    def tagged_policy(self):
        """Policy rules and routes of routing protocol 116 (tng's) in the namespace."""
        rules, routes = self.routing_state()
        return ([l.split(":", 1)[1].strip() for l in rules if "proto 116" in l],
                [l.strip() for l in routes if "proto 116" in l])

    def pids(self):
        res = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True)
        return [int(p) for p in res.stdout.split()] if res.returncode == 0 else []

    def delete(self):
        if not self.created:
            return
        # Only our own processes live here; anything left (a curl from a failed check) goes.
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        res = subprocess.run(["ip", "netns", "del", self.name], capture_output=True, text=True)
        if res.returncode != 0:
            log(f"warning: ip netns del {self.name}: {res.stderr.strip()}")
        self.created = False


def run_checked(argv, what):
    res = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        raise Failure(f"{what}: `{' '.join(argv)}` exited {res.returncode}: {res.stderr.strip()}")
    return res


def cleanup_stale_namespaces():
    """Deletes tngit-<pid>-* namespaces whose test process is gone (left by a SIGKILLed run)."""
    removed = []
    for entry in NETNS_DIR.glob(f"{NS_PREFIX}-*"):
        m = re.match(rf"{NS_PREFIX}-(\d+)-", entry.name)
        if not m or Path(f"/proc/{m.group(1)}").exists():
            continue
        ns = Netns(entry.name)
        ns.created = True
        ns.delete()
        removed.append(entry.name)
    return removed


# ---------------------------------------------------------------------------------------------
# processes


class Proc:
    """A child process (usually inside a namespace) with stderr captured to a file."""

    def __init__(self, name, argv, workdir, ns=None, stdin=None, stdout=None, cwd=None,
                 env=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.stderr_path = workdir / f"{name}.stderr"
        self.stdout_path = None
        self._stdout_buf = b""
        cmd = ns.cmd(self.argv) if ns else self.argv
        err = open(self.stderr_path, "wb")
        if stdout is None:
            self.stdout_path = workdir / f"{name}.stdout"
            out = open(self.stdout_path, "wb")
        else:
            out = stdout
        try:
            self.popen = subprocess.Popen(cmd, stdin=stdin if stdin is not None else
                                          subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd,
                                          env=env, start_new_session=True)
        finally:
            err.close()
            if stdout is None:
                out.close()
        self.pid = self.popen.pid
        shown = re.sub(r"\s+", " ", " ".join(self.argv))
        log(f"started {name} (pid {self.pid}): {shown[:300]}")

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stdout_text(self):
        """All stdout so far (for a stdout=PIPE child: what is left unread, once it exited)."""
        if self.stdout_path is None:
            pipe = self.popen.stdout
            if pipe is not None and not pipe.closed and self.popen.poll() is not None:
                self._stdout_buf += pipe.read()
            return self._stdout_buf.decode(errors="replace")
        return self.stdout_path.read_text(errors="replace")

    def tail(self, lines=25):
        text = self.stderr_text().rstrip("\n").splitlines()
        return "\n".join(f"    {self.name}| {l}" for l in text[-lines:])

    def running(self):
        return self.popen.poll() is None

    def assert_running(self, when=""):
        rc = self.popen.poll()
        if rc is not None:
            raise Failure(f"{self.name} exited with code {rc} {when}; its stderr ends:\n"
                          f"{self.tail()}")

    def wait_log(self, pattern, seconds=20, what=None):
        """Waits for a stderr line matching regex pattern; returns the match."""
        rx = re.compile(pattern)
        dl = Deadline(seconds, what or f"{self.name} to log /{pattern}/")

        def found():
            m = rx.search(self.stderr_text())
            if m:
                return m
            self.assert_running(f"before logging /{pattern}/")
            return None
        return dl.poll(found, interval=0.02, detail=lambda: "stderr ends:\n" + self.tail())

    def read_line(self, seconds, what):
        """Reads one line from a stdout=PIPE child, with a deadline."""
        dl = Deadline(seconds, what)
        fd = self.popen.stdout.fileno()
        while b"\n" not in self._stdout_buf:
            r, _, _ = select.select([fd], [], [], min(0.2, dl.remaining()))
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise Failure(f"{self.name} closed its stdout before {what} "
                                  f"(exit code {self.popen.poll()}); stderr ends:\n{self.tail()}")
                self._stdout_buf += chunk
            elif dl.expired():
                dl.fail("stderr ends:\n" + self.tail())
        line, self._stdout_buf = self._stdout_buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def write_line(self, line):
        self.popen.stdin.write(line.encode() + b"\n")
        self.popen.stdin.flush()

    def signal(self, sig):
        if self.running():
            self.popen.send_signal(sig)

    def wait(self, seconds, what=None):
        """Waits for exit; returns the exit code, or raises Failure at the deadline."""
        try:
            return self.popen.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            raise Failure(f"timed out after {seconds:g}s waiting for "
                          f"{what or self.name + ' to exit'}; stderr ends:\n{self.tail()}")

    def stop(self, seconds=10):
        """SIGTERM, then SIGKILL at the deadline; returns the exit code. Never leaves a zombie."""
        if self.running():
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                log(f"{self.name} ignored SIGTERM for {seconds}s; killing it")
        return self.kill()

    def kill(self):
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        return self.popen.wait()


# ---------------------------------------------------------------------------------------------
# the test context


class Context:
    """Owns everything one test creates; cleanup() undoes it all, in reverse order."""

    _ns_counter = itertools.count()

    def __init__(self, name):
        self.name = name
        self.workdir = Path(tempfile.mkdtemp(prefix=f"tng-it-{name}-"))
        self.procs = []
        self.namespaces = []
        self._veth_counter = itertools.count()

    # -- namespaces

    def netns(self, tag="n"):
        name = f"{NS_PREFIX}-{os.getpid()}-{next(self._ns_counter)}{tag}"
        ns = Netns(name)
        self.namespaces.append(ns)
        ns.create()
        log(f"created network namespace {name}")
        return ns

    def link(self, a, b, subnet):
        """Joins namespaces a and b by a veth pair; a gets 10.<subnet>.1/24, b 10.<subnet>.2/24.

        The pair is created inside `a` and its peer moved straight into `b`, so no interface
        ever appears in the host's namespace. Returns (addr_a, addr_b).
        """
        n = next(self._veth_counter)
        base = f"v{os.getpid() % 10**7}x{n}"
        va, vb = base + "a", base + "b"
        run_checked(a.cmd(["ip", "link", "add", va, "type", "veth", "peer", "name", vb,
                            "netns", b.name]), f"veth pair {va}/{vb}")
        addr_a, addr_b = f"10.{subnet // 256}.{subnet % 256}.1", f"10.{subnet // 256}.{subnet % 256}.2"
        run_checked(a.cmd(["ip", "addr", "add", addr_a + "/24", "dev", va]), f"address on {va}")
        run_checked(b.cmd(["ip", "addr", "add", addr_b + "/24", "dev", vb]), f"address on {vb}")
        run_checked(a.cmd(["ip", "link", "set", va, "up"]), f"{va} up")
        run_checked(b.cmd(["ip", "link", "set", vb, "up"]), f"{vb} up")
        log(f"linked {a.name} ({addr_a}) <-> {b.name} ({addr_b})")
        return addr_a, addr_b

    # -- processes

    def spawn(self, name, argv, ns=None, **kw):
        proc = Proc(name, argv, self.workdir, ns=ns, **kw)
        self.procs.append(proc)
        return proc

    def tng(self, ns, config, name="tng", args=(), ready_seconds=20, config_as="file"):
        """Launches tng in ns with config (dict or JSON text) and waits for `gateway ready`."""
        standin = os.environ.get("TNG_IT_STANDIN")
        if standin:
            import standins  # development aid only; see standins.py
            if standin not in ("relay", "stunnel"):
                raise Failure(f"TNG_IT_STANDIN={standin!r}: expected relay or stunnel")
            return getattr(standins, standin)(self, ns, config, name, args)
        text = config if isinstance(config, str) else json.dumps(config, indent=2)
        if config_as == "file":
            path = self.workdir / f"{name}.json"
            path.write_text(text)
            cfg_args = ["--config-file", path]
        else:
            cfg_args = ["--config-content", text]
        proc = self.spawn(name, [tng_bin(), "launch", *cfg_args, *args], ns=ns)
        proc.wait_log(r'msg="gateway ready"', ready_seconds, f"{name} to log msg=\"gateway ready\"")
        log(f"{name} is ready")
        return proc

    def peer_server(self, ns, port, host="127.0.0.1", name="backend"):
        """Starts peer.py's checksumming server; returns (proc, report path)."""
        report = self.workdir / f"{name}.report.jsonl"
        proc = self.spawn(name, [sys.executable, PEER, "server", "--host", host, "--port", port,
                                 "--report", report], ns=ns)
        proc.wait_log(r"peer server listening", 15)
        return proc, report

    def peer_client(self, ns, name, args, interactive=False):
        kw = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE} if interactive else {}
        return self.spawn(name, [sys.executable, PEER, "client", *args], ns=ns, **kw)

    # -- teardown

    def cleanup(self, keep_workdir):
        for proc in reversed(self.procs):
            try:
                proc.stop(5)
            except Exception as e:  # keep going: every namespace must still be deleted
                log(f"warning: stopping {proc.name}: {e}")
            if proc.popen.stdin:
                with contextlib.suppress(Exception):
                    proc.popen.stdin.close()
            if proc.popen.stdout:
                with contextlib.suppress(Exception):
                    proc.popen.stdout.close()
        for ns in reversed(self.namespaces):
            try:
                ns.delete()
            except Exception as e:
                log(f"warning: deleting {ns.name}: {e}")
        if keep_workdir:
            log(f"logs kept in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# the runner


def run(name, body):
    """Runs body(ctx) as one test program; returns the process exit code (0 = pass)."""
    if os.geteuid() != 0:
        print(f"FAIL {name}: integration tests create network namespaces and need root "
              f"(CAP_NET_ADMIN); run them as root", flush=True)
        return 1

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)  # meson's timeout sends SIGTERM: still clean up
    signal.signal(signal.SIGHUP, on_signal)

    ctx = Context(name)
    ok = False
    log(f"test {name}: workdir {ctx.workdir}")
    try:
        body(ctx)
        ok = True
    except Failure as e:
        print(f"FAIL {name}: {e}", flush=True)
        for proc in ctx.procs:
            if proc.stderr_text().strip():
                print(f"--- stderr of {proc.name} (last lines):\n{proc.tail(40)}", flush=True)
    except KeyboardInterrupt as e:
        print(f"FAIL {name}: interrupted ({e or 'Ctrl-C'})", flush=True)
    except Exception:
        print(f"FAIL {name}: unexpected error in the test itself:", flush=True)
        traceback.print_exc()
        sys.stdout.flush()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let cleanup finish
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        ctx.cleanup(keep_workdir=not ok or os.environ.get("TNG_IT_KEEP") == "1")
    if ok:
        print(f"PASS {name}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:] == ["--cleanup-stale"]:
        gone = cleanup_stale_namespaces()
        print(f"removed {len(gone)} stale namespaces: {' '.join(gone)}")
        sys.exit(0)
    print("usage: harness.py --cleanup-stale   (tests are the test_*.py programs)")
    sys.exit(2)
