"""Process supervision and /proc accounting for the macro benchmark.

Every child runs in its own session (= process group), so stopping it also stops the workers and
per-connection children it forked (nginx workers, socat forks). CPU time and RSS are read from
/proc for a whole process tree. Python 3 stdlib only.
"""

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


class BenchError(Exception):
    """A measurement could not be taken; the message says which and why."""


def wait_until(predicate, seconds, what, interval=0.02, detail=None):
    """Polls predicate until truthy (returned) or raises BenchError after `seconds`."""
    end = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            extra = detail() if callable(detail) else detail
            raise BenchError(f"timed out after {seconds:g}s waiting for {what}"
                             + (f" ({extra})" if extra else ""))
        time.sleep(interval)


def wait_progress(measure, done, stall_seconds, what, check=None):
    """Polls measure() until done(value); fails only when the value stops changing for
    stall_seconds (slow systems, e.g. a fork per connection, get as long as they keep moving)."""
    last = measure()
    last_change = time.monotonic()
    while not done(last):
        if check:
            check()
        if time.monotonic() - last_change > stall_seconds:
            raise BenchError(f"{what}: no progress for {stall_seconds:g}s (stuck at {last})")
        time.sleep(0.1)
        cur = measure()
        if cur != last:
            last, last_change = cur, time.monotonic()
    return last


def enter_private_netns():
    """Moves this process into a fresh network namespace with only loopback, up.

    Benchmark ports then cannot collide with other users of the machine, and everything the
    harness starts inherits the namespace, so traffic provably stays on this loopback.
    """
    if _libc.unshare(_CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise BenchError(f"unshare(CLONE_NEWNET) failed: {os.strerror(err)}")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


class Proc:
    """One started command: its Popen, its log file, and the CPU it is pinned to."""

    def __init__(self, name, popen, log_path, cpus):
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self.cpus = cpus

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def log_tail(self, lines=15):
        try:
            text = Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def describe_exit(self):
        rc = self.popen.poll()
        tail = self.log_tail()
        return f"{self.name} (pid {self.pid}) exited with status {rc}; last output:\n{tail}"


class Supervisor:
    """Starts commands in their own process groups and guarantees they are stopped."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.procs = []
        self._seq = 0

    def start(self, name, argv, cpus=None, env=None, stdin=subprocess.DEVNULL,
              stdout_pipe=False, ns=None):
        """Starts argv; cpus (a set) pins it with sched_setaffinity before exec, ns (the path of
        a named network namespace, /run/netns/NAME) places it in that namespace."""
        self._seq += 1
        log_path = self.workdir / f"{self._seq:03d}-{name}.log"
        logf = open(log_path, "wb")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)

        ns_fd = os.open(ns, os.O_RDONLY | os.O_CLOEXEC) if ns else None

        def pre_exec():
            # If the harness is killed outright, its direct children die with it.
            _libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
            if ns_fd is not None and _libc.setns(ns_fd, _CLONE_NEWNET) != 0:
                os._exit(126)  # Popen reports it as the exit status; the log names the ns
            if cpus:
                os.sched_setaffinity(0, cpus)

        if ns:
            logf.write(f"[bench] network namespace {ns}\n".encode())
            logf.flush()
        try:
            popen = subprocess.Popen(
                [str(a) for a in argv], stdin=stdin,
                stdout=subprocess.PIPE if stdout_pipe else logf,
                stderr=logf, env=full_env, start_new_session=True, preexec_fn=pre_exec,
                cwd=self.workdir)
        except OSError as e:
            logf.close()
            raise BenchError(f"cannot start {name} ({argv[0]}): {e}") from e
        finally:
            if ns_fd is not None:
                os.close(ns_fd)
        logf.close()
        proc = Proc(name, popen, log_path, cpus)
        self.procs.append(proc)
        return proc

    def stop(self, proc, timeout=5.0):
        """SIGTERM to the whole group, SIGKILL after timeout; waits until the group is gone."""
        if proc in self.procs:
            self.procs.remove(proc)
        pgid = proc.pid  # start_new_session: the child leads its own group
        for sig, grace in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            end = time.monotonic() + grace
            while time.monotonic() < end:
                proc.popen.poll()
                if not _group_alive(pgid):
                    break
                time.sleep(0.02)
            else:
                continue
            break
        try:
            proc.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if proc.popen.stdout:
            proc.popen.stdout.close()

    def stop_all(self):
        for proc in reversed(list(self.procs)):
            self.stop(proc)


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg(0) also succeeds for zombies of the group; count only running members.
    return any(_stat_fields(pid) and _stat_fields(pid)[0] != "Z"
               for pid in _pids_in_group(pgid))


def _pids_in_group(pgid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            f = _stat_fields(int(entry))
            if f and int(f[2]) == pgid:
                out.append(int(entry))
    return out


def _stat_fields(pid):
    """Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, ...]."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except OSError:
        return None
    return data[data.rfind(")") + 2:].split()


def process_tree(roots):
    """The given pids and all their live descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        f = _stat_fields(int(entry))
        if f:
            children.setdefault(int(f[1]), []).append(int(entry))
    seen, stack = set(), list(roots)
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        stack.extend(children.get(pid, []))
    return seen


def cpu_seconds(roots):
    """utime+stime of a process tree, including reaped children (cutime+cstime).

    A child that exits is reaped by its parent and moves into the parent's cutime/cstime, so the
    sum stays monotonic while socat-style forks come and go.
    """
    total = 0
    for pid in process_tree(roots):
        f = _stat_fields(pid)
        if f and len(f) > 14:
            total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total / CLK_TCK


def rss_kib(roots):
    """Sum of VmRSS (KiB) over a process tree, and the sum of Pss (KiB), as a pair."""
    vmrss = pss = 0
    for pid in process_tree(roots):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    vmrss += int(line.split()[1])
                    break
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                    break
        except (OSError, ValueError):
            continue
    return vmrss, pss


def _tcp_entries(net=None):
    """(local_port, state) for every IPv4/IPv6 TCP socket in this network namespace, or in the
    namespace of process `net` (a pid) when given."""
    base = f"/proc/{net}/net" if net else "/proc/net"
    for table in (f"{base}/tcp", f"{base}/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split(None, 4)
                    yield int(parts[1].rsplit(":", 1)[1], 16), parts[3]
        except OSError:
            continue


def listening_count(port, net=None):
    return sum(1 for p, st in _tcp_entries(net) if p == port and st == "0A")


def established_count(port, net=None):
    """Established sockets whose local port is `port` (the server ends of its connections)."""
    return sum(1 for p, st in _tcp_entries(net) if p == port and st == "01")


def wait_listening(port, seconds, what, procs=(), count=1, net=None):
    """Waits until `count` sockets listen on port; fails early if one of procs died."""

    def ready():
        for p in procs:
            if not p.alive():
                raise BenchError(f"{what}: {p.describe_exit()}")
        return listening_count(port, net) >= count

    wait_until(ready, seconds, f"{what} to listen on port {port}")


def busy_ports(ports, net=None):
    """The ports of `ports` that something listens on."""
    busy = {p for p, st in _tcp_entries(net) if st == "0A"}
    return [p for p in ports if p in busy]
