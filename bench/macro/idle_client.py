"""Opens N idle TCP connections to 127.0.0.1:PORT, prints `ready N`, holds them until stdin closes.

Used by the macro benchmark to measure memory per idle tunneled connection. Connections are made
one at a time (blocking connect), so the proxy's accept queue never overflows.
Usage: idle_client.py PORT N
"""

import resource
import socket
import sys


def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if count + 16 > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))
    socks = []
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(30)
        try:
            s.connect(("127.0.0.1", port))
        except OSError as e:
            print(f"error: connection {i + 1} of {count} to 127.0.0.1:{port}: {e}", flush=True)
            return 1
        socks.append(s)
    print(f"ready {count}", flush=True)
    sys.stdin.buffer.read()
    for s in socks:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
