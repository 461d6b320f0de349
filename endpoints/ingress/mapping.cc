#include "endpoints/ingress/mapping.h"

#include <chrono>

#include "core/connection_scope.h"
#include "core/log.h"
#include "core/relay.h"
#include "core/tcp_stream.h"
#include "endpoints/access_log.h"

namespace tng::ingress {

Task<void> MappingIngress::Serve(UniqueFd client_fd) {
  ConnectionScope scope(reactor_);
  AccessLog log(target_.id, "ingress", stats_);
  TcpStream client(reactor_, std::move(client_fd), &scope);
  log.SetPeer(client.fd());

  // Dial the egress.
  auto upstream =
      co_await DialTcp(reactor_, target_.out_host, target_.out_port, timeouts_.connect, &scope);
  if (!upstream.ok()) {
    log.Fail("dial", upstream.status());
    co_return;
  }
  if (ra_tls_.bench_plaintext()) {
    RelayStats relay = co_await Relay(client, *upstream);
    log.Done(relay.a_to_b, relay.b_to_a, relay.a_error, relay.b_error);
    co_return;
  }
  // Handshake and check the peer before any application byte leaves.
  auto tunnel = co_await ra_tls_.Connect(std::move(*upstream), timeouts_.handshake);
  if (!tunnel.ok()) {
    log.Fail(tunnel::FailureStage(tunnel.status()), tunnel.status());
    co_return;
  }
  // Relay: application bytes in, tunnel bytes out.
  log.SetAttestation((*tunnel)->attestation());
  RelayStats relay = co_await Relay(client, **tunnel);
  log.Done(relay.a_to_b, relay.b_to_a, relay.a_error, relay.b_error);
}

}  // namespace tng::ingress
