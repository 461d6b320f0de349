"""The systems under test: how to start each one as a tunnel pair on loopback.

A pair is two processes, like TNG's own deployment: a client-side proxy (plain in on port IN,
connects to MID) and a server-side proxy (accepts on MID, connects to the backend on OUT). In TLS
mode the MID leg is TLS 1.3 with TLS_AES_128_GCM_SHA256 and the harness's P-256 certificate; in
plain mode the same two processes relay plain TCP. `direct` has no pair: the load goes straight to
the backend, the ceiling. Where the two processes run (one loopback, or a client and a server
namespace joined by veth) is ctx.topo (topology.py): server-side proxies run in topo.server_ns and
listen on topo.server_ip, client-side proxies run in topo.client_ns and dial topo.server_ip.
"""

import json

from procs import BenchError, wait_listening, wait_until, listening_count

CIPHERSUITE = "TLS_AES_128_GCM_SHA256"
NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


class Ctx:
    """Everything a pair needs: ports, certificate files, temp dir, binaries, fd budget."""

    def __init__(self, workdir, ports, cert, key, combined, openssl_conf, group, tng_bin,
                 nofile):
        self.workdir = workdir
        self.p_in, self.p_mid, self.p_out = ports
        self.cert, self.key, self.combined = cert, key, combined
        self.openssl_conf = openssl_conf
        self.group = group
        self.tng_bin = tng_bin
        self.nofile = nofile
        self.topo = None  # the topology of the run in progress (set by the harness)

    def peer_env(self):
        # The OpenSSL-based peers also read the TLS 1.3 policy from an OpenSSL config, which is
        # the only way to set TLS 1.3 ciphersuites and groups for socat 1.7 (no such options).
        return {"OPENSSL_CONF": str(self.openssl_conf)}


def _write(ctx, name, text):
    path = ctx.workdir / name
    path.write_text(text)
    return path


def _wait_pair(ctx, server, client, what, server_listeners=1, client_listeners=1):
    wait_listening(ctx.p_mid, 15, f"{what} server side", (server,), server_listeners,
                   ctx.topo.server_net)
    wait_listening(ctx.p_in, 15, f"{what} client side", (server, client), client_listeners,
                   ctx.topo.client_net)
    return [server, client]


def start_server(sv, ctx, name, argv, cpus, env=None):
    """The server-side process of a pair, in the server host's namespace."""
    return sv.start(name, argv, cpus, env, ns=ctx.topo.server_ns)


def start_client(sv, ctx, name, argv, cpus, env=None):
    """The client-side process of a pair, in the client host's namespace."""
    return sv.start(name, argv, cpus, env, ns=ctx.topo.client_ns)


class System:
    name = ""
    tls = False      # can run a TLS 1.3 pair
    plain = False    # can run a plain TCP pair
    plain_note = ""  # why not, when plain is False
    direct = False   # no pair: load goes straight to the backend

    def start(self, sv, ctx, tls, workers, cpus):
        """Starts the pair; returns [server_proc, client_proc], both listening."""
        raise NotImplementedError

    def load_target(self, ctx):
        """(host, port) the load generator dials from the client host."""
        if self.direct:
            return ctx.topo.server_ip, ctx.p_out
        return "127.0.0.1", ctx.p_in

    def wire_port(self, ctx):
        """The server port of the tunnel leg on the wire (what tcpdump watches)."""
        return ctx.p_mid

    def tools(self):
        """Executables this system needs."""
        return []


class Tng(System):
    """On loopback a mapping pair; on veth TNG's benchmark topology, a netfilter ingress and a
    netfilter egress capturing the client's connections to the server's own port OUT. Plain
    mode is `--bench-plain-tunnel`: the same endpoints with the TLS layer left out."""

    name = "tng"
    tls = True
    plain = True

    def load_target(self, ctx):
        if ctx.topo.veth:  # the client dials the server itself and is captured on the way
            return ctx.topo.server_ip, ctx.p_out
        return "127.0.0.1", ctx.p_in

    def wire_port(self, ctx):
        # Captured connections keep their original destination across the link.
        return ctx.p_out if ctx.topo.veth else ctx.p_mid

    def _configs(self, ctx):
        if ctx.topo.veth:
            client = {"add_ingress": [{
                "netfilter": {"capture_dst": {"host": ctx.topo.server_ip, "port": ctx.p_out},
                              "listen_port": ctx.p_in},
                "no_ra": True}]}
            server = {"add_egress": [{
                "netfilter": {"capture_dst": {"port": ctx.p_out}, "listen_port": ctx.p_mid},
                "no_ra": True}]}
            return client, server
        client = {"add_ingress": [{
            "mapping": {"in": {"host": "127.0.0.1", "port": ctx.p_in},
                        "out": {"host": "127.0.0.1", "port": ctx.p_mid}},
            "no_ra": True}]}
        server = {"add_egress": [{
            "mapping": {"in": {"host": "127.0.0.1", "port": ctx.p_mid},
                        "out": {"host": "127.0.0.1", "port": ctx.p_out}},
            "no_ra": True}]}
        return client, server

    def start(self, sv, ctx, tls, workers, cpus):
        if not ctx.tng_bin:
            raise BenchError("tng binary not found: set TNG_BIN or pass --tng-bin")
        client_cfg, server_cfg = self._configs(ctx)
        env = {"TNG_LOG": "warn"}

        def argv(cfg):
            # No --pin-threads: it pins reactor i to CPU i, which would undo the harness's pinning.
            return [ctx.tng_bin, "launch", "--config-content", json.dumps(cfg),
                    "--threads", str(workers), "--drain-timeout", "1"] + \
                ([] if tls else ["--bench-plain-tunnel"])

        server = start_server(sv, ctx, "tng-server", argv(server_cfg), cpus, env)
        client = start_client(sv, ctx, "tng-client", argv(client_cfg), cpus, env)
        pair = _wait_pair(ctx, server, client, "tng")
        # One SO_REUSEPORT listener per reactor: give the others a moment to appear too.
        try:
            wait_until(lambda: listening_count(ctx.p_in, ctx.topo.client_net) >= workers
                       and listening_count(ctx.p_mid, ctx.topo.server_net) >= workers, 2,
                       "all tng reactors")
        except BenchError:
            pass
        return pair


