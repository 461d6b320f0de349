#!/usr/bin/env python3
"""Half-close in each direction survives the tunnel.

Two hosts joined by veth: the client host runs the app client and a tng with only the mapping
ingress; the server host runs a tng with only the mapping egress and the backend. Then:
  * client half-closes first: it sends N bytes and shuts down its write side; the backend replies
    only after seeing that EOF, and the client must still receive the whole reply;
  * server half-closes first: the backend sends M bytes and shuts down its write side at once; the
    client reads to EOF and only then sends N bytes, which the backend must still receive in full.
Sizes include 0 and 1 byte and payloads larger than any socket buffer.
"""

import signal
import sys

import configs
import harness
import transfers
from harness import check, log

SIZES = [(0, 0), (1, 1), (100_000, 37), (1, 8 << 20), (8 << 20, 1), (16 << 20, 16 << 20)]


def body(ctx):
    client_ns = ctx.netns("cli")
    server_ns = ctx.netns("srv")
    _, server_addr = ctx.link(client_ns, server_ns, 200)

    server, report = ctx.peer_server(server_ns, 30001)
    egress = ctx.tng(server_ns, configs.mapping_config(
        egress=[((server_addr, 20001), ("127.0.0.1", 30001))]), name="tng-server")
    ingress = ctx.tng(client_ns, configs.mapping_config(
        ingress=[(("127.0.0.1", 10001), (server_addr, 20001))]), name="tng-client")

    n = 0
    for mode, what in (("reply_after_eof", "client half-closes first"),
                       ("close_first", "server half-closes first")):
        for up, down in SIZES:
            n += 1
            cid = f"{mode}-{up}-{down}"
            cli = ctx.peer_client(client_ns, f"client-{n}", [
                "--host", "127.0.0.1", "--port", 10001, "--mode", mode, "--id", cid,
                "--send", up, "--recv", down, "--seed", n, "--idle-timeout", 60])
            res = transfers.client_result(cli, 90, f"{what}: {up} up / {down} down")
            rep = transfers.wait_report(report, cid, 30, server)
            transfers.compare_transfer(f"{what}, {up} up / {down} down", res, rep)
            check(res["tx_bytes"] == up and res["rx_bytes"] == down,
                  f"{what}, {up} up / {down} down: every byte moved",
                  f"client moved {res['tx_bytes']} up, {res['rx_bytes']} down")

    for proc in (ingress, egress):
        proc.assert_running("after the half-close transfers")
        proc.signal(signal.SIGTERM)
        rc = proc.wait(30, f"{proc.name} to exit after SIGTERM")
        check(rc == 0, f"{proc.name} exits 0 after SIGTERM", f"exit code {rc}")
    log(f"{n} half-close transfers checked")


if __name__ == "__main__":
    sys.exit(harness.run("half_close", body))
