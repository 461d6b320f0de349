"""Ingress capture with mangle TPROXY and the fwmark policy route, end to end in two namespaces
joined by veth: an application's outgoing connection to a captured destination is handed to the
probe's transparent listener (the original destination is the accepted socket's local address),
and the probe's SO_MARKed connection goes out to the real server; other destinations go out
directly. The policy rule and route exist once while the rules are in, survive a SIGKILL, are
removed (with the chains) by a restart with RemoveStale, and are gone after SIGTERM.
"""

import sys

from capture_common import (exchange, harness, spawn_probe, start_echo, start_probe,
                            tagged_policy, tng_lines)
from harness import check


def expected(s_ip):
    pre = "TNG_INGRESS_0_PREROUTING"
    s1 = "TNG_INGRESS_0_OUTPUT_STAGE_1"
    s2 = "TNG_INGRESS_0_OUTPUT_STAGE_2"
    return [
        f":{s1} - [0:0]",
        f":{s2} - [0:0]",
        f":{pre} - [0:0]",
        f"-A PREROUTING -p tcp -j {pre}",
        f"-A OUTPUT -p tcp -j {s1}",
        f"-A {s1} -m addrtype --dst-type LOCAL -j RETURN",
        f"-A {s1} -m addrtype ! --dst-type UNICAST -j RETURN",
        f"-A {s1} -m addrtype ! --src-type LOCAL -j RETURN",
        f"-A {s1} -p tcp -m mark --mark 0x235 -j RETURN",
        f"-A {s1} -j {s2}",
        f"-A {s2} -d {s_ip}/32 -p tcp -m tcp --dport 30001 -j MARK --set-xmark 0x236/0xffffff",
        f"-A {pre} -m addrtype --dst-type LOCAL -j RETURN",
        f"-A {pre} -m addrtype ! --dst-type UNICAST -j RETURN",
        f"-A {pre} -m addrtype ! --src-type LOCAL -j RETURN",
        f"-A {pre} -p tcp -m mark --mark 0x236/0xffffff -j TPROXY --on-port 40001 --on-ip "
        f"127.0.0.1 --tproxy-mark 0x236/0xffffff",
    ]


POLICY = (["from all fwmark 0x236/0xffffff lookup 239 proto 116"],
          ["local default dev lo table 239 proto 116 scope host"])


def body(ctx):
    client = ctx.netns("c")
    server = ctx.netns("s")
    c_ip, s_ip = ctx.link(client, server, 212)
    start_echo(ctx, server, [30001, 30002])
    config = {"add_ingress": [{"netfilter": {"capture_dst": {"host": s_ip, "port": 30001},
                                             "listen_port": 40001}, "no_ra": True}]}

    probe = start_probe(ctx, client, config, "probe")
    lines = tng_lines(client)
    check(lines == expected(s_ip), "iptables-legacy-save shows exactly the ingress chains",
          f"got {lines}")
    policy = tagged_policy(client)
    check(policy == POLICY, "one fwmark policy rule and one local route in table 239",
          f"got {policy}")

    orig, peer, echo = exchange(client, s_ip, 30001)
    check(orig == f"{s_ip}:30001", "the outgoing connection is captured by TPROXY; the original "
          "destination is the accepted socket's local address", f"probe said {orig!r}")
    check(peer == c_ip and echo == b"capture me\n",
          "the probe's SO_MARKed connection goes out to the real server",
          f"server saw {peer!r}, echo {echo!r}")
    orig, peer, _ = exchange(client, s_ip, 30002)
    check(orig is None and peer == c_ip, "other destinations go out directly", f"orig {orig!r}")

    probe.kill()
    check(tng_lines(client) == expected(s_ip) and tagged_policy(client) == POLICY,
          "chains, policy rule and route of the SIGKILLed probe remain")
    plain = spawn_probe(ctx, client, config, "probe-plain-restart")
    check(plain.wait(15) == 1 and "RemoveStale" in plain.stderr_text(),
          "a restart without stale cleanup fails and says why", plain.tail())

    probe = start_probe(ctx, client, config, "probe-restarted", remove_stale=True)
    check(tng_lines(client) == expected(s_ip), "exactly one set of chains after the restart")
    check(tagged_policy(client) == POLICY, "exactly one policy rule and route after the restart",
          f"got {tagged_policy(client)}")
    orig, peer, echo = exchange(client, s_ip, 30001)
    check(orig == f"{s_ip}:30001" and peer == c_ip and echo == b"capture me\n",
          "capture works again after the restart")

    check(probe.stop(15) == 0, "SIGTERM removes the rules and exits 0", probe.tail())
    check(tng_lines(client) == [] and tagged_policy(client) == ([], []),
          "no chains, policy rules or routes left after SIGTERM")
    orig, peer, _ = exchange(client, s_ip, 30001)
    check(orig is None and peer == c_ip, "the application reaches the server directly again")


if __name__ == "__main__":
    sys.exit(harness.run("netfilter_ingress_tproxy", body))
