#!/usr/bin/env python3
"""1000 concurrent connections through the gateway, all served.

The backend holds every reply until all 1000 connections have reached it, so the gateway must
carry 1000 tunnels at the same time (4000 sockets inside tng). Each connection sends a random
request of 1..8192 bytes; the reply is its sha256 followed by the request echoed back.
"""

import json
import os
import signal
import sys

import configs
import harness
import transfers
from harness import check, log

COUNT = int(os.environ.get("TNG_IT_CONNECTIONS", "1000"))


def body(ctx):
    # Per connection: client 1, tng 4 (ingress in/out, egress in/out), backend 1; plus slack.
    limit = harness.raise_nofile_limit(4 * COUNT + 1024)
    log(f"RLIMIT_NOFILE raised to {limit} for this test and its children")
    ns = ctx.netns("many")
    server, report = ctx.peer_server(ns, 30001)
    tng = ctx.tng(ns, configs.seed_no_ra_config())

    for rnd in range(2):  # twice: connections and their resources are released after a round
        cli = ctx.spawn(f"many-{rnd}", [sys.executable, harness.PEER, "many", "--port", 10001,
                                       "--count", COUNT, "--group", f"round{rnd}", "--seed", rnd,
                                       "--barrier-timeout", 90, "--deadline", 150], ns=ns)
        rc = cli.wait(180, f"round {rnd}: {COUNT} concurrent connections to finish")
        lines = [l for l in cli.stdout_text().splitlines() if l.startswith("{")]
        if not lines:
            raise harness.Failure(f"round {rnd}: the client printed no summary (exit {rc}):\n"
                                  f"{cli.tail()}")
        summary = json.loads(lines[-1])
        reports = [r for r in transfers.read_reports(report).values()
                   if str(r.get("id", "")).startswith(f"round{rnd}-")]
        backend_errors = sorted({r["error"] for r in reports if r.get("error")})
        check(rc == 0 and summary["ok"] == COUNT,
              f"round {rnd}: all {COUNT} concurrent connections got their checksummed echo",
              f"{summary['ok']} ok, {summary['failed']} failed; first client errors: "
              f"{summary['errors'][:5]}; backend errors: {backend_errors[:3]}")
        tng.assert_running(f"after round {rnd}")

    tng.signal(signal.SIGTERM)
    rc = tng.wait(30, "tng to exit after SIGTERM")
    check(rc == 0, "tng exits 0 after SIGTERM", f"exit code {rc}")


if __name__ == "__main__":
    sys.exit(harness.run("concurrent_connections", body))
