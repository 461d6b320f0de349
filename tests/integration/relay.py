#!/usr/bin/env python3
"""A plain TCP relay with the gateway's relay contract, and faults to inject on purpose.

Used by selftest.py to prove the checks catch broken relays, and as a stand-in for tng
(TNG_IT_STANDIN=relay) when developing tests before the binary builds. Behaves like a mapping
gateway: logs `msg="gateway ready"` once listening, propagates half-close, and on SIGTERM/SIGINT
closes its listeners, lets open connections finish (up to --drain-timeout) and exits 0.

Faults: --corrupt-at N flips the byte at offset N of every client->server stream;
--no-half-close closes both directions on the first EOF (as a naive relay would).
"""

import argparse
import selectors
import signal
import socket
import sys
import threading
import time


def log(msg):
    print(f"level=info {msg}", file=sys.stderr, flush=True)


class Relay:
    def __init__(self, args):
        self.args = args
        self.active = 0
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.listeners = []

    def pump(self, src, dst, corrupt_at, both_closed):
        offset = 0
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                if corrupt_at is not None and offset <= corrupt_at < offset + len(data):
                    data = bytearray(data)
                    data[corrupt_at - offset] ^= 0xFF
                offset += len(data)
                dst.sendall(data)
            if self.args.no_half_close:
                both_closed()
            else:
                dst.shutdown(socket.SHUT_WR)
        except OSError:
            both_closed()

    def connection(self, client, dst):
        try:
            server = socket.create_connection(dst, timeout=10)
            server.settimeout(None)
        except OSError as e:
            log(f'msg="dial failed" dst={dst[0]}:{dst[1]} error="{e}"')
            client.close()
            self.done()
            return

        def both_closed():
            for s in (client, server):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        up = threading.Thread(target=self.pump, args=(client, server, self.args.corrupt_at,
                                                       both_closed), daemon=True)
        up.start()
        self.pump(server, client, None, both_closed)
        up.join()
        client.close()
        server.close()
        self.done()

    def done(self):
        with self.cond:
            self.active -= 1
            self.cond.notify_all()

    def serve(self):
        sel = selectors.DefaultSelector()
        for spec in self.args.map:
            src, dst = spec.split("=")
            lh, lp = src.rsplit(":", 1)
            dh, dp = dst.rsplit(":", 1)
            ls = socket.create_server((lh, int(lp)), backlog=4096)
            ls.setblocking(False)
            sel.register(ls, selectors.EVENT_READ, (dh, int(dp)))
            self.listeners.append(ls)
        log('msg="gateway ready"')
        while not self.stopping.is_set():
            for key, _ in sel.select(timeout=0.1):
                try:
                    client, _ = key.fileobj.accept()
                except BlockingIOError:
                    continue
                client.setblocking(True)
                with self.cond:
                    self.active += 1
                threading.Thread(target=self.connection, args=(client, key.data),
                                 daemon=True).start()
        for ls in self.listeners:
            sel.unregister(ls)
            ls.close()
        log(f'msg="draining" connections={self.active}')
        deadline = time.monotonic() + self.args.drain_timeout
        with self.cond:
            while self.active and time.monotonic() < deadline:
                self.cond.wait(deadline - time.monotonic())
        log(f'msg="stopped" abandoned={self.active}')
        return 0


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--map", action="append", required=True, help="lhost:lport=dhost:dport")
    p.add_argument("--drain-timeout", type=float, default=30)
    p.add_argument("--corrupt-at", type=int)
    p.add_argument("--no-half-close", action="store_true")
    args = p.parse_args()
    relay = Relay(args)
    signal.signal(signal.SIGTERM, lambda *_: relay.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: relay.stopping.set())
    return relay.serve()


if __name__ == "__main__":
    sys.exit(main())
