#!/usr/bin/env python3
"""Peers whose certificate carries no usable evidence, played by tls_peer.py (python3 ssl, TLS 1.3,
ALPN rats-tls) with certificates made by the openssl CLI:

  plain      self-signed P-256, CN=TNG, without the 2.23.133.5.4.9 extension
  garbage    the same with the extension present but holding bytes that are not CBOR evidence
  (none)     no client certificate at all (egress direction only)

Both directions: a verifying ingress dialling a fake egress (the fake records any plaintext it
gets: none allowed), and a fake ingress dialling a verifying egress (the real backend behind the
egress must get no byte, although the fake's TLS 1.3 handshake completes before the egress has
judged its certificate and it sends its request at once). Afterwards a real attested
connection through the same process works.
"""

import json
import sys

import common
from common import EGRESS_PORT, INGRESS_PORT, Topology, attest, egress, ingress, ra, verify
from harness import check, log
import harness

EXT_HINT = r"2\.23\.133\.5\.4\.9|extension|evidence|cbor"


def fake_egress(ctx, topo, name, port, crt, key):
    rx = ctx.workdir / f"{name}-rx"
    rx.mkdir()
    proc = ctx.spawn(name, [sys.executable, common.TLS_PEER, "server", "--port", port, "--cert",
                            crt, "--key", key, "--rx-dir", rx], ns=topo.server)
    proc.wait_log(r"tls_peer listening", 15)
    return proc, rx


def verifying_ingress(ctx):
    topo = Topology(ctx, "vingress")
    topo.start_as("as")
    _, aa = topo.start_aa("server", "aa")
    eg = topo.start_tng("server", "egress", egress_eps=[egress(EGRESS_PORT, ra(attest(aa)))])
    plain = common.make_cert(ctx, "plain")
    garbage = common.make_cert(ctx, "garbage", [f"{common.RA_OID}=DER:0403deadbeef"])
    fakes = {"plain": fake_egress(ctx, topo, "fake-plain", EGRESS_PORT + 1, *plain),
             "garbage": fake_egress(ctx, topo, "fake-garbage", EGRESS_PORT + 2, *garbage)}
    v = ra(verify_opts=verify(topo.as_addr("client"), ["default"]))
    ing = topo.start_tng("client", "ingress", ingress_eps=[
        ingress(INGRESS_PORT, topo.server_ip, EGRESS_PORT, v),
        ingress(INGRESS_PORT + 1, topo.server_ip, EGRESS_PORT + 1, v),
        ingress(INGRESS_PORT + 2, topo.server_ip, EGRESS_PORT + 2, v),
    ])
    for i, name in enumerate(("plain", "garbage"), start=1):
        proc, rx = fakes[name]
        common.expect_rejected(topo, f"ingress verifying a {name} certificate", ing, EXT_HINT,
                               port=INGRESS_PORT + i, others=(eg,))
        got = sum(p.stat().st_size for p in rx.glob("*.bin"))
        check(got == 0, f"the fake egress with the {name} certificate received no plaintext",
              f"{got} bytes")
        proc.assert_running()
    common.curl_ok(topo, INGRESS_PORT, "a real attested egress through the same ingress")


def verifying_egress(ctx):
    topo = Topology(ctx, "vegress")
    topo.start_as("as")
    _, aa = topo.start_aa("client", "aa")
    eg = topo.start_tng("server", "egress", egress_eps=[egress(
        EGRESS_PORT, ra(verify_opts=verify(topo.as_addr("server"), ["default"])))])
    ing = topo.start_tng("client", "ingress", ingress_eps=[
        ingress(INGRESS_PORT, topo.server_ip, EGRESS_PORT, ra(attest(aa)))])
    certs = {"plain": common.make_cert(ctx, "plain"),
             "garbage": common.make_cert(ctx, "garbage", [f"{common.RA_OID}=DER:0403deadbeef"]),
             "no": (None, None)}
    for name, (crt, key) in certs.items():
        def attempt(marker, crt=crt, key=key, name=name):
            argv = [sys.executable, common.TLS_PEER, "client", "--host", topo.server_ip,
                    "--port", EGRESS_PORT, "--marker", marker]
            if crt:
                argv += ["--cert", crt, "--key", key]
            res = topo.client.run(argv, timeout=40, what=f"tls_peer client ({name} certificate)")
            lines = res.stdout.decode().strip().splitlines()
            if not lines:
                raise harness.Failure(f"tls_peer client printed nothing: {res.stderr.decode()}")
            out = json.loads(lines[-1])
            log(f"fake ingress with {name} certificate: {out}")
            check(out["how"] != "timeout", f"the egress closed the fake ingress ({name} "
                  "certificate) instead of leaving it waiting", str(out))
            return bytes.fromhex(out["received"]), out["how"]
        # Without any certificate the TLS layer itself may refuse it (stage=handshake).
        stage = (r'msg="connection failed"[^\n]*stage=(attestation|handshake)' if name == "no"
                 else common.FAILED_ATTESTATION)
        hint = r"cert|peer|handshake|verif|attest" if name == "no" else EXT_HINT
        common.expect_rejected(topo, f"egress verifying a fake ingress with {name} certificate",
                               eg, hint, attempt=attempt, stage=stage, others=(ing,))
    n = common.count_closed(eg, "egress")
    common.curl_ok(topo, INGRESS_PORT, "a real attested ingress to the same egress")
    common.check_result_fields(eg, "egress", common.closed_line(eg, "egress", after=n),
                               peer_tee="sample", policy_ids=["default"])


def body(ctx):
    verifying_ingress(ctx)
    verifying_egress(ctx)
    log("certificates without usable evidence were refused both ways")


if __name__ == "__main__":
    sys.exit(harness.run("attestation_reject_peer_cert", body))
