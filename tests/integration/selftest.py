#!/usr/bin/env python3
"""Checks the harness itself, without tng: the checks pass through a correct relay and fail
through broken ones, deadlines fire, and namespaces and processes are cleaned up.

relay.py (a plain TCP relay) stands where tng would be. With --corrupt-at it flips one byte; with
--no-half-close it closes both directions on the first EOF. The byte-exact and half-close checks
used by the tng tests must report both faults.
"""

import os
import sys

import harness
import transfers
from harness import Failure, check, log


def relay(ctx, ns, name, *extra):
    proc = ctx.spawn(name, [sys.executable, harness.HERE / "relay.py", "--map",
                            "127.0.0.1:10001=127.0.0.1:30001", *extra], ns=ns)
    proc.wait_log(r'msg="gateway ready"', 15)
    return proc


def transfer(ctx, ns, report, server, cid, mode, up, down):
    cli = ctx.peer_client(ns, f"client-{cid}", ["--port", 10001, "--mode", mode, "--id", cid,
                                               "--send", up, "--recv", down, "--seed", 7,
                                               "--idle-timeout", 20])
    res = transfers.client_result(cli, 60, f"client {cid}")
    transfers.compare_transfer(cid, res, transfers.wait_report(report, cid, 20, server))


def expect_failure(what, fn, pattern):
    try:
        fn()
    except Failure as e:
        first = str(e).splitlines()[0]
        check(pattern in str(e), f"{what} is reported: {first[:160]}", f"reported, but as: {e}")
        return
    raise Failure(f"{what} went unnoticed: the check passed through a broken relay")


def body(ctx):
    ns = ctx.netns("self")
    server, report = ctx.peer_server(ns, 30001)

    good = relay(ctx, ns, "relay-good")
    for mode in ("duplex", "reply_after_eof", "close_first"):
        transfer(ctx, ns, report, server, f"good-{mode}", mode, 3 << 20, 2 << 20)
    good.stop()
    ns.wait_refused("127.0.0.1", 10001, 10)

    corrupt = relay(ctx, ns, "relay-corrupt", "--corrupt-at", 123_456)
    expect_failure("a flipped byte", lambda: transfer(
        ctx, ns, report, server, "corrupt", "duplex", 1 << 20, 1 << 20), "client->server")
    corrupt.stop()
    ns.wait_refused("127.0.0.1", 10001, 10)

    relay(ctx, ns, "relay-no-half-close", "--no-half-close")
    expect_failure("a relay that ignores half-close (client first)", lambda: transfer(
        ctx, ns, report, server, "nohalf-c", "reply_after_eof", 1000, 50_000), "received 0 of")
    expect_failure("a relay that ignores half-close (server first)", lambda: transfer(
        ctx, ns, report, server, "nohalf-s", "close_first", 50_000, 1000), "nohalf-s")

    # Deadlines fire and name what they waited for.
    quiet = ctx.spawn("quiet", [sys.executable, "-c", "import time; time.sleep(60)"], ns=ns)
    expect_failure("a log line that never comes",
                   lambda: quiet.wait_log("never printed", 0.5), "timed out after 0.5s")
    expect_failure("a port that never opens",
                   lambda: ns.wait_tcp("127.0.0.1", 1, 0.5), "timed out after 0.5s")

    # A nested context cleans up its namespaces and processes.
    inner = harness.Context("selftest-inner")
    a, b = inner.netns("a"), inner.netns("b")
    addr_a, addr_b = inner.link(a, b, 201)
    srv, _ = inner.peer_server(b, 30002, host=addr_b)
    check(a.probe(addr_b, 30002) == "open",
          f"a server in one namespace is reachable over veth ({addr_a} -> {addr_b})")
    check(ns.probe("127.0.0.1", 30002) == "refused", "namespaces are isolated from each other")
    inner.cleanup(keep_workdir=False)
    check(not (harness.NETNS_DIR / a.name).exists() and not (harness.NETNS_DIR / b.name).exists(),
          "cleanup deletes the namespaces")
    check(srv.popen.returncode is not None and not os.path.exists(f"/proc/{srv.pid}"),
          "cleanup stops and reaps the processes")
    check(not inner.workdir.exists(), "cleanup removes the work directory of a passing test")
    log("harness self-test done")


if __name__ == "__main__":
    sys.exit(harness.run("harness_selftest", body))
