#!/usr/bin/env python3
"""1 GiB of random data each way through ingress and egress, checked byte-exact.

One full-duplex connection carries TNG_IT_BULK_BYTES (default 1 GiB) client->server while the
backend sends the same amount server->client, both in random write sizes (1 byte .. 1 MiB); then a
second connection moves the data one way at a time. sha256 and byte counts are compared on both
ends. Set TNG_IT_BULK_BYTES (e.g. 64M) for a quick local run; meson runs the full size.
"""

import os
import re
import signal
import sys

import configs
import harness
import transfers
from harness import check, log


def parse_size(text):
    m = re.fullmatch(r"(\d+)([KMG]?)", text.strip().upper())
    if not m:
        raise harness.Failure(f"TNG_IT_BULK_BYTES={text!r} is not a size like 1073741824 or 64M")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def body(ctx):
    size = parse_size(os.environ.get("TNG_IT_BULK_BYTES", "1G"))
    log(f"transfer size: {size} bytes each way")
    ns = ctx.netns("bulk")
    server, report = ctx.peer_server(ns, 30001)
    tng = ctx.tng(ns, configs.seed_no_ra_config())
    # Generous but bounded: a few MB/s would be a defect in itself, not a reason to hang forever.
    seconds = 120 + size / (4 << 20)

    cases = [("duplex", "duplex", size, size),
             ("upload", "reply_after_eof", size, 0),
             ("download", "reply_after_eof", 0, size)]
    for i, (label, mode, up, down) in enumerate(cases):
        cli = ctx.peer_client(ns, f"client-{label}", [
            "--port", 10001, "--mode", mode, "--id", label, "--send", up, "--recv", down,
            "--seed", 1000 + i, "--idle-timeout", 60])
        res = transfers.client_result(cli, seconds, f"the {label} transfer to finish")
        rep = transfers.wait_report(report, label, 30, server)
        transfers.compare_transfer(f"{label} ({up} up, {down} down)", res, rep)
        check(res["tx_bytes"] == up and res["rx_bytes"] == down,
              f"{label}: the full sizes were moved", f"client moved {res['tx_bytes']} up and "
              f"{res['rx_bytes']} down, wanted {up} and {down}")

    tng.assert_running("after the transfers")
    tng.signal(signal.SIGTERM)
    rc = tng.wait(30, "tng to exit after SIGTERM")
    check(rc == 0, "tng exits 0 after SIGTERM", f"exit code {rc}")


if __name__ == "__main__":
    sys.exit(harness.run("bulk_transfer", body))
