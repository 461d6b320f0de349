// SOCKS5 ingress: a local proxy port (RFC 1928 CONNECT, optional RFC 1929 password) whose
// connections go through the attested tunnel when their destination matches dst_filters, and
// straight to the destination otherwise. One instance per endpoint per reactor.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "core/fd.h"
#include "core/reactor.h"
#include "endpoints/config/options.h"
#include "endpoints/endpoint_stats.h"
#include "endpoints/ingress/dst_filter.h"
#include "endpoints/tunnel/ra_tls.h"

namespace tng::ingress {

struct Socks5Target {
  std::string id;                                           // endpoint id, for logs
  std::string listen;                                       // "host:port", for logs
  std::optional<std::pair<std::string, std::string>> auth;  // username, password; none: no auth
  DstFilter dst_filter;  // matching destinations enter the tunnel; no filters: all of them do
  // Bounds every read from the client (and every reply to it) before the relay starts.
  Duration client_timeout = std::chrono::seconds(10);
};

// The target of one `socks5` ingress entry: compiles its dst_filters and checks its credentials.
// Errors name the field, relative to the entry's "socks5" object.
absl::StatusOr<Socks5Target> MakeSocks5Target(std::string id, const config::Socks5Options& socks5);

class Socks5Ingress {
 public:
  Socks5Ingress(Reactor& reactor, Socks5Target target, tunnel::RaTls& ra_tls,
                tunnel::TunnelTimeouts timeouts)
      : reactor_(reactor), target_(std::move(target)), ra_tls_(ra_tls), timeouts_(timeouts) {}

  // Serves one accepted client connection to its end: negotiation, request, dial, relay.
  Task<void> Serve(UniqueFd client_fd);
  const EndpointStats& stats() const { return stats_; }

 private:
  Reactor& reactor_;
  Socks5Target target_;
  tunnel::RaTls& ra_tls_;
  tunnel::TunnelTimeouts timeouts_;
  EndpointStats stats_;
};

}  // namespace tng::ingress
