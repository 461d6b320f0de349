#!/usr/bin/env python3
"""Traffic endpoints for the integration tests: a checksumming TCP server and its clients.

A client opens a connection, sends one JSON header line, then both ends move random bytes in
random-sized writes according to the header's mode, hashing everything they send and receive.
The server appends one JSON line per connection to its report file; the client prints one JSON
result line on stdout; the test compares the two. Modes:

  duplex        both ends send at once, each shuts down its write side when done
  reply_after_eof  the client sends and half-closes; the server replies only after that EOF
  close_first   the server sends and half-closes at once; the client sends only after that EOF
  paused        like duplex, but the client stops halfway until told `go` on stdin and the
                server sends its second half only after the client's EOF (drain tests)
  echo_barrier  (the `many` client) a length-prefixed request; the server holds every reply until
                `count` connections of the group have arrived, then answers digest + echo
"""

import argparse
import hashlib
import json
import os
import random
import resource
import selectors
import socket
import sys
import threading
import time

POOL = 16 << 20  # random bytes per sender; writes are random windows into it
RECV = 1 << 20


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Sender:
    """Sends a reproducible random stream of `total` bytes in random-sized writes."""

    def __init__(self, sock, seed, total, max_write=1 << 20):
        self.sock = sock
        self.rng = random.Random(seed)
        self.total = total
        self.max_write = max_write
        self.pool = memoryview(self.rng.randbytes(max(1, min(POOL, total))))
        self.sha = hashlib.sha256()
        self.sent = 0

    def _size(self):
        r = self.rng.random()
        if r < 0.15:
            n = self.rng.randint(1, 64)
        elif r < 0.5:
            n = self.rng.randint(65, 16384)
        else:
            n = self.rng.randint(16385, self.max_write)
        return min(n, self.total - self.sent, len(self.pool))

    def send_until(self, limit):
        """Sends until `limit` bytes in total have been sent."""
        limit = min(limit, self.total)
        while self.sent < limit:
            n = min(self._size(), limit - self.sent)
            if self.total <= len(self.pool):
                piece = self.pool[self.sent:self.sent + n]
            else:
                off = self.rng.randrange(0, len(self.pool) - n + 1)
                piece = self.pool[off:off + n]
            self.sock.sendall(piece)
            self.sha.update(piece)
            self.sent += n

    def finish(self):
        self.send_until(self.total)


class Receiver:
    """Receives and hashes until EOF (or a byte limit)."""

    def __init__(self, sock, initial=b""):
        self.sock = sock
        self.sha = hashlib.sha256(initial)
        self.received = len(initial)
        self.buf = bytearray(RECV)
        self.eof = False

    def until_eof(self, limit=None, progress=None):
        view = memoryview(self.buf)
        while limit is None or self.received < limit:
            n = self.sock.recv_into(view)
            if n == 0:
                self.eof = True
                return
            self.sha.update(view[:n])
            self.received += n
            if progress:
                progress(self.received)


def _background(fn):
    """Runs fn in a thread; join() re-raises its exception."""
    box = {}

    def body():
        try:
            fn()
        except BaseException as e:  # reported by join
            box["error"] = e
    t = threading.Thread(target=body, daemon=True)
    t.start()

    def join(timeout=None):
        t.join(timeout)
        if t.is_alive():
            raise TimeoutError("background sender did not finish")
        if "error" in box:
            raise box["error"]
    return join


# ------------------------------------------------------------------------------------------------
# server


