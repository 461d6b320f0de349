"""Development aids: stand-ins for tng while the binary is not built (TNG_IT_STANDIN=...).

`relay` runs relay.py, a plain TCP reference relay with drain and half-close; `stunnel` runs a
stunnel pair with a self-signed P-256 certificate. They let the tests themselves be exercised;
meson never uses them. stunnel loses data at half-close and does not drain: expect failures.
"""

import json
import sys

import harness


def mappings(config):
    """(kind, (in_host, in_port), (out_host, out_port)) of every mapping in a TNG config."""
    cfg = json.loads(config) if isinstance(config, str) else config
    for kind in ("add_ingress", "add_egress"):
        for ep in cfg.get(kind, []):
            m = ep["mapping"]
            yield kind, (m["in"].get("host", "0.0.0.0"), m["in"]["port"]), \
                (m["out"]["host"], m["out"]["port"])


def relay(ctx, ns, config, name, args):
    """relay.py relaying every mapping as plain TCP; honours --drain-timeout."""
    argv = [sys.executable, harness.HERE / "relay.py"]
    for _, (ih, ip), (oh, op) in mappings(config):
        argv += ["--map", f"{ih}:{ip}={oh}:{op}"]
    args = [str(a) for a in args]
    if "--drain-timeout" in args:
        argv += ["--drain-timeout", args[args.index("--drain-timeout") + 1]]
    proc = ctx.spawn(name, argv, ns=ns)
    proc.wait_log(r'msg="gateway ready"', 15)
    harness.log(f"{name} (relay.py stand-in) is ready")
    return proc


def stunnel(ctx, ns, config, name, _args):
    """A stunnel pair: ingress mappings as TLS clients, egress mappings as TLS 1.3 servers."""
    cert = ctx.workdir / "standin.pem"
    if not cert.exists():
        harness.run_checked(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                             "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=TNG", "-days",
                             "1", "-keyout", cert, "-out", cert], "stand-in certificate")
    lines = ["foreground = yes", f"pid = {ctx.workdir / name}.pid", "debug = 3", "syslog = no",
             "sslVersion = TLSv1.3"]
    ports = []
    for i, (kind, (ih, ip), (oh, op)) in enumerate(mappings(config)):
        client = "yes" if kind == "add_ingress" else "no"
        lines += [f"[{kind}{i}]", f"client = {client}", f"accept = {ih}:{ip}",
                  f"connect = {oh}:{op}"]
        if client == "no":
            lines.append(f"cert = {cert}")
        ports.append(("127.0.0.1" if ih == "0.0.0.0" else ih, ip))
    conf = ctx.workdir / f"{name}.stunnel.conf"
    conf.write_text("\n".join(lines) + "\n")
    proc = ctx.spawn(name, ["stunnel4", conf], ns=ns)
    for host, port in ports:
        ns.wait_tcp(host, port, 15, proc)
    harness.log(f"{name} (stunnel stand-in) is ready")
    return proc
