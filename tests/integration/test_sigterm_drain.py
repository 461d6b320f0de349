#!/usr/bin/env python3
"""SIGTERM drains: running transfers finish byte-exact, new connections are refused, exit 0.

Part 1: four full-duplex transfers are started and paused halfway (both directions have moved
data and both still have data to move). tng gets SIGTERM; the ingress and egress ports must start
refusing connections while tng keeps running; then the transfers resume, must complete byte-exact,
and tng must exit 0.
Part 2 (the drain deadline): one transfer is paused and never resumed; tng runs with
--drain-timeout 2 and gets SIGINT; it must close that connection and still exit 0.
"""

import json
import signal
import sys

import configs
import harness
import transfers
from harness import check, log

TRANSFERS = 4
SIZE = 48 << 20  # each way per transfer


def start_paused(ctx, ns, label, n, size):
    cli = ctx.peer_client(ns, label, ["--port", 10001, "--mode", "paused", "--id", label,
                                      "--send", size, "--recv", size, "--seed", n,
                                      "--idle-timeout", 120], interactive=True)
    line = cli.read_line(60, f"{label} to pause halfway")
    event = json.loads(line) if line.startswith("{") else {}
    if event.get("event") != "paused":
        raise harness.Failure(f"{label}: expected a paused event, got {line!r}")
    log(f"{label} paused after {event['tx_bytes']} bytes up, {event['rx_bytes']} down")
    return cli


def body(ctx):
    ns = ctx.netns("drain")
    server, report = ctx.peer_server(ns, 30001)
    config = configs.seed_no_ra_config()

    # Part 1: drain with transfers that finish.
    tng = ctx.tng(ns, config, args=["--drain-timeout", 120])
    clients = [start_paused(ctx, ns, f"transfer-{i}", i, SIZE) for i in range(TRANSFERS)]
    tng.signal(signal.SIGTERM)
    log("sent SIGTERM to tng with all transfers in flight")
    ns.wait_refused("127.0.0.1", 10001, 15)
    log("ok: after SIGTERM the ingress port 10001 refuses new connections")
    ns.wait_refused("127.0.0.1", 20001, 15)
    log("ok: after SIGTERM the egress port 20001 refuses new connections")
    tng.assert_running("while transfers were still open (it must drain, not quit)")
    log("ok: tng keeps running while transfers are open")

    for cli in clients:
        cli.write_line("go")
    for cli in clients:
        res = transfers.client_result(cli, 180, f"{cli.name} to finish after SIGTERM")
        rep = transfers.wait_report(report, cli.name, 30, server)
        transfers.compare_transfer(f"{cli.name} (resumed after SIGTERM)", res, rep)
        check(res["tx_bytes"] == SIZE and res["rx_bytes"] == SIZE,
              f"{cli.name}: all {SIZE} bytes each way", f"moved {res['tx_bytes']} up, "
              f"{res['rx_bytes']} down")
    rc = tng.wait(30, "tng to exit once the drained transfers finished")
    check(rc == 0, "tng exits 0 after draining", f"exit code {rc}")

    # Part 2: the drain deadline closes what is left, and SIGINT drains like SIGTERM.
    tng2 = ctx.tng(ns, config, name="tng-deadline", args=["--drain-timeout", 2])
    stuck = start_paused(ctx, ns, "stuck", 99, 8 << 20)
    tng2.signal(signal.SIGINT)
    log("sent SIGINT to tng with a transfer that never resumes (drain timeout 2 s)")
    ns.wait_refused("127.0.0.1", 10001, 15)
    log("ok: after SIGINT the ingress port refuses new connections")
    rc = tng2.wait(30, "tng to exit at its 2 s drain deadline")
    check(rc == 0, "tng exits 0 when the drain deadline passes", f"exit code {rc}")
    # The stuck client is still blocked on stdin; its connection must be gone. Resume it: its
    # send or its wait for the backend's EOF must fail rather than complete.
    stuck.write_line("go")
    rc = stuck.wait(30, "the stuck client to notice its connection was closed")
    rep = transfers.wait_report(report, "stuck", 30, server)
    check(rc != 0 or rep.get("rx_bytes", 0) < 8 << 20,
          "the transfer left at the deadline was cut off, not completed",
          f"client exit {rc}, backend received {rep.get('rx_bytes')} bytes")


if __name__ == "__main__":
    sys.exit(harness.run("sigterm_drain", body))
