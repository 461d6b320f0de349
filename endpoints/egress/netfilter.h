// Netfilter egress: attested tunnels arriving for a local service's port, redirected by nat
// REDIRECT to our listener; their plaintext goes to the original destination (SO_ORIGINAL_DST)
// from a marked socket the rules let pass. One instance per endpoint per reactor.
#pragma once

#include <cstdint>
#include <string>

#include "core/fd.h"
#include "core/reactor.h"
#include "endpoints/endpoint_stats.h"
#include "endpoints/tunnel/ra_tls.h"

namespace tng::egress {

struct NetfilterTarget {
  std::string id;
  uint16_t listen_port = 0;  // the REDIRECT listener's port (loop check)
  uint32_t so_mark = 565;    // on the plaintext socket, so it is not captured again
};

class NetfilterEgress {
 public:
  NetfilterEgress(Reactor& reactor, NetfilterTarget target, tunnel::RaTls& ra_tls,
                  tunnel::TunnelTimeouts timeouts)
      : reactor_(reactor), target_(std::move(target)), ra_tls_(ra_tls), timeouts_(timeouts) {}

  Task<void> Serve(UniqueFd tunnel_fd);
  const EndpointStats& stats() const { return stats_; }

 private:
  Reactor& reactor_;
  NetfilterTarget target_;
  tunnel::RaTls& ra_tls_;
  tunnel::TunnelTimeouts timeouts_;
  EndpointStats stats_;
};

}  // namespace tng::egress
