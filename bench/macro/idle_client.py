"""Opens N idle TCP connections to HOST:PORT in batches and holds them until stdin closes.

Used by the macro benchmark to measure memory per idle tunneled connection. After each batch it
prints `opened K` (K = total so far) and waits for a line on stdin before the next batch, so the
harness can let the pair finish those tunnels first: thousands of TLS handshakes queued at once
would hit the proxies' handshake timeouts on a small machine, which is not what is measured.
After the last batch it prints `ready N`, then holds everything until stdin reaches EOF.
Usage: idle_client.py HOST PORT N [BATCH]
"""

import resource
import socket
import sys


def main():
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else count
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if count + 16 > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))
    socks = []
    while len(socks) < count:
        for _ in range(min(batch, count - len(socks))):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(30)
            try:
                s.connect((host, port))
            except OSError as e:
                print(f"error: connection {len(socks) + 1} of {count} to {host}:{port}: {e}",
                      flush=True)
                return 1
            socks.append(s)
        if len(socks) < count:
            print(f"opened {len(socks)}", flush=True)
            if not sys.stdin.buffer.readline():
                return 0
    print(f"ready {count}", flush=True)
    sys.stdin.buffer.read()
    for s in socks:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
