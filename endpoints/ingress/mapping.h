// Mapping ingress: a local port whose every connection is tunnelled, attested, to a fixed
// destination (the egress). One instance per listening port per reactor.
#pragma once

#include <string>

#include "core/fd.h"
#include "core/reactor.h"
#include "endpoints/endpoint_stats.h"
#include "endpoints/tunnel/ra_tls.h"

namespace tng::ingress {

struct MappingTarget {
  std::string id;        // endpoint id, for logs
  std::string listen;    // "host:port", for logs
  std::string out_host;  // the egress
  uint16_t out_port = 0;
};

class MappingIngress {
 public:
  MappingIngress(Reactor& reactor, MappingTarget target, tunnel::RaTls& ra_tls,
                 tunnel::TunnelTimeouts timeouts)
      : reactor_(reactor), target_(std::move(target)), ra_tls_(ra_tls), timeouts_(timeouts) {}

  // Serves one accepted application connection to its end.
  Task<void> Serve(UniqueFd client_fd);
  const EndpointStats& stats() const { return stats_; }

 private:
  Reactor& reactor_;
  MappingTarget target_;
  tunnel::RaTls& ra_tls_;
  tunnel::TunnelTimeouts timeouts_;
  EndpointStats stats_;
};

}  // namespace tng::ingress
