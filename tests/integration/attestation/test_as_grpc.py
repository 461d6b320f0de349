#!/usr/bin/env python3
"""Verification through the trustee AS over gRPC (verify.as_type "grpc"), background check,
one-way: tng-reference-as serves REST on 8080 and gRPC (h2c) on 8090; the ingress verifies with
as_addr on the gRPC port and the AS's signing chain as trusted_certs_paths (the gRPC AS has no
certificate RPC). A good mapping carries curl through the tunnel and the access log names
peer_tee/peer_policy_ids; a mapping whose policy denies (and one whose policy the AS does not
know, a grpc-status ABORTED) closes the client with no byte reaching the backend.
"""

import sys

import common
from common import (EGRESS_PORT, INGRESS_PORT, Topology, attest, egress, ingress, ra, verify)
from harness import log
import harness

GRPC_PORT = common.AS_PORT + 10
DENY_PORT = INGRESS_PORT + 1
UNKNOWN_PORT = INGRESS_PORT + 2


def grpc_verify(topo, policy_ids, certs):
    opts = verify(topo.as_addr("client", GRPC_PORT), policy_ids, trusted_certs_paths=[str(certs)])
    opts["as_type"] = "grpc"
    return opts


def body(ctx):
    topo = Topology(ctx, "grpc")
    as_proc = topo.start_as("as", "--grpc-listen", f"0.0.0.0:{GRPC_PORT}",
                            "--policy", "strict=deny")
    certs = topo.as_certificate()
    _, aa = topo.start_aa("server", "aa")
    eg = topo.start_tng("server", "egress", egress_eps=[egress(EGRESS_PORT, ra(attest(aa)))])
    ing = topo.start_tng("client", "ingress", ingress_eps=[
        ingress(INGRESS_PORT, topo.server_ip, EGRESS_PORT,
                ra(verify_opts=grpc_verify(topo, ["default"], certs))),
        ingress(DENY_PORT, topo.server_ip, EGRESS_PORT,
                ra(verify_opts=grpc_verify(topo, ["strict"], certs))),
        ingress(UNKNOWN_PORT, topo.server_ip, EGRESS_PORT,
                ra(verify_opts=grpc_verify(topo, ["no-such-policy"], certs))),
    ])

    common.curl_ok(topo, INGRESS_PORT, "curl through the tunnel verified over gRPC")
    kv = common.closed_line(ing, "ingress")
    common.check_result_fields(ing, "ingress", kv, peer_tee="sample", policy_ids=["default"])
    as_proc.wait_log(r'grpc_method=/attestation\.AttestationService/AttestationEvaluate'
                     r'[^\n]*grpc_status=0', 10, "the AS to log the gRPC AttestationEvaluate")

    common.expect_rejected(topo, "grpc deny policy", ing,
                           r"polic|contraindicated|affirming|status", port=DENY_PORT,
                           others=(eg,))
    common.expect_rejected(topo, "grpc unknown policy", ing, r"grpc-status 10|polic",
                           port=UNKNOWN_PORT, others=(eg,))
    log("verification over the gRPC AS admits the good peer and closes the denied ones")


if __name__ == "__main__":
    sys.exit(harness.run("attestation_as_grpc", body))
