#!/usr/bin/env python3
"""Every trust combination of the manual's table, with the reference AA and AS (background check):

  one-way   ingress verify, egress attest   (the egress presents an RA-TLS certificate)
  two-way   both attest and verify          (policy "default" one way, "prod" the other)
  reverse   ingress attest, egress verify   (the egress presents TNG's fixed dummy certificate)
  none      no_ra on both                   (the same dummy certificate, nothing attested)

Each runs in its own client / server / AS namespaces: ingress tng in the client namespace, egress
tng and the backend in the server namespace. curl goes through the tunnel; the access-log line
of each side carries what it verified (peer_tee, peer_policy_ids) and what it attested
(local_tee), and nothing it did not.
"""

import re
import sys

import common
from common import EGRESS_PORT, INGRESS_PORT, Topology, attest, egress, ingress, ra, verify
from harness import check, log
import harness


def run_combination(ctx, tag, ingress_role, egress_role):
    """ingress_role / egress_role: sets of "attest", "verify" (empty: no_ra)."""
    topo = Topology(ctx, tag)
    need_as = "verify" in ingress_role or "verify" in egress_role
    if need_as:
        topo.start_as("as", "--policy", "prod=allow")
    policies = {"client": ["default"], "server": ["prod"] if ingress_role == egress_role ==
                {"attest", "verify"} else ["default"]}

    def ra_for(side, role):
        a = v = None
        if "attest" in role:
            _, aa_addr = topo.start_aa(side, f"aa-{side}")
            a = attest(aa_addr)
        if "verify" in role:
            v = verify(topo.as_addr(side), policies[side])
        return ra(a, v)

    ing_tng = topo.start_tng("client", "ingress", ingress_eps=[
        ingress(INGRESS_PORT, topo.server_ip, EGRESS_PORT, ra_for("client", ingress_role))])
    eg_tng = topo.start_tng("server", "egress", egress_eps=[
        egress(EGRESS_PORT, ra_for("server", egress_role))])

    # Two requests: the second may be served from cached evidence and verification.
    for i in range(2):
        n_in, n_eg = common.count_closed(ing_tng, "ingress"), common.count_closed(eg_tng, "egress")
        common.curl_ok(topo, what=f"request {i + 1} through the tunnel")
        kv_in = common.closed_line(ing_tng, "ingress", after=n_in)
        kv_eg = common.closed_line(eg_tng, "egress", after=n_eg)
        common.check_result_fields(
            ing_tng, "ingress", kv_in,
            peer_tee="sample" if "verify" in ingress_role else None,
            policy_ids=policies["client"],
            local_tee="sample" if "attest" in ingress_role else None)
        common.check_result_fields(
            eg_tng, "egress", kv_eg,
            peer_tee="sample" if "verify" in egress_role else None,
            policy_ids=policies["server"],
            local_tee="sample" if "attest" in egress_role else None)

    # What the egress presents on the wire.
    text = common.server_cert_text(topo.client, topo.server_ip, EGRESS_PORT)
    fp = re.search(r"Fingerprint=(\S+)", text).group(1)
    if "attest" in egress_role:
        check(common.RA_OID in text, f"{tag}: the egress certificate carries the evidence "
              f"extension {common.RA_OID}", text[:600])
    else:
        check(common.RA_OID not in text, f"{tag}: the egress presents a certificate without "
              f"evidence (it attests nothing)", text[:600])
    served = sum(1 for f in topo.backend.files() if f.stat().st_size)
    check(served == 2, f"{tag}: the backend got data on exactly the 2 curl connections",
          f"{served} connections carried data")
    return fp


def body(ctx):
    run_combination(ctx, "oneway", {"verify"}, {"attest"})
    run_combination(ctx, "twoway", {"attest", "verify"}, {"attest", "verify"})
    fp_reverse = run_combination(ctx, "reverse", {"attest"}, {"verify"})
    fp_none = run_combination(ctx, "none", set(), set())
    check(fp_reverse == fp_none, "reverse: the verifying egress presents the same fixed dummy "
          "certificate as a no_ra egress", f"{fp_reverse} != {fp_none}")
    log("every trust combination served curl and logged its attestation result")


if __name__ == "__main__":
    sys.exit(harness.run("attestation_trust_combinations", body))
