#include "endpoints/ingress/mapping.h"

#include <chrono>
#include <optional>

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

  // With encap_in_http the application's first request names the outer request's Host and path.
  std::optional<tunnel::InnerRequest> inner;
  if (ra_tls_.encap() && !ra_tls_.bench_plaintext()) {
    int answer = 0;
    auto read = co_await tunnel::ReadInnerRequest(client, {}, timeouts_.handshake, &answer);
    if (!read.ok()) {
      log.Fail("request", read.status());
      if (answer != 0) co_await tunnel::AnswerAndClose(client, answer, read.status().message());
      co_return;
    }
    inner = std::move(*read);
  }

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
  auto tunnel = co_await ra_tls_.ConnectFlow(std::move(*upstream), inner ? &*inner : nullptr,
                                             timeouts_.handshake, &scope);
  if (!tunnel.ok()) {
    log.Fail(tunnel::FailureStage(tunnel.status()), tunnel.status());
    // A camouflaged flow carries HTTP: its client gets an HTTP answer saying why.
    if (inner) co_await tunnel::AnswerAndClose(client, 502, tunnel.status().message());
    co_return;
  }
  // Relay: application bytes in, tunnel bytes out.
  log.SetAttestation((*tunnel)->attestation());
  RelayStats relay = co_await Relay(client, **tunnel);
  log.Done(relay.a_to_b, relay.b_to_a, relay.a_error, relay.b_error);
}

}  // namespace tng::ingress
