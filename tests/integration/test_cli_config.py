#!/usr/bin/env python3
"""The command line: `tng check` on good and bad configs, `launch` refusals, --version, --help.

  * check on the seed config: exit 0, stdout is the effective config as JSON with the defaulted
    ingress in.host "0.0.0.0"; same result from --config-file and --config-content;
  * bad configs exit nonzero and say where: a misspelt key gets a "did you mean" hint naming the
    right key, an out-of-range port names its JSON path, a syntax error names line and column;
  * launch with the same bad configs exits 1 without listening;
  * a feature not built yet (mapping_udp ingress): check lists "not supported yet: <path>" and
    exits 0, launch exits 1 with the same message.
Nothing here needs a network, but launch runs in a private namespace so it cannot bind anything
on the host.
"""

import json
import re
import sys

import configs
import harness
from harness import Failure, check, log

SEED_ING = "add_ingress"


def tng(ns, args, timeout=20):
    res = ns.run([harness.tng_bin(), *args], timeout=timeout)
    return res.returncode, res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")


def with_lines(text):
    return "\n".join(f"      | {l}" for l in text.strip().splitlines()[-12:])


def first_rule(mapping):
    """The in/out pair of a mapping, in TNG's single form or as the first of `rules`."""
    return mapping if "in" in mapping else mapping["rules"][0]


def path_rx(*parts):
    """Matches a JSON path in any common spelling: a[0].b.c, /a/0/b/c, $.a[0].b, a.0.b."""
    return re.compile(r"\W{0,3}".join(re.escape(p) for p in parts))


