// http_proxy ingress: a local HTTP proxy port for http_proxy / https_proxy / all_proxy clients.
// CONNECT opens a byte tunnel to host:port; other requests (absolute-URI, or origin-form with a
// Host) are forwarded in origin-form over a connection to their authority. Destinations that
// match dst_filters go through the attested tunnel (the egress sits at the destination and
// captures the port), the rest go direct. One instance per endpoint per reactor.
#pragma once

#include <chrono>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "core/fd.h"
#include "core/http/parser.h"
#include "core/reactor.h"
#include "endpoints/config/options.h"
#include "endpoints/endpoint_stats.h"
#include "endpoints/ingress/dst_filter.h"
#include "endpoints/tunnel/ra_tls.h"

namespace tng::ingress {

struct HttpProxyTarget {
  std::string id;        // endpoint id, for logs
  std::string listen;    // "host:port", for logs
  DstFilter dst_filter;  // matching destinations enter the tunnel; no filters: all of them do
  // Bounds every read from the client while a request head or body is expected.
  Duration client_timeout = std::chrono::seconds(10);
  // How long a kept-alive client connection may stay idle between requests.
  Duration keep_alive_idle = std::chrono::seconds(60);
  // Request heads beyond these get 414 / 431 (the core/http parser's defaults).
  http::ParserLimits limits;
};

// The target of one `http_proxy` ingress entry: compiles its dst_filters. Errors name the field,
// relative to the entry's "http_proxy" object.
absl::StatusOr<HttpProxyTarget> MakeHttpProxyTarget(std::string id,
                                                    const config::HttpProxyOptions& http_proxy);

class HttpProxyIngress {
 public:
  HttpProxyIngress(Reactor& reactor, HttpProxyTarget target, tunnel::RaTls& ra_tls,
                   tunnel::TunnelTimeouts timeouts)
      : reactor_(reactor), target_(std::move(target)), ra_tls_(ra_tls), timeouts_(timeouts) {}

  // Serves one accepted client connection to its end: request by request (keep-alive), or one
  // CONNECT and then the relay.
  Task<void> Serve(UniqueFd client_fd);
  const EndpointStats& stats() const { return stats_; }

 private:
  Reactor& reactor_;
  HttpProxyTarget target_;
  tunnel::RaTls& ra_tls_;
  tunnel::TunnelTimeouts timeouts_;
  EndpointStats stats_;
};

}  // namespace tng::ingress
