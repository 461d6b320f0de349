#!/usr/bin/env python3
"""Capture rules over the gateway's life, in one namespace per side: the seed's mesh node config
(a netfilter ingress with its TPROXY policy route and a netfilter egress) plus an egress whose
capture_dst lists several entries (host/CIDR + port, port range, ipset).

Checks: SIGKILL leaves the chains and the policy route behind; the next start removes them and
installs exactly one set; a final SIGTERM leaves iptables-legacy-save, `ip rule` and `ip route
show table all` as they were before the first start; without CAP_NET_ADMIN tng exits 1 with an
error naming CAP_NET_ADMIN and leaves nothing behind; two gateways in one namespace: the second
is refused naming the @tng claim; the first keeps its rules.
"""

import signal
import sys

from netfilter_peers import fetch, http_server, make_site, request_peers, two_hosts
import harness
from harness import check

CONFIG = {
    "add_ingress": [{"netfilter": {"capture_dst": {"port": 9001}}, "no_ra": True}],
    "add_egress": [
        {"netfilter": {"capture_dst": {"port": 9001}}, "no_ra": True},
        {"netfilter": {"capture_dst": [{"host": "10.0.0.0/8", "port": 9100, "port_end": 9102},
                                       {"host": "10.9.9.9", "port": 9200},
                                       {"ipset": "tng_it_set", "port": 9300}],
                       "listen_port": 41000, "so_mark": 1234}, "no_ra": True},
    ],
}


def counts(ns):
    lines = ns.tng_rule_lines()
    chains = sorted(l for l in lines if l.startswith(":"))
    return lines, chains, ns.tagged_policy()


def body(ctx):
    client, server, c_ip, s_ip = two_hosts(ctx, 223)
    site, big_sha = make_site(ctx, 1 << 20)
    client.run(["ipset", "create", "tng_it_set", "hash:ip"], check_rc=True)
    before = client.iptables_save(), client.routing_state()

    # Without CAP_NET_ADMIN: a clear error, nothing installed.
    argv = ["setpriv", "--inh-caps=-all", "--bounding-set=-net_admin", harness.tng_bin(),
            "launch", "--config-content", __import__("json").dumps(CONFIG)]
    nocap = ctx.spawn("tng-nocap", argv, ns=client)
    rc = nocap.wait(20)
    err = nocap.stderr_text()
    check(rc == 1 and "CAP_NET_ADMIN" in err, "without CAP_NET_ADMIN tng exits 1 naming it",
          f"exit {rc}: {err.strip()}")
    check((client.iptables_save(), client.routing_state()) == before,
          "and leaves no rules or routes behind")

    tng = ctx.tng(client, CONFIG, "tng-1")
    lines, chains, policy = counts(client)
    check(chains == [":TNG_EGRESS_0 - [0:0]", ":TNG_EGRESS_1 - [0:0]",
                     ":TNG_INGRESS_0_OUTPUT_STAGE_1 - [0:0]",
                     ":TNG_INGRESS_0_OUTPUT_STAGE_2 - [0:0]",
                     ":TNG_INGRESS_0_PREROUTING - [0:0]"], "one set of chains", f"got {chains}")
    check("-A TNG_EGRESS_1 -p tcp -m mark --mark 0x4d2 -j RETURN" in lines and
          "-A TNG_EGRESS_1 -d 10.0.0.0/8 -p tcp -m addrtype ! --src-type LOCAL -m tcp "
          "--dport 9100:9102 -j REDIRECT "
          "--to-ports 41000" in lines and
          "-A TNG_EGRESS_1 -d 10.9.9.9/32 -p tcp -m addrtype ! --src-type LOCAL -m tcp "
          "--dport 9200 -j REDIRECT "
          "--to-ports 41000" in lines and
          any("--match-set tng_it_set dst" in l and "--dport 9300" in l for l in lines),
          "several capture_dst entries (CIDR, port range, host, ipset), so_mark and listen_port",
          "\n".join(lines))

    second = ctx.spawn("tng-second", [harness.tng_bin(), "launch", "--config-content",
                                      __import__("json").dumps(CONFIG)], ns=client)
    check(second.wait(20) == 1 and "@tng" in second.stderr_text(),
          "a second gateway in the namespace is refused, naming the @tng claim", second.tail())
    check(counts(client) == (lines, chains, policy), "the first gateway's rules are untouched")

    # SIGKILL: the rules stay; the next start replaces them with exactly one set.
    tng.kill()
    check(counts(client) == (lines, chains, policy),
          "the SIGKILLed gateway's chains and policy route remain")
    tng = ctx.tng(client, CONFIG, "tng-2")
    check(counts(client) == (lines, chains, policy),
          "after the restart there is exactly one set of chains, rules and routes")

    # And it captures: curl to the server's port 9001 goes through the tunnel.
    web = http_server(ctx, server, 9001, site, "web")
    srv = ctx.tng(server, {"add_egress": CONFIG["add_egress"][:1]}, "tng-server")
    fetch(ctx, client, f"http://{s_ip}:9001/big.bin", big_sha, "capture after the restart")
    check(request_peers(web, "/big.bin") == [s_ip], "the request went through the server's egress")

    for t in (tng, srv):
        t.signal(signal.SIGTERM)
        check(t.wait(30) == 0, f"{t.name} exits 0 after SIGTERM", t.tail())
    after = client.iptables_save(), client.routing_state()
    check(after == before, "after the final SIGTERM no TNG chain, rule or route is left",
          f"before {before}, after {after}")
    check(server.tng_rule_lines() == [] and server.tagged_policy() == ([], []),
          "the server namespace is clean too")


if __name__ == "__main__":
    sys.exit(harness.run("netfilter_lifecycle", body))
