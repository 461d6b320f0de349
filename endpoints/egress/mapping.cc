#include "endpoints/egress/mapping.h"

#include "core/connection_scope.h"
#include "core/log.h"
#include "core/relay.h"
#include "core/tcp_stream.h"
#include "endpoints/access_log.h"

namespace tng::egress {

Task<void> MappingEgress::Serve(UniqueFd tunnel_fd) {
  ConnectionScope scope(reactor_);
  AccessLog log(target_.id, "egress", stats_);
  log.SetPeer(tunnel_fd.get());

  if (ra_tls_.bench_plaintext()) {
    TcpStream plain(reactor_, std::move(tunnel_fd), &scope);
    auto app =
        co_await DialTcp(reactor_, target_.out_host, target_.out_port, timeouts_.connect, &scope);
    if (!app.ok()) {
      log.Fail("dial", app.status());
      co_return;
    }
    RelayStats relay = co_await Relay(plain, *app);
    log.Done(relay.a_to_b, relay.b_to_a, relay.a_error, relay.b_error);
    co_return;
  }
  // Terminate the attested TLS and check the client before touching the application.
  auto tunnel = co_await ra_tls_.Accept(TcpStream(reactor_, std::move(tunnel_fd), &scope),
                                        timeouts_.handshake);
  if (!tunnel.ok()) {
    log.Fail(tunnel::FailureStage(tunnel.status()), tunnel.status());
    co_return;
  }
  // Dial the application server.
  auto app =
      co_await DialTcp(reactor_, target_.out_host, target_.out_port, timeouts_.connect, &scope);
  if (!app.ok()) {
    log.Fail("dial", app.status());
    (*tunnel)->Abort();
    co_return;
  }
  // Relay: tunnel bytes in, application bytes out.
  log.SetAttestation((*tunnel)->attestation());
  RelayStats relay = co_await Relay(**tunnel, *app);
  log.Done(relay.a_to_b, relay.b_to_a, relay.a_error, relay.b_error);
}

}  // namespace tng::egress