class Stunnel(System):
    name = "stunnel"
    tls = True
    plain_note = "stunnel only speaks TLS"

    def start(self, sv, ctx, tls, workers, cpus):
        common = (f"foreground = yes\npid =\ndebug = 3\n")
        policy = (f"sslVersionMin = TLSv1.3\nciphersuites = {CIPHERSUITE}\n"
                  f"curves = {ctx.group}\n")
        server_conf = _write(ctx, "stunnel-server.conf", common + (
            f"[server]\naccept = {ctx.topo.server_ip}:{ctx.p_mid}\n"
            f"connect = 127.0.0.1:{ctx.p_out}\n"
            f"cert = {ctx.cert}\nkey = {ctx.key}\n") + policy)
        client_conf = _write(ctx, "stunnel-client.conf", common + (
            f"[client]\nclient = yes\naccept = 127.0.0.1:{ctx.p_in}\n"
            f"connect = {ctx.topo.server_ip}:{ctx.p_mid}\nverifyChain = no\n") + policy)
        # stunnel runs a thread per connection; `workers` has no equivalent.
        server = start_server(sv, ctx, "stunnel-server", ["stunnel4", server_conf], cpus,
                              ctx.peer_env())
        client = start_client(sv, ctx, "stunnel-client", ["stunnel4", client_conf], cpus,
                              ctx.peer_env())
        return _wait_pair(ctx, server, client, "stunnel")

    def tools(self):
        return ["stunnel4"]


