#!/usr/bin/env python3
"""Seed example "both tng client and tng server are in non-tee env", run unmodified.

tng gets the seed's JSON verbatim via --config-content; `python3 -m http.server 30001` is the
backend; curl fetches through the ingress on 127.0.0.1:10001 and the body must be the file served.
"""

import signal
import sys

import configs
import harness
from harness import check, log


def body(ctx):
    ns = ctx.netns("seed")
    config = configs.seed_no_ra_config()
    site = ctx.workdir / "site"
    site.mkdir()
    small_sha = harness.random_file(site / "small.bin", 4096)
    big_sha = harness.random_file(site / "big.bin", 24 << 20)
    (site / "index.html").write_text("<html><body>tng seed test</body></html>\n")

    backend = ctx.spawn("http.server", [sys.executable, "-m", "http.server", "30001", "--bind",
                                        "127.0.0.1"], ns=ns, cwd=site)
    ns.wait_tcp("127.0.0.1", 30001, 15, backend)
    tng = ctx.tng(ns, config, config_as="content")

    for name, want in (("small.bin", small_sha), ("big.bin", big_sha)):
        out = ctx.workdir / f"got-{name}"
        res = ns.run(["curl", "-sS", "--max-time", "60", "-o", out, "-w", "%{http_code}",
                      f"http://127.0.0.1:10001/{name}"], timeout=90)
        code = res.stdout.decode().strip()
        check(res.returncode == 0 and code == "200", f"curl GET /{name} via 10001 returns 200",
              f"curl exit {res.returncode}, http code {code!r}: {res.stderr.decode().strip()}")
        got = harness.sha256_file(out)
        check(got == want, f"/{name} body is the file served ({out.stat().st_size} bytes)",
              f"sha256 {got} != {want}")

    res = ns.run(["curl", "-sS", "--max-time", "30", "http://127.0.0.1:10001/index.html"],
                 timeout=60)
    check(b"tng seed test" in res.stdout, "GET /index.html returns the page",
          f"got {res.stdout[:200]!r} / {res.stderr.decode().strip()}")

    # The ingress in.host defaults to 0.0.0.0: reachable on another loopback address too.
    res = ns.run(["curl", "-sS", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_code}",
                  "http://127.0.0.2:10001/small.bin"], timeout=60)
    check(res.stdout.decode().strip() == "200",
          "ingress without in.host listens on 0.0.0.0 (reached via 127.0.0.2)",
          f"curl exit {res.returncode}: {res.stderr.decode().strip()}")

    tng.signal(signal.SIGTERM)
    rc = tng.wait(30, "tng to exit after SIGTERM")
    check(rc == 0, "tng exits 0 after SIGTERM", f"exit code {rc}")
    log("seed example served every request")


if __name__ == "__main__":
    sys.exit(harness.run("seed_no_ra", body))