class Server:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.report = open(args.report, "a", buffering=1)
        self.barriers = {}

    def write_report(self, rec):
        with self.lock:
            self.report.write(json.dumps(rec) + "\n")
            self.report.flush()

    def run(self):
        raise_nofile()
        threading.stack_size(512 << 10)
        lsock = socket.create_server((self.args.host, self.args.port), backlog=4096)
        print(f"peer server listening on {self.args.host}:{self.args.port}", file=sys.stderr,
              flush=True)
        while True:
            conn, _ = lsock.accept()
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    @staticmethod
    def read_header(conn):
        data = b""
        while b"\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                raise ConnectionError(f"EOF inside the header after {len(data)} bytes")
            data += chunk
            if len(data) > 65536:
                raise ValueError("header line longer than 64 KiB")
        line, rest = data.split(b"\n", 1)
        return json.loads(line), rest

    def handle(self, conn):
        rec = {"id": None}
        try:
            conn.settimeout(self.args.idle_timeout)
            hdr, rest = self.read_header(conn)
            rec["id"] = hdr.get("id")
            rec["mode"] = hdr["mode"]
            getattr(self, "mode_" + hdr["mode"])(conn, hdr, rest, rec)
        except Exception as e:
            rec["error"] = f"{type(e).__name__}: {e}"
        finally:
            conn.close()
            self.write_report(rec)

    @staticmethod
    def _fill(rec, sender, receiver):
        rec.update(tx_bytes=sender.sent, tx_sha256=sender.sha.hexdigest(),
                   rx_bytes=receiver.received, rx_sha256=receiver.sha.hexdigest())

    def mode_duplex(self, conn, hdr, rest, rec):
        sender = Sender(conn, hdr["seed"], hdr["send"])
        rx = Receiver(conn, rest)

        def send():
            sender.finish()
            conn.shutdown(socket.SHUT_WR)
        join = _background(send)
        rx.until_eof()
        join(self.args.idle_timeout)
        self._fill(rec, sender, rx)

    def mode_reply_after_eof(self, conn, hdr, rest, rec):
        rx = Receiver(conn, rest)
        rx.until_eof()
        sender = Sender(conn, hdr["seed"], hdr["send"])
        sender.finish()
        conn.shutdown(socket.SHUT_WR)
        self._fill(rec, sender, rx)

    def mode_close_first(self, conn, hdr, rest, rec):
        sender = Sender(conn, hdr["seed"], hdr["send"])
        sender.finish()
        conn.shutdown(socket.SHUT_WR)
        rx = Receiver(conn, rest)
        rx.until_eof()
        self._fill(rec, sender, rx)

    def mode_paused(self, conn, hdr, rest, rec):
        sender = Sender(conn, hdr["seed"], hdr["send"])
        rx = Receiver(conn, rest)
        join = _background(lambda: sender.send_until(hdr["send"] // 2))
        rx.until_eof()
        join(self.args.idle_timeout)
        sender.finish()
        conn.shutdown(socket.SHUT_WR)
        self._fill(rec, sender, rx)

    def mode_echo_barrier(self, conn, hdr, rest, rec):
        need = hdr["len"]
        data = bytearray(rest)
        while len(data) < need:
            chunk = conn.recv(need - len(data))
            if not chunk:
                raise ConnectionError(f"EOF after {len(data)} of {need} request bytes")
            data += chunk
        with self.lock:
            barrier, arrived = self.barriers.get(hdr["group"]) or (threading.Barrier(hdr["count"]), 0)
            self.barriers[hdr["group"]] = (barrier, arrived + 1)
        try:
            barrier.wait(hdr.get("barrier_timeout", 60))
        except threading.BrokenBarrierError:
            with self.lock:
                arrived = self.barriers[hdr["group"]][1]
            rec["error"] = (f"barrier broken: only {arrived} of {hdr['count']} connections "
                            f"reached the backend within the barrier timeout")
            conn.sendall(b"BARRIER-BROKEN")
            return
        conn.sendall(hashlib.sha256(data).digest() + bytes(data))
        rec.update(rx_bytes=len(data), rx_sha256=hashlib.sha256(data).hexdigest())


# ------------------------------------------------------------------------------------------------
# clients


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def client(args):
    res = {"id": args.id, "mode": args.mode}
    sender = rx = None
    try:
        sock = socket.create_connection((args.host, args.port), timeout=args.connect_timeout)
        sock.settimeout(args.idle_timeout)
        hdr = {"id": args.id, "mode": args.mode, "send": args.recv, "seed": args.seed + 1}
        sock.sendall(json.dumps(hdr).encode() + b"\n")
        sender = Sender(sock, args.seed, args.send)
        rx = Receiver(sock)
        if args.mode == "duplex":
            def send():
                sender.finish()
                sock.shutdown(socket.SHUT_WR)
            join = _background(send)
            rx.until_eof()
            join(args.idle_timeout)
        elif args.mode == "reply_after_eof":
            sender.finish()
            sock.shutdown(socket.SHUT_WR)
            rx.until_eof()
        elif args.mode == "close_first":
            rx.until_eof()
            sender.finish()
            sock.shutdown(socket.SHUT_WR)
        elif args.mode == "paused":
            half_in = threading.Event()
            rx_done = threading.Event()
            rx_error = []

            def receive():
                try:
                    rx.until_eof(progress=lambda n: n >= args.recv // 2 and half_in.set())
                except BaseException as e:
                    rx_error.append(e)
                finally:
                    half_in.set()
                    rx_done.set()
            if args.recv // 2 == 0:
                half_in.set()
            threading.Thread(target=receive, daemon=True).start()
            sender.send_until(args.send // 2)
            if not half_in.wait(args.idle_timeout):
                raise TimeoutError("the backend's first half did not arrive")
            if rx_error:
                raise rx_error[0]
            emit({"event": "paused", "tx_bytes": sender.sent, "rx_bytes": rx.received})
            go = sys.stdin.readline().strip()
            if go != "go":
                raise RuntimeError(f"expected `go` on stdin, got {go!r}")
            sender.finish()
            sock.shutdown(socket.SHUT_WR)
            if not rx_done.wait(args.idle_timeout):
                raise TimeoutError("no EOF from the backend after the client's EOF")
            if rx_error:
                raise rx_error[0]
        else:
            raise ValueError(f"unknown mode {args.mode}")
        res.update(tx_bytes=sender.sent, tx_sha256=sender.sha.hexdigest(),
                   rx_bytes=rx.received, rx_sha256=rx.sha.hexdigest())
        sock.close()
        if rx.received != args.recv:
            raise ConnectionError(f"received {rx.received} of the {args.recv} bytes the "
                                  f"backend was asked to send before EOF")
    except Exception as e:
        where = ""
        if sender is not None and rx is not None:
            where = (f" (had sent {sender.sent} of {args.send} bytes and received {rx.received} "
                     f"of {args.recv}; idle timeout {args.idle_timeout:g}s)")
        res["error"] = f"{type(e).__name__}: {e}{where}"
    emit(res)
    return 1 if "error" in res else 0


def many(args):
    """`count` concurrent echo_barrier connections over one selector; prints a summary."""
    raise_nofile()
    rng = random.Random(args.seed)
    sel = selectors.DefaultSelector()
    conns = {}
    failures = []
    done = 0
    for i in range(args.count):
        size = rng.randint(1, args.max_size)
        payload = rng.randbytes(size)
        hdr = {"id": f"{args.group}-{i}", "mode": "echo_barrier", "group": args.group,
               "count": args.count, "len": size, "barrier_timeout": args.barrier_timeout}
        s = socket.socket()
        s.setblocking(False)
        err = s.connect_ex((args.host, args.port))
        if err not in (0, 115):  # EINPROGRESS
            failures.append(f"conn {i}: connect: {os.strerror(err)}")
            s.close()
            continue
        c = {"i": i, "sock": s, "out": memoryview(json.dumps(hdr).encode() + b"\n" + payload),
             "want": hashlib.sha256(payload).digest() + payload, "got": bytearray()}
        conns[s] = c
        sel.register(s, selectors.EVENT_WRITE, c)
    print(f"many: {len(conns)} connections started", file=sys.stderr, flush=True)
    deadline = time.monotonic() + args.deadline
    while conns and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=0.5):
            c = key.data
            s = c["sock"]
            try:
                if ev & selectors.EVENT_WRITE:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, f"connect: {os.strerror(err)}")
                    n = s.send(c["out"])
                    c["out"] = c["out"][n:]
                    if not c["out"]:
                        sel.modify(s, selectors.EVENT_READ, c)
                    continue
                chunk = s.recv(65536)
                if chunk:
                    c["got"] += chunk
                    if len(c["got"]) > len(c["want"]):
                        raise ValueError(f"reply longer than {len(c['want'])} bytes")
                    continue
                if bytes(c["got"]) != c["want"]:
                    got = bytes(c["got"])
                    raise ValueError(f"reply of {len(got)} bytes does not match the expected "
                                     f"{len(c['want'])} (starts {got[:20]!r})")
                done += 1
            except (OSError, ValueError) as e:
                failures.append(f"conn {c['i']}: {e}")
            sel.unregister(s)
            s.close()
            del conns[s]
    for c in conns.values():
        failures.append(f"conn {c['i']}: no complete reply within {args.deadline}s "
                        f"({len(c['got'])} bytes received, {len(c['out'])} bytes unsent)")
        c["sock"].close()
    emit({"ok": done, "failed": len(failures), "errors": failures[:20]})
    return 0 if not failures else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--report", required=True)
    s.add_argument("--idle-timeout", type=float, default=120)
    c = sub.add_parser("client")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--mode", required=True)
    c.add_argument("--id", required=True)
    c.add_argument("--send", type=int, default=0, help="bytes the client sends")
    c.add_argument("--recv", type=int, default=0, help="bytes the server sends")
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--connect-timeout", type=float, default=10)
    c.add_argument("--idle-timeout", type=float, default=120)
    m = sub.add_parser("many")
    m.add_argument("--host", default="127.0.0.1")
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--count", type=int, required=True)
    m.add_argument("--group", required=True)
    m.add_argument("--max-size", type=int, default=8192)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--barrier-timeout", type=float, default=90)
    m.add_argument("--deadline", type=float, default=150)
    args = p.parse_args()
    if args.cmd == "server":
        Server(args).run()
        return 0
    return client(args) if args.cmd == "client" else many(args)


if __name__ == "__main__":
    sys.exit(main())
