#!/usr/bin/env python3
"""The tunnel between ingress and egress is TLS 1.3 with ALPN rats-tls and the no_ra certificate.

  * `openssl s_client -connect 127.0.0.1:20001 -alpn rats-tls` against the egress: protocol
    TLSv1.3, ALPN rats-tls, a P-256 certificate with subject CN=TNG; TLS 1.2 is refused;
  * tcpdump on the namespace's loopback during a curl through the seed topology: the HTTP request
    (with a random marker header) and a slice of the response body are visible in plaintext on
    port 10001 and absent from port 20001, whose stream starts with a TLS handshake record.
"""

import os
import re
import signal
import struct
import sys

import configs
import harness
from harness import Failure, check, log


def s_client(ns, args, timeout=20):
    res = ns.run(["openssl", "s_client", "-connect", "127.0.0.1:20001", "-servername",
                  "tng.internal", *args], timeout=timeout, input=b"")
    return res.returncode, res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")


def tcp_payloads(pcap_path):
    """{(src_port, dst_port): bytes} of TCP payloads in a classic pcap from tcpdump -w."""
    data = pcap_path.read_bytes()
    if len(data) < 24:
        raise Failure(f"{pcap_path} is not a pcap file ({len(data)} bytes)")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise Failure(f"{pcap_path}: unknown pcap magic {magic.hex()} (pcapng is not expected)")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    link_hdr = {1: 14, 113: 16, 276: 20}.get(linktype)  # Ethernet, Linux cooked v1, v2
    if link_hdr is None:
        raise Failure(f"{pcap_path}: unexpected link type {linktype}")
    flows = {}
    off = 24
    seen = {}
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "IIII", data[off:off + 16])[2]
        if off + 16 + incl > len(data):
            break  # tcpdump is still writing this record
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = pkt[link_hdr:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if not payload or seen.get((sport, dport, seq)) == len(payload):
            continue  # skip pure ACKs and exact retransmissions
        seen[(sport, dport, seq)] = len(payload)
        flows[(sport, dport)] = flows.get((sport, dport), b"") + payload
    return flows


def body(ctx):
    ns = ctx.netns("wire")
    site = ctx.workdir / "site"
    site.mkdir()
    blob = os.urandom(256 << 10)
    (site / "blob.bin").write_bytes(blob)
    backend = ctx.spawn("http.server", [sys.executable, "-m", "http.server", "30001", "--bind",
                                        "127.0.0.1"], ns=ns, cwd=site)
    ns.wait_tcp("127.0.0.1", 30001, 15, backend)
    tng = ctx.tng(ns, configs.seed_no_ra_config())

    # 1. openssl s_client against the egress.
    rc, out, err = s_client(ns, ["-alpn", "rats-tls", "-showcerts"])
    text = out + err
    proto = re.search(r"Protocol\s*:\s*(\S+)", text) or re.search(r"New, (TLSv[\d.]+)", text)
    check(proto and proto.group(1) == "TLSv1.3", "s_client to the egress negotiates TLSv1.3",
          f"protocol {proto.group(1) if proto else 'not shown'}; s_client said:\n{text[-1500:]}")
    alpn = re.search(r"ALPN protocol:\s*(\S+)", text)
    check(alpn and alpn.group(1) == "rats-tls", "the egress selects ALPN rats-tls",
          f"{alpn.group(0) if alpn else 'no ALPN negotiated'}")
    subject = re.search(r"subject=(.*)", text)
    check(subject and re.search(r"\bCN\s*=\s*TNG\b", subject.group(1)),
          "the egress presents the dummy certificate with subject CN=TNG",
          f"subject line: {subject.group(0) if subject else 'none'}")
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    if not pem:
        raise Failure("s_client -showcerts printed no certificate")
    res = ns.run(["openssl", "x509", "-noout", "-text"], input=pem.group(0).encode(),
                 check_rc=True, what="openssl x509 -text")
    x509 = res.stdout.decode()
    check(re.search(r"prime256v1|P-256", x509), "the certificate key is ECDSA P-256",
          f"openssl x509 says:\n{x509[:800]}")
    rc12, out12, err12 = s_client(ns, ["-alpn", "rats-tls", "-tls1_2"])
    text12 = out12 + err12
    check("CONNECTED" in text12 and "Cipher is (NONE)" in text12 and rc12 != 0,
          "the egress refuses a TLS 1.2 handshake (TCP connects, no cipher agreed)",
          f"s_client -tls1_2 exit {rc12}, said:\n{text12[-800:]}")

    # 2. tcpdump: plaintext on 10001, only TLS on 20001.
    pcap = ctx.workdir / "lo.pcap"
    dump = ctx.spawn("tcpdump", ["tcpdump", "-i", "lo", "-n", "-U", "-s", "0", "-w", pcap,
                                 "tcp port 10001 or tcp port 20001"], ns=ns)
    dump.wait_log(r"listening on lo", 15, "tcpdump to start capturing on lo")
    marker = "tng-marker-" + os.urandom(12).hex()
    out = ctx.workdir / "got.bin"
    res = ns.run(["curl", "-sS", "--max-time", "20", "-H", f"X-Plaintext-Marker: {marker}",
                  "-o", out, "-w", "%{http_code}", "http://127.0.0.1:10001/blob.bin"], timeout=40)
    check(res.returncode == 0 and res.stdout == b"200" and out.read_bytes() == blob,
          "curl through the tunnel gets the file while tcpdump captures",
          f"curl exit {res.returncode}, code {res.stdout!r}: {res.stderr.decode().strip()}")
    # tcpdump may lag behind the kernel: wait until both legs' responses are in the file.
    def complete():
        flows = tcp_payloads(pcap)
        got = {port: sum(len(v) for (sp, _), v in flows.items() if sp == port)
               for port in (10001, 20001)}
        return flows if min(got.values()) >= len(blob) else None
    flows = harness.Deadline(15, "tcpdump to capture both legs of the response").poll(
        complete, 0.05)
    dump.signal(signal.SIGINT)
    dump.wait(15, "tcpdump to exit")
    plain = b"".join(v for (sp, dp), v in flows.items() if 10001 in (sp, dp))
    tunnel = {(sp, dp): v for (sp, dp), v in flows.items() if 20001 in (sp, dp)}
    tunnel_all = b"".join(tunnel.values())
    log(f"captured {len(plain)} payload bytes on port 10001 and {len(tunnel_all)} on 20001")
    needles = {"the request line": b"GET /blob.bin HTTP/1.1", "the marker header": marker.encode(),
               "a slice of the response body": blob[100_000:100_064]}
    for what, needle in needles.items():
        check(needle in plain, f"{what} is visible in plaintext on port 10001",
              "not found: the capture does not show the client leg")
        check(needle not in tunnel_all, f"{what} does not appear on port 20001",
              "found in the tunnel traffic: it is not encrypted")
    to_egress = [v for (sp, dp), v in tunnel.items() if dp == 20001]
    check(to_egress and all(v[:1] == b"\x16" and v[1:3] in (b"\x03\x01", b"\x03\x03")
                            for v in to_egress),
          "every connection to 20001 starts with a TLS handshake record",
          f"first bytes: {[v[:5].hex() for v in to_egress]}")

    tng.signal(signal.SIGTERM)
    rc = tng.wait(30, "tng to exit after SIGTERM")
    check(rc == 0, "tng exits 0 after SIGTERM", f"exit code {rc}")


if __name__ == "__main__":
    sys.exit(harness.run("wire_tls13", body))
