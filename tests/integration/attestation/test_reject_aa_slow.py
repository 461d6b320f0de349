#!/usr/bin/env python3
"""An AA slower than the attester's timeout (TNG waits 50 s for the AA): tng-reference-aa
--delay-ms 70000 behind an attesting egress, a verifying ingress in front (one-way).

The client must be closed with nothing received (whichever deadline comes first: the handshake's
or the AA call's), the egress must log stage=attestation naming the timeout or the AA whose
evidence is missing, the backend must get no byte, and once the slow
AA is replaced by a prompt one on the same socket, connections work again without a restart.
This test mostly waits; it runs beside the others.
"""

import signal
import sys

import common
from common import EGRESS_PORT, INGRESS_PORT, Topology, attest, egress, ingress, ra, verify
from harness import log
import harness


def body(ctx):
    topo = Topology(ctx, "aaslow")
    topo.start_as("as")
    slow, aa = topo.start_aa("server", "aa-slow", "--delay-ms", "70000", sock="aa")
    eg = topo.start_tng("server", "egress", egress_eps=[egress(EGRESS_PORT, ra(attest(aa)))],
                        wait="listening")
    ing = topo.start_tng("client", "ingress", ingress_eps=[ingress(
        INGRESS_PORT, topo.server_ip, EGRESS_PORT,
        ra(verify_opts=verify(topo.as_addr("client"), ["default"])))])
    common.expect_rejected(topo, "AA slower than the timeout", eg,
                           r"time.?out|timed out|deadline|\bAA\b|agent", client_seconds=200,
                           log_seconds=200, others=(ing,))
    slow.signal(signal.SIGTERM)
    slow.wait(15, "the slow AA to stop")
    topo.start_aa("server", "aa-prompt", sock="aa")
    common.wait_curl_ok(topo, 120, what="a connection once a prompt AA serves the socket")
    log("the slow AA closed the connection; the prompt one restored service")


if __name__ == "__main__":
    sys.exit(harness.run("attestation_reject_aa_slow", body))
