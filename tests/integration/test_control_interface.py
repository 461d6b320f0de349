#!/usr/bin/env python3
"""The restful control interface (control_interface.restful, legacy admin_bind) of a real tng.

tng runs a no_ra mapping ingress plus the control listener; curl checks TNG's probes
(GET /livez and /readyz answer 200 "ok"), unknown paths 404, other methods 405; a garbage
request gets 400 and the listener keeps serving. Then the same with TNG 1.x's admin_bind.
"""

import signal
import sys

import harness
from harness import check, log

CONTROL_PORT = 50100


def config(control):
    cfg = {
        "add_ingress": [{
            "mapping": {"in": {"port": 10001}, "out": {"host": "127.0.0.1", "port": 20001}},
            "no_ra": True,
        }],
    }
    cfg.update(control)
    return cfg


def curl(ns, path, method="GET"):
    """(status code, body) of one request to the control port."""
    argv = ["curl", "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"]
    if method == "HEAD":
        argv.append("-I")
    elif method != "GET":
        argv += ["-X", method]
    res = ns.run(argv + [f"http://127.0.0.1:{CONTROL_PORT}{path}"], timeout=30)
    out = res.stdout.decode(errors="replace")
    body, _, code = out.rpartition("\n")
    check(res.returncode == 0, f"curl {method} {path} completes",
          f"curl exit {res.returncode}: {res.stderr.decode().strip()}")
    return code.strip(), body


def raw_exchange(ns, data):
    """Sends raw bytes, returns everything the server answers until it closes (bounded)."""
    s = ns.connect("127.0.0.1", CONTROL_PORT, timeout=10)
    try:
        s.sendall(data)
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return got
            got += chunk
    finally:
        s.close()


def probes_answer(ns, label):
    code, body = curl(ns, "/livez")
    check(code == "200" and body == "ok", f"{label}: GET /livez is 200 ok", f"{code} {body!r}")
    code, body = curl(ns, "/readyz")
    check(code == "200" and body == "ok", f"{label}: GET /readyz is 200 ok", f"{code} {body!r}")


def body(ctx):
    ns = ctx.netns("ctl")
    tng = ctx.tng(ns, config({"control_interface": {"restful": {"host": "127.0.0.1",
                                                                "port": CONTROL_PORT}}}))
    ns.wait_tcp("127.0.0.1", CONTROL_PORT, 15, tng)
    probes_answer(ns, "control_interface.restful")

    code, _ = curl(ns, "/status")
    check(code == "404", "unknown path /status is 404", f"got {code}")
    code, _ = curl(ns, "/readyz", method="POST")
    check(code == "405", "POST /readyz is 405", f"got {code}")
    code, _ = curl(ns, "/livez", method="HEAD")
    check(code == "200", "HEAD /livez is 200", f"got {code}")

    answer = raw_exchange(ns, b"\x16\x03\x01\x02\x00 garbage\r\n\r\n")
    check(answer.startswith(b"HTTP/1.1 400"), "a garbage request is answered 400",
          f"got {answer[:120]!r}")
    answer = raw_exchange(ns, b"GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n")
    check(answer.startswith(b"HTTP/1.1 400"), "a smuggling-shaped request is answered 400",
          f"got {answer[:120]!r}")
    tng.assert_running("after bad requests")
    probes_answer(ns, "after bad requests")

    tng.signal(signal.SIGTERM)
    rc = tng.wait(30, "tng to exit after SIGTERM")
    check(rc == 0, "tng exits 0 after SIGTERM", f"exit code {rc}")
    ns.wait_refused("127.0.0.1", CONTROL_PORT, 15)

    # TNG 1.x spelled the control listener admin_bind (host defaults to 0.0.0.0).
    legacy = ctx.tng(ns, config({"admin_bind": {"port": CONTROL_PORT}}), name="tng-admin-bind")
    ns.wait_tcp("127.0.0.1", CONTROL_PORT, 15, legacy)
    probes_answer(ns, "admin_bind")
    legacy.signal(signal.SIGTERM)
    rc = legacy.wait(30, "tng (admin_bind) to exit after SIGTERM")
    check(rc == 0, "tng (admin_bind) exits 0 after SIGTERM", f"exit code {rc}")
    log("control interface answered every probe")


if __name__ == "__main__":
    sys.exit(harness.run("control_interface", body))
