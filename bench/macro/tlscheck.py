"""Checks on the wire what each TLS pair negotiates: version, ciphersuite and key-exchange group.

The comparison is only fair when every pair runs TLS 1.3 with TLS_AES_128_GCM_SHA256, so the
harness captures one real connection through each pair with tcpdump and reads the cleartext
ClientHello and ServerHello, instead of trusting the configuration.
"""

import socket
import struct

from procs import BenchError, established_count, wait_until

SUITES = {0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384",
          0x1303: "TLS_CHACHA20_POLY1305_SHA256", 0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"}
GROUPS = {0x0017: "P-256", 0x0018: "P-384", 0x0019: "P-521", 0x001D: "X25519",
          0x001E: "X448"}
HRR_RANDOM = bytes.fromhex(
    "CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
_LINK_HEADER = {1: 14, 101: 0, 113: 16, 276: 20}  # EN10MB, RAW, LINUX_SLL, LINUX_SLL2


def capture_handshake(sv, ctx, pair, target, wire_port):
    """One connection to target through the pair while tcpdump watches the TLS leg (server port
    wire_port) on the client host; returns the summary."""
    pcap = ctx.workdir / "handshake.pcap"
    net = ctx.topo.server_net
    # --immediate-mode: otherwise packets wait in the capture ring until a block times out.
    dump = sv.start("tcpdump", ["tcpdump", "-i", ctx.topo.client_dev, "-n", "-U",
                                "--immediate-mode", "-Z", "root", "-s", "0", "-w", pcap, "tcp",
                                "port", str(wire_port)], ns=ctx.topo.client_ns)
    try:
        wait_until(lambda: "listening on" in dump.log_tail(5) or not dump.alive(), 10,
                   "tcpdump to start")
        if not dump.alive():
            raise BenchError(f"tcpdump: {dump.describe_exit()}")
        before = established_count(ctx.p_out, net)
        with ctx.topo.on_client():
            conn = socket.create_connection(target, timeout=10)
        with conn as s:
            s.sendall(b"tls-check\n")
            wait_until(lambda: established_count(ctx.p_out, net) > before, 10,
                       "the check connection to reach the backend")

            last_error = []

            def captured():
                try:
                    return summarize(pcap.read_bytes(), wire_port)
                except BenchError as e:
                    last_error[:] = [str(e)]
                    return None
            summary = wait_until(captured, 10, "tcpdump to write the ServerHello", 0.05,
                                 detail=lambda: last_error[0] if last_error else None)
    finally:
        sv.stop(dump)
    for p in pair:
        if not p.alive():
            raise BenchError(f"TLS check: {p.describe_exit()}")
    return summary


def summarize(pcap_bytes, server_port):
    """Version, suite and group from the first ServerHello (after any HelloRetryRequest)."""
    to_server, to_client = _first_flow_streams(pcap_bytes, server_port)
    client_hello = next((m for t, m in _handshake_messages(to_server) if t == 1), None)
    server_hellos = [m for t, m in _handshake_messages(to_client) if t == 2]
    if not server_hellos:
        raise BenchError("TLS check: no ServerHello captured on the TLS leg")
    hello = _parse_hello(server_hellos[-1], server=True)
    if hello["random"] == HRR_RANDOM:
        raise BenchError("TLS check: only a HelloRetryRequest was captured")
    offered = _parse_hello(client_hello, server=False) if client_hello else {}
    version = hello["ext"].get(0x002B)
    key_share = hello["ext"].get(0x0033)
    return {
        "version": "TLSv1.3" if version == b"\x03\x04" else f"legacy {hello['legacy']:#06x}",
        "cipher": SUITES.get(hello["suite"], f"{hello['suite']:#06x}"),
        "group": (GROUPS.get(struct.unpack(">H", key_share[:2])[0], key_share[:2].hex())
                  if key_share else "none"),
        "hello_retry": any(_parse_hello(m, True)["random"] == HRR_RANDOM
                           for m in server_hellos[:-1]),
        "client_offered_suites": [SUITES.get(s, f"{s:#06x}") for s in offered.get("suites", [])],
    }


def _first_flow_streams(data, server_port):
    """Payload bytes each way of the first TCP connection to server_port, in sequence order."""
    if len(data) < 24:
        raise BenchError("TLS check: empty capture")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise BenchError(f"TLS check: not a pcap file (magic {magic.hex()})")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype not in _LINK_HEADER:
        raise BenchError(f"TLS check: unsupported pcap link type {linktype}")
    link_len = _LINK_HEADER[linktype]
    client_port = None
    segments = {True: {}, False: {}}  # to_server? -> seq -> payload
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = pkt[link_len:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        tcp = ip[(ip[0] & 0x0F) * 4:]
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if dport == server_port:
            client_port = client_port or sport
            if sport == client_port and payload:
                segments[True].setdefault(seq, payload)
        elif sport == server_port and dport == client_port and payload:
            segments[False].setdefault(seq, payload)
    if client_port is None:
        raise BenchError("TLS check: no connection to the TLS port was captured")

    def stream(segs):
        return b"".join(segs[k] for k in sorted(segs))
    return stream(segments[True]), stream(segments[False])


def _handshake_messages(stream):
    """(type, body) of the cleartext handshake messages at the start of a TLS stream."""
    hs = b""
    off = 0
    while off + 5 <= len(stream):
        rtype, _, length = struct.unpack(">BHH", stream[off:off + 5])
        if rtype != 22:  # past the cleartext part (ChangeCipherSpec or encrypted records)
            if rtype == 20:
                off += 5 + length
                continue
            break
        hs += stream[off + 5:off + 5 + length]
        off += 5 + length
    msgs, pos = [], 0
    while pos + 4 <= len(hs):
        mtype = hs[pos]
        mlen = int.from_bytes(hs[pos + 1:pos + 4], "big")
        msgs.append((mtype, hs[pos + 4:pos + 4 + mlen]))
        pos += 4 + mlen
    return msgs


def _parse_hello(body, server):
    legacy = struct.unpack(">H", body[:2])[0]
    random = body[2:34]
    pos = 34
    pos += 1 + body[pos]  # legacy session id
    out = {"legacy": legacy, "random": random, "ext": {}}
    if server:
        out["suite"] = struct.unpack(">H", body[pos:pos + 2])[0]
        pos += 3
    else:
        n = struct.unpack(">H", body[pos:pos + 2])[0]
        out["suites"] = [struct.unpack(">H", body[pos + 2 + i:pos + 4 + i])[0]
                         for i in range(0, n, 2)]
        pos += 2 + n
        pos += 1 + body[pos]  # compression methods
    if pos + 2 > len(body):
        return out
    end = pos + 2 + struct.unpack(">H", body[pos:pos + 2])[0]
    pos += 2
    while pos + 4 <= end:
        etype, elen = struct.unpack(">HH", body[pos:pos + 4])
        out["ext"][etype] = body[pos + 4:pos + 4 + elen]
        pos += 4 + elen
    return out
