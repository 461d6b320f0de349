"""Backends and load generators: iperf3, wrk against an nginx file server, idle connections.

Each function measures one figure through whatever listens on the target port (a pair's plain
side, or the backend itself for `direct`) and returns plain numbers. Backends and load generators
run on the load CPU set; the pair's processes are passed in to account their CPU time and RSS.
Backends run on the server host (ctx.topo.server_ns), load generators on the client host
(ctx.topo.client_ns) and dial `target`, a (host, port) from System.load_target.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

from procs import (BenchError, cpu_seconds, established_count, rss_kib, wait_listening,
                   wait_progress, wait_until)
from systems import nginx_main_conf, start_nginx

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk_report.lua"
IDLE_CLIENT = HERE / "idle_client.py"
IDLE_BACKEND = HERE / "idle_backend.py"
HTTP_FILE = "1k.bin"
# Idle connections are opened this many at a time (see idle_client.py).
IDLE_BATCH = 250


def _check_alive(procs, what):
    for p in procs:
        if not p.alive():
            raise BenchError(f"{what}: {p.describe_exit()}")


# --- backends -------------------------------------------------------------------------------

def start_iperf_server(sv, ctx, cpus):
    proc = sv.start("iperf3-server",
                    ["iperf3", "-s", "-B", ctx.topo.backend_bind, "-p", ctx.p_out], cpus,
                    ns=ctx.topo.server_ns)
    wait_listening(ctx.p_out, 10, "iperf3 server", (proc,), net=ctx.topo.server_net)
    return proc


def start_http_backend(sv, ctx, cpus):
    """nginx serving a 1 KiB file on OUT, one worker, no access log, long keep-alive."""
    prefix, text = nginx_main_conf(ctx, "nginx-backend", 1, "", False)
    www = prefix / "www"
    www.mkdir(exist_ok=True)
    (www / HTTP_FILE).write_bytes(bytes(range(256)) * 4)
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / d).mkdir(exist_ok=True)
    text += (
        "http {\n"
        "  access_log off;\n  sendfile on;\n  tcp_nodelay on;\n"
        "  keepalive_requests 100000000;\n  keepalive_timeout 3600s;\n"
        f"  client_body_temp_path {prefix}/client_body;\n"
        f"  proxy_temp_path {prefix}/proxy;\n  fastcgi_temp_path {prefix}/fastcgi;\n"
        f"  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n"
        "  default_type application/octet-stream;\n"
        f"  server {{\n    listen {ctx.topo.backend_bind}:{ctx.p_out} backlog=4096;\n"
        f"    root {www};\n  }}\n"
        "}\n")
    proc = start_nginx(sv, ctx, "nginx-backend", text, prefix, cpus, ns=ctx.topo.server_ns)
    wait_listening(ctx.p_out, 10, "nginx HTTP backend", (proc,), net=ctx.topo.server_net)
    return proc


def start_idle_backend(sv, ctx, cpus):
    proc = sv.start("idle-backend",
                    [sys.executable, IDLE_BACKEND, ctx.topo.backend_bind, ctx.p_out], cpus,
                    ns=ctx.topo.server_ns)
    wait_listening(ctx.p_out, 10, "idle backend", (proc,), net=ctx.topo.server_net)
    return proc


# --- iperf3 ---------------------------------------------------------------------------------

def iperf(sv, ctx, target, streams, seconds, cpus, pair):
    """iperf3 through target: Gb/s received and CPU seconds per GB of the pair."""
    cpu_before = cpu_seconds([p.pid for p in pair]) if pair else None
    argv = ["iperf3", "-c", target[0], "-p", str(target[1]), "-t", str(seconds),
            "-P", str(streams), "-J"]
    proc = sv.start(f"iperf3-client-P{streams}", argv, cpus, stdout_pipe=True,
                    ns=ctx.topo.client_ns)
    try:
        out, _ = proc.popen.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"iperf3 -P {streams} did not finish in {seconds + 30}s") from e
    finally:
        sv.stop(proc)
    cpu_after = cpu_seconds([p.pid for p in pair]) if pair else None
    _check_alive(pair, f"iperf3 -P {streams}")
    try:
        result = json.loads(out)
    except json.JSONDecodeError as e:
        raise BenchError(f"iperf3 -P {streams}: unreadable JSON output ({e}); "
                         f"stderr: {proc.log_tail()}") from e
    if result.get("error"):
        raise BenchError(f"iperf3 -P {streams}: {result['error']}")
    received = result["end"]["sum_received"]
    nbytes = received["bytes"]
    if nbytes <= 0:
        raise BenchError(f"iperf3 -P {streams}: no bytes received")
    figures = {"gbps": received["bits_per_second"] / 1e9, "bytes": nbytes}
    if pair:
        figures["cpu_s_per_gb"] = (cpu_after - cpu_before) / (nbytes / 1e9)
    return figures


# --- wrk ------------------------------------------------------------------------------------

def wrk(sv, ctx, target, connections, seconds, close, cpus, pair):
    """wrk for a 1 KiB file: req/s and latency percentiles in ms."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
            "-s", WRK_SCRIPT]
    if close:
        argv += ["-H", "Connection: close"]
    argv.append(f"http://{target[0]}:{target[1]}/{HTTP_FILE}")
    what = "wrk " + ("connection-per-request" if close else "keep-alive")
    proc = sv.start("wrk-close" if close else "wrk-keepalive", argv, cpus, stdout_pipe=True,
                    ns=ctx.topo.client_ns)
    try:
        out, _ = proc.popen.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"{what} did not finish in {seconds + 30}s") from e
    finally:
        sv.stop(proc)
    _check_alive(pair, what)
    line = next((ln for ln in out.decode(errors="replace").splitlines()
                 if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise BenchError(f"{what}: no report line in output:\n{out.decode(errors='replace')}"
                         f"\n{proc.log_tail()}")
    r = json.loads(line[len("WRKJSON "):])
    if r["requests"] <= 0:
        raise BenchError(f"{what}: no request completed in {seconds}s with {connections} "
                         f"connections (setting up the connections took longer than the run?)")
    errors = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
    # wrk counts the server's close after a `Connection: close` response as a read error on
    # some kernels; only status errors and errors beyond 1% make the figure invalid.
    if r["err_status"] > 0 or errors > 0.01 * r["requests"]:
        raise BenchError(f"{what}: {r['err_status']} non-2xx responses, {errors} socket errors "
                         f"of {r['requests']} requests")
    return {"rps": r["requests"] / (r["duration_us"] / 1e6),
            "p50_ms": r["p50_us"] / 1e3, "p99_ms": r["p99_us"] / 1e3,
            "p999_ms": r["p999_us"] / 1e3, "requests": r["requests"], "socket_errors": errors}


# --- idle connections -----------------------------------------------------------------------

def idle_rss(sv, ctx, target, count, cpus, pair, batch=IDLE_BATCH):
    """KiB of VmRSS (and Pss) the pair gains per idle tunneled connection, `count` of them."""
    roots = [p.pid for p in pair]
    net = ctx.topo.server_net
    _warm_up(sv, ctx, target, cpus, pair)
    vm_before, pss_before = rss_kib(roots)
    client = sv.start(f"idle-client-{count}",
                      [sys.executable, IDLE_CLIENT, *target, count, batch], cpus,
                      stdin=subprocess.PIPE, stdout_pipe=True, ns=ctx.topo.client_ns)
    try:
        while True:
            line = client.popen.stdout.readline().decode(errors="replace").strip()
            if line.startswith("opened ") or line == f"ready {count}":
                opened = int(line.split()[1])
            else:
                raise BenchError(f"idle client: expected 'opened K' or 'ready {count}', got "
                                 f"{line!r}; {client.log_tail()}")
            # Next batch only when this one is tunneled through to the backend.
            wait_progress(lambda: established_count(ctx.p_out, net), lambda n: n >= opened, 20,
                          f"{opened} of {count} idle connections to reach the backend "
                          "through the pair",
                          check=lambda: _check_alive(pair, "idle connections"))
            if line.startswith("ready"):
                break
            client.popen.stdin.write(b"next\n")
            client.popen.stdin.flush()
        vm_after, pss_after = _settled_rss(roots)
        # Still all there: none was dropped by a proxy timeout while the rest were opened.
        now = established_count(ctx.p_out, net)
        if now < count:
            raise BenchError(f"only {now} of {count} idle connections still open at the backend")
    finally:
        try:
            client.popen.stdin.close()
        except OSError:
            pass
        sv.stop(client)
    wait_progress(lambda: established_count(ctx.p_out, net), lambda n: n == 0, 20,
                  "idle connections to close at the backend")
    return {"kib_per_conn": (vm_after - vm_before) / count,
            "pss_kib_per_conn": (pss_after - pss_before) / count,
            "vmrss_before_kib": vm_before, "vmrss_after_kib": vm_after, "connections": count}


def _warm_up(sv, ctx, target, cpus, pair):
    """A few connections first, so lazily built pools are not charged to the measured ones."""
    net = ctx.topo.server_net
    idle_rss_once = sv.start("idle-client-warmup", [sys.executable, IDLE_CLIENT, *target, 8],
                             cpus, stdin=subprocess.PIPE, stdout_pipe=True,
                             ns=ctx.topo.client_ns)
    try:
        idle_rss_once.popen.stdout.readline()
        wait_until(lambda: established_count(ctx.p_out, net) >= 8, 20, "warm-up connections")
    finally:
        idle_rss_once.popen.stdin.close()
        sv.stop(idle_rss_once)
    wait_until(lambda: established_count(ctx.p_out, net) == 0, 20,
               "warm-up connections to close")
    _check_alive(pair, "warm-up")


def _settled_rss(roots, seconds=5.0):
    """Reads RSS until two readings 200 ms apart agree (per-connection setup has finished)."""
    end = time.monotonic() + seconds
    prev = rss_kib(roots)
    while time.monotonic() < end:
        time.sleep(0.2)
        cur = rss_kib(roots)
        if cur[0] == prev[0]:
            return cur
        prev = cur
    return prev
