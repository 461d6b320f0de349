#!/usr/bin/env python3
"""Attestation services that are down (one-way: ingress verifies, egress attests):

  AS unreachable  the verifier's as_addr has no listener: the ingress refuses the connection;
                  once an AS starts there, connections work again without a restart
  AA unreachable  the attester's aa_addr socket does not exist: the egress refuses; once the AA
                  starts there, connections work again
  AA failing      the AA answers GetEvidence with an error (--fail-evidence)

Each rejection: the client is closed with nothing received, the failing side logs
stage=attestation with the cause, the backend gets no byte, both gateways keep running.
"""

import sys

import common
from common import EGRESS_PORT, INGRESS_PORT, Topology, attest, egress, ingress, ra, verify
from harness import log
import harness


def as_unreachable(ctx):
    topo = Topology(ctx, "asdown")
    _, aa = topo.start_aa("server", "aa")
    eg = topo.start_tng("server", "egress", egress_eps=[egress(EGRESS_PORT, ra(attest(aa)))])
    ing = topo.start_tng("client", "ingress", ingress_eps=[ingress(
        INGRESS_PORT, topo.server_ip, EGRESS_PORT,
        ra(verify_opts=verify(topo.as_addr("client"), ["default"])))])
    for attempt in (1, 2):
        common.expect_rejected(topo, f"AS unreachable (attempt {attempt})", ing,
                               r"refused|connect|unreachable|reach|attestation service|\bAS\b|"
                               r"certificate", others=(eg,))
    topo.start_as("as")
    common.wait_curl_ok(topo, 30, what="a connection once the AS is up")


def aa_unreachable(ctx):
    topo = Topology(ctx, "aadown")
    topo.start_as("as")
    _, aa = topo.start_aa("server", "aa", start=False)
    eg = topo.start_tng("server", "egress", egress_eps=[egress(EGRESS_PORT, ra(attest(aa)))],
                        wait="listening")
    ing = topo.start_tng("client", "ingress", ingress_eps=[ingress(
        INGRESS_PORT, topo.server_ip, EGRESS_PORT,
        ra(verify_opts=verify(topo.as_addr("client"), ["default"])))])
    for attempt in (1, 2):
        common.expect_rejected(topo, f"AA unreachable (attempt {attempt})", eg,
                               r"\bAA\b|agent|connect|refused|no such file|unix|evidence",
                               client_seconds=40, log_seconds=40, others=(ing,))
    topo.start_aa("server", "aa")
    common.wait_curl_ok(topo, 30, what="a connection once the AA is up")


def aa_failing(ctx):
    topo = Topology(ctx, "aafail")
    topo.start_as("as")
    _, bad = topo.start_aa("server", "aa-fail", "--fail-evidence")
    _, aa = topo.start_aa("server", "aa")
    eg = topo.start_tng("server", "egress", wait="listening", egress_eps=[
        egress(EGRESS_PORT, ra(attest(bad))), egress(EGRESS_PORT + 1, ra(attest(aa)))])
    v = ra(verify_opts=verify(topo.as_addr("client"), ["default"]))
    ing = topo.start_tng("client", "ingress", ingress_eps=[
        ingress(INGRESS_PORT, topo.server_ip, EGRESS_PORT, v),
        ingress(INGRESS_PORT + 1, topo.server_ip, EGRESS_PORT + 1, v)])
    common.expect_rejected(topo, "AA failing GetEvidence", eg, r"\bAA\b|agent|evidence|internal",
                           client_seconds=40, log_seconds=40, others=(ing,))
    common.curl_ok(topo, INGRESS_PORT + 1, "the egress's other mapping with a working AA")


def body(ctx):
    as_unreachable(ctx)
    aa_unreachable(ctx)
    aa_failing(ctx)
    log("unreachable or failing services closed connections; service came back when they did")


if __name__ == "__main__":
    sys.exit(harness.run("attestation_reject_services", body))