def body(ctx):
    ns = ctx.netns("cli")
    seed_text = configs.seed_no_ra_config()
    seed = json.loads(seed_text)

    # --version / --help
    rc, out, err = tng(ns, ["--version"])
    check(rc == 0 and re.search(r"\d+\.\d+", out + err), "tng --version exits 0 and prints a version",
          f"exit {rc}, output {(out + err)[:200]!r}")
    rc, out, err = tng(ns, ["--help"])
    check(rc == 0 and "launch" in out + err and "check" in out + err,
          "tng --help exits 0 and names the launch and check commands",
          f"exit {rc}, output {(out + err)[:300]!r}")

    # check on the seed config, both ways of passing it
    seed_file = ctx.workdir / "seed.json"
    seed_file.write_text(seed_text)
    outputs = []
    for how, args in (("--config-file", ["check", "--config-file", seed_file]),
                      ("--config-content", ["check", "--config-content", seed_text])):
        rc, out, err = tng(ns, args)
        check(rc == 0, f"tng check {how} <seed> exits 0", f"exit {rc}:\n{with_lines(err)}")
        try:
            eff = json.loads(out)
        except ValueError as e:
            raise Failure(f"tng check {how}: stdout is not JSON ({e}): {out[:300]!r}")
        log(f"ok: tng check {how}: stdout is JSON")
        try:
            ing = first_rule(eff["add_ingress"][0]["mapping"])["in"]
            eg = first_rule(eff["add_egress"][0]["mapping"])
        except (KeyError, IndexError, TypeError) as e:
            raise Failure(f"effective config lacks add_ingress[0].mapping(.rules[0]).in or "
                          f"add_egress[0].mapping ({e!r}): {out[:400]}")
        check(ing.get("host") == "0.0.0.0" and ing.get("port") == 10001,
              f"{how}: effective ingress in is 0.0.0.0:10001 (host defaulted)", f"got {ing}")
        check(eg.get("in", {}).get("port") == 20001 and eg.get("out", {}).get("port") == 30001,
              f"{how}: effective egress maps 20001 -> 30001", f"got {eg}")
        outputs.append(eff)
    check(outputs[0] == outputs[1], "--config-file and --config-content give the same config",
          f"{outputs[0]} != {outputs[1]}")
    rc, out, err = tng(ns, ["check", "--config-content", json.dumps(outputs[0])])
    check(rc == 0 and json.loads(out or "null") == outputs[0],
          "the effective config is itself a valid config with the same meaning (round trip)",
          f"exit {rc}; stderr:\n{with_lines(err)}")

    # Bad configs: (label, config text, what must appear in the error)
    typo = json.loads(seed_text)
    typo["add_ingress"][0]["no_rra"] = typo["add_ingress"][0].pop("no_ra")
    typo_top = dict(seed)
    typo_top["add_egres"] = typo_top.pop("add_egress")
    port = json.loads(seed_text)
    port["add_ingress"][0]["mapping"]["in"]["port"] = 70000
    port_str = json.loads(seed_text)
    port_str["add_egress"][0]["mapping"]["out"]["port"] = "30001x"
    syntax_lines = seed_text.strip("\n").splitlines()
    # Drop the comma after the first "in" object: the next key ("out") is the error, on its line.
    idx = next(i for i, l in enumerate(syntax_lines) if l.strip() == "},")
    syntax_lines[idx] = syntax_lines[idx].replace("},", "}")
    err_line = idx + 2  # 1-based line of the token after the missing comma
    err_col = syntax_lines[idx + 1].index('"') + 1  # 1-based column of that token
    syntax = "\n".join(syntax_lines)

    bad = [
        ("misspelt key no_rra", json.dumps(typo, indent=2),
         [(re.compile(r"did you mean", re.I), '"did you mean"'),
          (re.compile(r"\bno_ra\b"), "the right key no_ra"), (re.compile("no_rra"), "no_rra")]),
        ("misspelt top-level key add_egres", json.dumps(typo_top, indent=2),
         [(re.compile(r"did you mean", re.I), '"did you mean"'),
          (re.compile(r"\badd_egress\b"), "the right key add_egress")]),
        ("port 70000", json.dumps(port, indent=2),
         [(path_rx("add_ingress", "0", "mapping", "in", "port"), "path add_ingress[0].mapping.in.port")]),
        ("port as a string", json.dumps(port_str, indent=2),
         [(path_rx("add_egress", "0", "mapping", "out", "port"), "path add_egress[0].mapping.out.port")]),
        ("syntax error (missing comma)", syntax,
         [(re.compile(rf"(:{err_line}:{err_col}\b)|(line\D{{0,3}}{err_line}\D{{1,12}}"
                      rf"col(umn)?\D{{0,3}}{err_col}\b)", re.I),
           f"line {err_line} column {err_col} (as FILE:{err_line}:{err_col} or 'line L, column C')")]),
    ]
    for label, text, wants in bad:
        cfg = ctx.workdir / f"bad-{len(label)}-{abs(hash(label)) % 10**6}.json"
        cfg.write_text(text)
        for cmd in ("check", "launch"):
            rc, out, err = tng(ns, [cmd, "--config-file", cfg])
            check(rc == 1 if cmd == "launch" else rc != 0,
                  f"tng {cmd} with {label} exits {'1' if cmd == 'launch' else 'nonzero'}",
                  f"exit {rc}; stderr:\n{with_lines(err)}")
            for rx, what in wants:
                check(rx.search(err + out), f"tng {cmd} with {label}: error names {what}",
                      f"stderr:\n{with_lines(err)}")
        check(ns.probe("127.0.0.1", 10001) == "refused", f"launch with {label} bound nothing")

    rc, out, err = tng(ns, ["check", "--config-file", ctx.workdir / "does-not-exist.json"])
    check(rc != 0 and "does-not-exist.json" in err, "a missing config file is named in the error",
          f"exit {rc}; stderr:\n{with_lines(err)}")
    rc, out, err = tng(ns, ["launch"])
    check(rc != 0, "launch without a config exits nonzero", f"exit {rc}")

    # A feature that is not built yet.
    udp = {"add_ingress": [{"mapping_udp": {"in": {"host": "127.0.0.1", "port": 41000},
                                            "out": {"host": "127.0.0.1", "port": 30001}},
                            "no_ra": True}]}
    text = json.dumps(udp, indent=2)
    unsupported = re.compile(r"not supported yet:\s*\S*add_ingress\W{0,3}0\W{0,3}mapping_udp")
    rc, out, err = tng(ns, ["check", "--config-content", text])
    check(rc == 0, "tng check with a mapping_udp ingress exits 0 (it is valid TNG config)",
          f"exit {rc}; stderr:\n{with_lines(err)}")
    check(unsupported.search(err), "tng check lists not supported yet: add_ingress[0].mapping_udp",
          f"stderr:\n{with_lines(err)}")
    rc, out, err = tng(ns, ["launch", "--config-content", text])
    check(rc == 1, "tng launch with a mapping_udp ingress exits 1", f"exit {rc}")
    check(unsupported.search(err), "tng launch says not supported yet: add_ingress[0].mapping_udp",
          f"stderr:\n{with_lines(err)}")
    check(ns.probe("127.0.0.1", 41000) == "refused", "the refused launch bound nothing")


if __name__ == "__main__":
    sys.exit(harness.run("cli_config", body))
