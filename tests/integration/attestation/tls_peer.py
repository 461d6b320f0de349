#!/usr/bin/env python3
"""A TLS 1.3 peer (ALPN rats-tls) that pretends to be a TNG endpoint with a certificate the
gateway must reject (no evidence extension, or a malformed one). python3's ssl module only.

  server  --port P --cert C --key K --rx-dir D
          an egress stand-in for a verifying ingress; every plaintext byte it receives after a
          handshake is stored in D/<n>.bin (the tests require none)
  client  --host H --port P [--cert C --key K] --marker M
          an ingress stand-in for a verifying egress; after the handshake it sends a request
          carrying M and reads to the end; prints one JSON line: handshake, received, how
"""

import argparse
import itertools
import json
import socket
import ssl
import sys
import threading
from pathlib import Path


def context(side, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if side == "server" else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["rats-tls"])
    if side == "client":
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the verifying egress presents TNG's dummy certificate
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def serve(conn, n, ctx, rx_dir):
    try:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            print(f"tls_peer: connection {n}: handshake done, alpn {tls.selected_alpn_protocol()}",
                  file=sys.stderr, flush=True)
            tls.settimeout(60)
            with open(Path(rx_dir) / f"{n:06d}.bin", "wb", buffering=0) as rx:
                while chunk := tls.recv(65536):
                    rx.write(chunk)
    except (OSError, ssl.SSLError) as e:
        print(f"tls_peer: connection {n}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)


def server(args):
    ctx = context("server", args.cert, args.key)
    lsock = socket.create_server(("0.0.0.0", args.port), backlog=64)
    print(f"tls_peer listening on :{args.port}", file=sys.stderr, flush=True)
    for n in itertools.count(1):
        conn, _ = lsock.accept()
        conn.settimeout(60)
        threading.Thread(target=serve, args=(conn, n, ctx, args.rx_dir), daemon=True).start()


def client(args):
    ctx = context("client", args.cert, args.key)
    res = {"handshake": None, "received": "", "how": None}
    got = b""
    try:
        with socket.create_connection((args.host, args.port), timeout=args.timeout) as raw:
            with ctx.wrap_socket(raw) as tls:
                res["handshake"] = "ok"
                # TLS 1.3: the client's handshake ends before the server has judged its
                # certificate, so this request is sent and must be dropped by the gateway.
                tls.sendall(f"GET /{args.marker} HTTP/1.1\r\nHost: app\r\n\r\n".encode())
                while chunk := tls.recv(65536):
                    got += chunk
                res["how"] = "eof"
    except socket.timeout:
        res["how"] = "timeout"
    except (OSError, ssl.SSLError) as e:
        if res["handshake"] is None:
            res["handshake"] = f"{type(e).__name__}: {e}"
        res["how"] = f"closed ({type(e).__name__}: {e})"
    res["received"] = got.hex()
    print(json.dumps(res), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--rx-dir", required=True)
    c = sub.add_parser("client")
    c.add_argument("--host", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--cert")
    c.add_argument("--key")
    c.add_argument("--marker", required=True)
    c.add_argument("--timeout", type=float, default=20)
    args = p.parse_args()
    server(args) if args.mode == "server" else client(args)


if __name__ == "__main__":
    main()
