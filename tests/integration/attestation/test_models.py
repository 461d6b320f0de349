#!/usr/bin/env python3
"""Both attestation models, one-way (ingress verifies, egress attests), with the reference AA/AS:

  background_check  the verifier sends the peer's evidence to the AS; its token signer is checked
                    against GET /certificate (as_addr) or against trusted_certs_paths
  passport          the attester trades its evidence for an AS token (attest.model passport,
                    as_addr, policy_ids) and presents the token; the verifier (verify.model
                    passport) checks it against the AS certificate (as_addr) or
                    trusted_certs_paths, without any AS call of its own

Passport rejections: a policy id the token was not appraised against, an expired token
(tng-reference-as --clock-offset), a token signed outside the trusted chain (--untrusted-key).
A passport verifier with trusted_certs_paths runs in a namespace with no route to the AS at all.
"""

import sys

import common
from common import EGRESS_PORT, INGRESS_PORT, Topology, attest, egress, ingress, ra, verify
from harness import check, log
import harness


def passport_egress(topo, policy_ids=("default",)):
    _, aa = topo.start_aa("server", "aa")
    return topo.start_tng("server", "egress", egress_eps=[egress(EGRESS_PORT, ra(attest(
        aa, model="passport", as_addr=topo.as_addr("server"), policy_ids=policy_ids)))])


def good(topo, ing, port, policy_ids, what):
    n = common.count_closed(ing, "ingress")
    common.curl_ok(topo, port, what)
    kv = common.closed_line(ing, "ingress", after=n)
    common.check_result_fields(ing, "ingress", kv, peer_tee="sample", policy_ids=policy_ids)


def background_check(ctx):
    """as_addr (certificate fetched from the AS) and trusted_certs_paths side by side."""
    topo = Topology(ctx, "bgcheck")
    topo.start_as("as")
    certs = topo.as_certificate()
    _, aa = topo.start_aa("server", "aa")
    eg = topo.start_tng("server", "egress", egress_eps=[egress(EGRESS_PORT, ra(attest(aa)))])
    as_addr = topo.as_addr("client")
    ing = topo.start_tng("client", "ingress", ingress_eps=[
        ingress(INGRESS_PORT, topo.server_ip, EGRESS_PORT,
                ra(verify_opts=verify(as_addr, ["default"], model="background_check"))),
        ingress(INGRESS_PORT + 1, topo.server_ip, EGRESS_PORT,
                ra(verify_opts=verify(as_addr, ["default"], trusted_certs_paths=[certs]))),
    ])
    good(topo, ing, INGRESS_PORT, ["default"], "background_check with the AS certificate")
    good(topo, ing, INGRESS_PORT + 1, ["default"], "background_check with trusted_certs_paths")
    n = common.count_closed(eg, "egress")
    common.curl_ok(topo, INGRESS_PORT, "background_check again")
    kv = common.closed_line(eg, "egress", after=n)
    common.check_result_fields(eg, "egress", kv, local_tee="sample")


def passport(ctx):
    """Passport verified with the AS certificate (as_addr); a policy id the token lacks fails."""
    topo = Topology(ctx, "passport")
    as_proc = topo.start_as("as", "--policy", "prod=allow")
    eg = passport_egress(topo)
    as_addr = topo.as_addr("client")
    ing = topo.start_tng("client", "ingress", ingress_eps=[
        ingress(INGRESS_PORT, topo.server_ip, EGRESS_PORT,
                ra(verify_opts=verify(as_addr, ["default"], model="passport"))),
        ingress(INGRESS_PORT + 1, topo.server_ip, EGRESS_PORT,
                ra(verify_opts=verify(as_addr, ["prod"], model="passport"))),
    ])
    good(topo, ing, INGRESS_PORT, ["default"], "passport with the AS certificate")
    n = common.count_closed(eg, "egress")
    common.curl_ok(topo, INGRESS_PORT, "passport again")
    common.check_result_fields(eg, "egress", common.closed_line(eg, "egress", after=n),
                               local_tee="sample")
    # The token was appraised against "default" only: a verifier requiring "prod" refuses it.
    common.expect_rejected(topo, "passport token without the required policy id", ing,
                           r"polic", port=INGRESS_PORT + 1, others=(eg,))
    # The verifier never sent evidence to the AS: only the attester did (POST /attestation).
    attests = len(common.log_lines(as_proc, r'path=/attestation'))
    check(attests >= 1, "passport: the AS issued the attester's token(s)", f"{attests} requests")
    good(topo, ing, INGRESS_PORT, ["default"], "passport after the rejection")


def passport_trusted_certs(ctx):
    """The verifier has no route to the AS: only trusted_certs_paths can vouch for the token."""
    topo = Topology(ctx, "pptrust", link_client_as=False)
    topo.start_as("as")
    certs = topo.as_certificate()
    passport_egress(topo)
    ing = topo.start_tng("client", "ingress", ingress_eps=[
        ingress(INGRESS_PORT, topo.server_ip, EGRESS_PORT,
                ra(verify_opts=verify(None, ["default"], model="passport",
                                      trusted_certs_paths=[certs])))])
    good(topo, ing, INGRESS_PORT, ["default"], "passport with trusted_certs_paths, AS unreachable "
         "from the verifier")


def passport_bad_token(ctx, tag, as_flags, hint):
    topo = Topology(ctx, tag)
    topo.start_as("as", *as_flags)
    eg = passport_egress(topo)
    ing = topo.start_tng("client", "ingress", ingress_eps=[
        ingress(INGRESS_PORT, topo.server_ip, EGRESS_PORT,
                ra(verify_opts=verify(topo.as_addr("client"), ["default"], model="passport")))])
    for attempt in (1, 2):
        common.expect_rejected(topo, f"{tag} (attempt {attempt})", ing, hint, others=(eg,))


def body(ctx):
    background_check(ctx)
    passport(ctx)
    passport_trusted_certs(ctx)
    passport_bad_token(ctx, "ppexpired", ("--clock-offset", "-3600"), r"expir|\bexp\b")
    passport_bad_token(ctx, "ppuntrusted", ("--untrusted-key",),
                       r"trust|chain|certificate|signature|signer|issuer|x5c")
    log("both models served curl; bad passport tokens were refused")


if __name__ == "__main__":
    sys.exit(harness.run("attestation_models", body))
