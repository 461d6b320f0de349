// Mapping egress: a port that terminates attested tunnels and relays their plaintext to a fixed
// application address. One instance per listening port per reactor.
#pragma once

#include <string>

#include "core/fd.h"
#include "core/reactor.h"
#include "endpoints/endpoint_stats.h"
#include "endpoints/tunnel/ra_tls.h"

namespace tng::egress {

struct MappingTarget {
  std::string id;
  std::string listen;
  std::string out_host;  // the application server
  uint16_t out_port = 0;
};

class MappingEgress {
 public:
  MappingEgress(Reactor& reactor, MappingTarget target, tunnel::RaTls& ra_tls,
                tunnel::TunnelTimeouts timeouts)
      : reactor_(reactor), target_(std::move(target)), ra_tls_(ra_tls), timeouts_(timeouts) {}

  Task<void> Serve(UniqueFd tunnel_fd);
  const EndpointStats& stats() const { return stats_; }

 private:
  Reactor& reactor_;
  MappingTarget target_;
  tunnel::RaTls& ra_tls_;
  tunnel::TunnelTimeouts timeouts_;
  EndpointStats stats_;
};

}  // namespace tng::egress
