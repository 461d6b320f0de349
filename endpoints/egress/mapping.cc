#include "endpoints/egress/mapping.h"

#include <string_view>

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
  // Terminate the attested TLS (behind the HTTP camouflage with decap_from_http) and check the
  // client before touching the application.
  auto flow =
      co_await ra_tls_.AcceptFlow(reactor_, std::move(tunnel_fd), timeouts_.handshake, &scope);
  if (flow.plain) {
    // Not camouflaged, and allowed through as it is (allow_non_tng_traffic_regexes).
    auto app =
        co_await DialTcp(reactor_, target_.out_host, target_.out_port, timeouts_.connect, &scope);
    if (!app.ok()) {
      log.Fail("dial", app.status());
      co_return;
    }
    const auto* early = reinterpret_cast<const uint8_t*>(flow.early.data());
    if (int rc = co_await app->Write(std::span(early, flow.early.size())); rc < 0) {
      log.Fail("relay", absl::UnavailableError("the application closed before the request"));
      co_return;
    }
    RelayStats relay = co_await Relay(*flow.plain, *app);
    log.Done(relay.a_to_b + flow.early.size(), relay.b_to_a, relay.a_error, relay.b_error);
    co_return;
  }
  if (!flow.tls.ok()) {
    log.Fail(flow.stage == std::string_view("handshake") ? tunnel::FailureStage(flow.tls.status())
                                                         : flow.stage,
             flow.tls.status());
    co_return;
  }
  auto& tunnel = flow.tls;
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
