#!/usr/bin/env python3
"""The app server behind the egress in the attestation tests: it stores every byte it receives,
one file per connection (<rx-dir>/<n>.bin, written as bytes arrive), and answers each HTTP
request head with `200 backend reply <n>`. The tests read the files to prove that no plaintext
byte of a rejected connection ever arrived.
"""

import argparse
import itertools
import socket
import sys
import threading
from pathlib import Path


def serve(conn, n, rx_dir):
    with conn, open(Path(rx_dir) / f"{n:06d}.bin", "wb", buffering=0) as rx:
        conn.settimeout(120)
        head = b""
        answered = False
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                rx.write(chunk)
                if not answered:
                    head += chunk
                    if b"\r\n\r\n" in head:
                        body = f"backend reply {n}\n".encode()
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                     b"Connection: close\r\nContent-Length: " +
                                     str(len(body)).encode() + b"\r\n\r\n" + body)
                        conn.shutdown(socket.SHUT_WR)
                        answered = True
        except OSError as e:
            print(f"backend connection {n}: {e}", file=sys.stderr, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rx-dir", required=True)
    args = p.parse_args()
    lsock = socket.create_server((args.host, args.port), backlog=256)
    print(f"backend listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
    for n in itertools.count(1):
        conn, peer = lsock.accept()
        print(f"backend connection {n} from {peer[0]}:{peer[1]}", file=sys.stderr, flush=True)
        threading.Thread(target=serve, args=(conn, n, args.rx_dir), daemon=True).start()


if __name__ == "__main__":
    main()
