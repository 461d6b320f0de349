#!/usr/bin/env python3
"""Verification verdicts that must close the connection (background check, one-way): a policy
id the AS does not know, a policy that denies, evidence whose report data does not match the
certificate key (tng-reference-aa --report-data-override), an expired token
(tng-reference-as --clock-offset, older than any clock-skew leeway) and a token signed by a key
outside the AS's published chain (--untrusted-key).

Each case has its own namespaces and one ingress process with a bad mapping (10001) and a good
one (10002): the bad one must close the client with nothing received, log stage=attestation
with the cause, and let no byte reach the backend; the good one, in the same process, must serve
curl afterwards. The bad mapping is tried twice (a failure is never cached as a success).
"""

import sys

import common
from common import (EGRESS_PORT, INGRESS_PORT, Topology, attest, egress, ingress, ra, verify)
from harness import log
import harness

GOOD_PORT = INGRESS_PORT + 1
BAD_AS_PORT = common.AS_PORT + 1


def case(ctx, tag, hint, bad_policy=("default",), bad_as_flags=None, bad_aa_flags=None,
         as_flags=()):
    topo = Topology(ctx, tag)
    topo.start_as("as", *as_flags)
    bad_as_port = common.AS_PORT
    if bad_as_flags is not None:
        topo.start_as("as-bad", *bad_as_flags, port=BAD_AS_PORT)
        bad_as_port = BAD_AS_PORT
    _, aa = topo.start_aa("server", "aa")
    egresses = [egress(EGRESS_PORT, ra(attest(aa)))]
    bad_egress_port = EGRESS_PORT
    if bad_aa_flags is not None:
        _, bad_aa = topo.start_aa("server", "aa-bad", *bad_aa_flags)
        egresses.append(egress(EGRESS_PORT + 1, ra(attest(bad_aa))))
        bad_egress_port = EGRESS_PORT + 1
    eg = topo.start_tng("server", "egress", egress_eps=egresses)
    ing = topo.start_tng("client", "ingress", ingress_eps=[
        ingress(INGRESS_PORT, topo.server_ip, bad_egress_port,
                ra(verify_opts=verify(topo.as_addr("client", bad_as_port), bad_policy))),
        ingress(GOOD_PORT, topo.server_ip, EGRESS_PORT,
                ra(verify_opts=verify(topo.as_addr("client"), ["default"]))),
    ])
    for attempt in (1, 2):
        common.expect_rejected(topo, f"{tag} (attempt {attempt})", ing, hint, others=(eg,))
    n = common.count_closed(ing, "ingress")
    common.curl_ok(topo, GOOD_PORT, "the good mapping of the same ingress afterwards")
    kv = common.closed_line(ing, "ingress", after=n)
    common.check_result_fields(ing, "ingress", kv, peer_tee="sample", policy_ids=["default"])


def body(ctx):
    case(ctx, "nopolicy", r"polic", bad_policy=["no-such-policy"])
    case(ctx, "deny", r"polic|contraindicated|affirming|status", bad_policy=["strict"],
         as_flags=("--policy", "strict=deny"))
    case(ctx, "rdata", r"report.?data|runtime.?data|binding|pub.?key|public key|match|hash",
         bad_aa_flags=("--report-data-override", "00" * 48))
    case(ctx, "expired", r"expir|\bexp\b", bad_as_flags=("--clock-offset", "-3600"))
    case(ctx, "untrusted", r"trust|chain|certificate|signature|signer|issuer|x5c",
         bad_as_flags=("--untrusted-key",))
    log("every bad verdict closed the connection; the good mapping kept serving")


if __name__ == "__main__":
    sys.exit(harness.run("attestation_reject_verdicts", body))
