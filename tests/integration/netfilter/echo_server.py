"""Echo server for the capture tests: on each connection it first sends "SERVER <peer ip>\n" (so
the test sees who reached it, and from where), then echoes everything until EOF.

    python3 echo_server.py HOST PORT [PORT...]

Prints "echo server listening" to stderr once every port is bound.
"""

import socket
import sys
import threading


def serve(conn, peer):
    with conn:
        conn.sendall(f"SERVER {peer[0]}\n".encode())
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)


def accept_loop(listener):
    while True:
        conn, peer = listener.accept()
        threading.Thread(target=serve, args=(conn, peer), daemon=True).start()


def main():
    host, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
    for port in ports:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(64)
        threading.Thread(target=accept_loop, args=(s,), daemon=True).start()
    print("echo server listening", file=sys.stderr, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