class Haproxy(System):
    name = "haproxy"
    tls = True
    plain = True

    def _conf(self, ctx, workers, listen, target, bind_ssl, server_ssl):
        """listen and target are host:port."""
        maxconn = max(1000, (ctx.nofile - 200) // 2)
        return (
            "global\n"
            f"  nbthread {workers}\n"
            f"  maxconn {maxconn}\n"
            f"  ssl-default-bind-ciphersuites {CIPHERSUITE}\n"
            f"  ssl-default-server-ciphersuites {CIPHERSUITE}\n"
            "  ssl-default-bind-options ssl-min-ver TLSv1.3\n"
            "  ssl-default-server-options ssl-min-ver TLSv1.3\n"
            "  ssl-server-verify none\n"
            "defaults\n"
            "  mode tcp\n"
            f"  maxconn {maxconn}\n"
            "  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n"
            "frontend fe\n"
            f"  bind {listen}{bind_ssl}\n"
            "  default_backend be\n"
            "backend be\n"
            f"  server s1 {target}{server_ssl}\n")

    def start(self, sv, ctx, tls, workers, cpus):
        bind_ssl = (f" ssl crt {ctx.combined} alpn rats-tls curves {ctx.group}" if tls else "")
        server_ssl = " ssl verify none alpn rats-tls" if tls else ""
        mid = f"{ctx.topo.server_ip}:{ctx.p_mid}"
        server_conf = _write(ctx, "haproxy-server.cfg", self._conf(
            ctx, workers, mid, f"127.0.0.1:{ctx.p_out}", bind_ssl, ""))
        client_conf = _write(ctx, "haproxy-client.cfg", self._conf(
            ctx, workers, f"127.0.0.1:{ctx.p_in}", mid, "", server_ssl))
        server = start_server(sv, ctx, "haproxy-server", ["haproxy", "-db", "-f", server_conf],
                              cpus, ctx.peer_env())
        client = start_client(sv, ctx, "haproxy-client", ["haproxy", "-db", "-f", client_conf],
                              cpus, ctx.peer_env())
        return _wait_pair(ctx, server, client, "haproxy")

    def tools(self):
        return ["haproxy"]


def nginx_main_conf(ctx, name, workers, body, stream):
    """An nginx.conf that touches nothing outside the harness's temp dir."""
    prefix = ctx.workdir / name
    prefix.mkdir(exist_ok=True)
    load = f"load_module {NGINX_STREAM_MODULE};\n" if stream else ""
    return prefix, (
        f"{load}"
        "daemon off;\nmaster_process on;\nuser root;\n"
        f"worker_processes {workers};\n"
        f"worker_rlimit_nofile {ctx.nofile};\n"
        f"pid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log warn;\n"
        f"events {{ worker_connections {ctx.nofile}; multi_accept on; }}\n"
        f"{body}")


def start_nginx(sv, ctx, name, conf_text, prefix, cpus, env=None, ns=None):
    conf = prefix / "nginx.conf"
    conf.write_text(conf_text)
    return sv.start(name, ["nginx", "-p", f"{prefix}/", "-e", f"{prefix}/error.log", "-c", conf],
                    cpus, env, ns=ns)


class Nginx(System):
    name = "nginx"
    tls = True
    plain = True

    def start(self, sv, ctx, tls, workers, cpus):
        if tls:
            server_extra = (f"    ssl_certificate {ctx.cert};\n"
                            f"    ssl_certificate_key {ctx.key};\n"
                            "    ssl_protocols TLSv1.3;\n"
                            f"    ssl_conf_command Ciphersuites {CIPHERSUITE};\n"
                            f"    ssl_ecdh_curve {ctx.group};\n")
            client_extra = ("    proxy_ssl on;\n"
                            "    proxy_ssl_protocols TLSv1.3;\n"
                            f"    proxy_ssl_conf_command Ciphersuites {CIPHERSUITE};\n"
                            f"    proxy_ssl_conf_command Groups {ctx.group};\n")
        else:
            server_extra = client_extra = ""
        ssl = " ssl" if tls else ""

        def stream(listen, target, extra):
            return ("stream {\n  server {\n"
                    f"    listen {listen}{ssl if listen.endswith(f':{ctx.p_mid}') else ''}"
                    " backlog=4096;\n"
                    f"    proxy_pass {target};\n"
                    "    proxy_timeout 1h;\n"
                    f"{extra}  }}\n}}\n")

        mid = f"{ctx.topo.server_ip}:{ctx.p_mid}"
        sp, server_text = nginx_main_conf(
            ctx, "nginx-server", workers,
            stream(mid, f"127.0.0.1:{ctx.p_out}", server_extra), True)
        cp, client_text = nginx_main_conf(
            ctx, "nginx-client", workers,
            stream(f"127.0.0.1:{ctx.p_in}", mid, client_extra), True)
        server = start_nginx(sv, ctx, "nginx-server", server_text, sp, cpus, ctx.peer_env(),
                             ns=ctx.topo.server_ns)
        client = start_nginx(sv, ctx, "nginx-client", client_text, cp, cpus, ctx.peer_env(),
                             ns=ctx.topo.client_ns)
        return _wait_pair(ctx, server, client, "nginx")

    def tools(self):
        return ["nginx"]


class Socat(System):
    name = "socat"
    tls = True
    plain = True

    def start(self, sv, ctx, tls, workers, cpus):
        # socat forks a process per connection; `workers` has no equivalent.
        listen = "reuseaddr,fork,backlog=4096,bind=127.0.0.1"
        mid_listen = f"reuseaddr,fork,backlog=4096,bind={ctx.topo.server_ip}"
        mid = f"{ctx.topo.server_ip}:{ctx.p_mid}"
        if tls:
            server_argv = ["socat", f"OPENSSL-LISTEN:{ctx.p_mid},{mid_listen},"
                           f"cert={ctx.combined},verify=0", f"TCP:127.0.0.1:{ctx.p_out}"]
            client_argv = ["socat", f"TCP-LISTEN:{ctx.p_in},{listen}",
                           f"OPENSSL:{mid},verify=0"]
        else:
            server_argv = ["socat", f"TCP-LISTEN:{ctx.p_mid},{mid_listen}",
                           f"TCP:127.0.0.1:{ctx.p_out}"]
            client_argv = ["socat", f"TCP-LISTEN:{ctx.p_in},{listen}", f"TCP:{mid}"]
        server = start_server(sv, ctx, "socat-server", server_argv, cpus, ctx.peer_env())
        client = start_client(sv, ctx, "socat-client", client_argv, cpus, ctx.peer_env())
        return _wait_pair(ctx, server, client, "socat")

    def tools(self):
        return ["socat"]


class Direct(System):
    name = "direct"
    direct = True


ALL = {s.name: s for s in (Tng(), Stunnel(), Haproxy(), Nginx(), Socat(), Direct())}
PEERS_TLS = ("stunnel", "haproxy", "nginx", "socat")
