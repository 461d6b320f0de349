"""Egress capture with nat REDIRECT, end to end in two namespaces joined by veth: a remote client
of a service port is captured by the probe, which learns the original destination from
SO_ORIGINAL_DST and relays to the service from an SO_MARKed socket (not captured again); other
ports and local clients are left alone; rules of a SIGKILLed probe stay, block a plain restart,
and are removed by a restart with RemoveStale, leaving exactly one set; SIGTERM removes them all.
"""

import sys

from capture_common import (Failure, exchange, harness, spawn_probe, start_echo, start_probe,
                            tng_lines)
from harness import check

CONFIG = {"add_egress": [{"netfilter": {"capture_dst": {"port": 30001}, "listen_port": 40000},
                          "no_ra": True}]}

EXPECTED = [
    ":TNG_EGRESS_0 - [0:0]",
    "-A PREROUTING -p tcp -j TNG_EGRESS_0",
    "-A OUTPUT -p tcp -j TNG_EGRESS_0",
    "-A TNG_EGRESS_0 -p tcp -m mark --mark 0x235 -j RETURN",
    "-A TNG_EGRESS_0 -p tcp -m addrtype ! --src-type LOCAL -m tcp --dport 30001 -j REDIRECT "
    "--to-ports 40000",
]


def body(ctx):
    client = ctx.netns("c")
    server = ctx.netns("s")
    c_ip, s_ip = ctx.link(client, server, 211)
    start_echo(ctx, server, [30001, 30002])
    check(tng_lines(server) == [], "no capture rules before the probe starts")

    probe = start_probe(ctx, server, CONFIG, "probe")
    lines = tng_lines(server)
    check(lines == EXPECTED, "iptables-legacy-save shows exactly the egress chain and its jumps",
          f"got {lines}")

    orig, peer, echo = exchange(client, s_ip, 30001)
    check(orig == f"{s_ip}:30001", "a remote client of port 30001 is captured; SO_ORIGINAL_DST "
          "gives the original destination", f"probe said {orig!r}")
    check(peer == s_ip and echo == b"capture me\n",
          "the probe's SO_MARKed connection reaches the service instead of being captured again",
          f"server saw {peer!r}, echo {echo!r}")
    orig, peer, _ = exchange(client, s_ip, 30002)
    check(orig is None and peer == c_ip, "port 30002 (not in capture_dst) is not captured",
          f"orig {orig!r}, server saw {peer!r}")
    orig, peer, _ = exchange(server, s_ip, 30001)
    check(orig is None and peer == s_ip,
          "a local client is not captured (capture_local_traffic is false)", f"orig {orig!r}")

    other = spawn_probe(ctx, server, {"add_egress": [
        {"netfilter": {"capture_dst": {"port": 30002}, "listen_port": 40005}, "no_ra": True},
    ]}, "second-probe")
    check(other.wait(15) == 1 and "@tng" in other.stderr_text(),
          "a second owner in the same namespace is refused, naming the claim socket",
          other.tail())

    # A crash leaves the rules behind, and they keep capturing into a closed port.
    probe.kill()
    check(tng_lines(server) == EXPECTED, "the rules of the SIGKILLed probe remain")
    try:
        exchange(client, s_ip, 30001)
        raise Failure("a connection succeeded although the capture listener is gone")
    except ConnectionRefusedError:
        check(True, "stale rules redirect clients into the closed listener port (refused)")

    plain = spawn_probe(ctx, server, CONFIG, "probe-plain-restart")
    rc = plain.wait(15)
    err = plain.stderr_text()
    check(rc == 1 and "exists already" in err and "RemoveStale" in err,
          "a restart without stale cleanup fails, naming the leftover chain and the way out",
          plain.tail())

    probe = start_probe(ctx, server, CONFIG, "probe-restarted", remove_stale=True)
    check("removing stale capture chains" in probe.stderr_text(),
          "the restart with RemoveStale reports what it removed", probe.tail())
    lines = tng_lines(server)
    check(lines == EXPECTED, "exactly one set of rules after the restart", f"got {lines}")
    orig, peer, echo = exchange(client, s_ip, 30001)
    check(orig == f"{s_ip}:30001" and peer == s_ip and echo == b"capture me\n",
          "capture works again after the restart")

    check(probe.stop(15) == 0 and "rules removed" in probe.stderr_text(),
          "SIGTERM removes the rules and exits 0", probe.tail())
    check(tng_lines(server) == [], "no capture rules left after SIGTERM")
    orig, peer, _ = exchange(client, s_ip, 30001)
    check(orig is None and peer == c_ip, "clients reach the service directly again")


if __name__ == "__main__":
    sys.exit(harness.run("netfilter_egress_redirect", body))
