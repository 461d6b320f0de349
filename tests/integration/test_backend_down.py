#!/usr/bin/env python3
"""With nothing listening behind the egress, clients are closed promptly, not left hanging.

The seed topology runs with no backend on 30001. A client that connects to 10001 (silent, or
sending a request, one at a time and 50 at once) must see its connection closed (EOF or reset)
within a few seconds. Then the backend starts and the same gateway serves normally.
"""

import signal
import socket
import sys
import threading

import configs
import harness
from harness import Failure, check, log

CLOSE_DEADLINE = 5.0  # seconds; a hang is what this catches, so no tighter bound is asserted


def closed_promptly(ns, request):
    """Connects to the ingress; returns how the connection ended, or raises Failure if hung."""
    try:
        s = ns.connect("127.0.0.1", 10001, timeout=CLOSE_DEADLINE)
    except ConnectionRefusedError:
        raise Failure("the ingress 127.0.0.1:10001 refused the connection; it should accept "
                      "and then close it")
    except ConnectionResetError:
        return "reset before connect() returned"  # accepted and reset within microseconds
    with s:
        s.settimeout(CLOSE_DEADLINE)
        try:
            if request:
                s.sendall(request)
            data = s.recv(65536)
        except socket.timeout:
            raise Failure(f"connection to 10001 still open after {CLOSE_DEADLINE:g}s "
                          f"with the backend down ({'after a request' if request else 'silent'})")
        except (ConnectionResetError, BrokenPipeError):
            return "reset"
        if data:
            raise Failure(f"got {len(data)} bytes from a gateway whose backend is down: "
                          f"{data[:80]!r}")
        return "eof"


def body(ctx):
    ns = ctx.netns("down")
    tng = ctx.tng(ns, configs.seed_no_ra_config())
    check(ns.probe("127.0.0.1", 30001) == "refused", "nothing listens on 30001")

    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    for i in range(3):
        how = closed_promptly(ns, None)
        log(f"ok: silent client #{i} was closed ({how}) within {CLOSE_DEADLINE:g}s")
        how = closed_promptly(ns, request)
        log(f"ok: client with a request #{i} was closed ({how}) within {CLOSE_DEADLINE:g}s")

    errors = []

    def one(i):
        try:
            closed_promptly(ns, request if i % 2 else None)
        except Failure as e:
            errors.append(str(e))
        except OSError as e:
            errors.append(f"client {i}: {e}")
    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(CLOSE_DEADLINE * 3)
    check(not errors and not any(t.is_alive() for t in threads),
          f"50 simultaneous clients were all closed within {CLOSE_DEADLINE:g}s",
          f"{len(errors)} failed, first: {errors[:3]}")
    tng.assert_running("after the failed dials")

    site = ctx.workdir / "site"
    site.mkdir()
    sha = harness.random_file(site / "blob.bin", 1 << 20)
    backend = ctx.spawn("http.server", [sys.executable, "-m", "http.server", "30001", "--bind",
                                        "127.0.0.1"], ns=ns, cwd=site)
    ns.wait_tcp("127.0.0.1", 30001, 15, backend)
    for i in range(5):
        out = ctx.workdir / f"blob-{i}"
        res = ns.run(["curl", "-sS", "--max-time", "20", "-o", out, "-w", "%{http_code}",
                      "http://127.0.0.1:10001/blob.bin"], timeout=40)
        check(res.returncode == 0 and res.stdout == b"200" and harness.sha256_file(out) == sha,
              f"after the backend came up, request #{i} is served intact",
              f"curl exit {res.returncode}, code {res.stdout!r}: {res.stderr.decode().strip()}")

    tng.signal(signal.SIGTERM)
    rc = tng.wait(30, "tng to exit after SIGTERM")
    check(rc == 0, "tng exits 0 after SIGTERM", f"exit code {rc}")
    log("backend-down behaviour checked")


if __name__ == "__main__":
    sys.exit(harness.run("backend_down", body))
