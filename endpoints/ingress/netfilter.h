// Netfilter ingress: outgoing application connections captured transparently (mangle TPROXY to
// a local IP_TRANSPARENT listener) and tunnelled, attested, to their original destination, where
// a netfilter egress captures the port. One instance per endpoint per reactor.
#pragma once

#include <cstdint>
#include <string>

#include "core/fd.h"
#include "core/reactor.h"
#include "endpoints/endpoint_stats.h"
#include "endpoints/tunnel/ra_tls.h"

namespace tng::ingress {

struct NetfilterTarget {
  std::string id;            // endpoint id, for logs
  uint16_t listen_port = 0;  // the TPROXY listener's port (loop check)
  uint32_t so_mark = 565;    // on the tunnel socket, which the capture rules let pass
};

class NetfilterIngress {
 public:
  NetfilterIngress(Reactor& reactor, NetfilterTarget target, tunnel::RaTls& ra_tls,
                   tunnel::TunnelTimeouts timeouts)
      : reactor_(reactor), target_(std::move(target)), ra_tls_(ra_tls), timeouts_(timeouts) {}

  // Serves one captured application connection to its end.
  Task<void> Serve(UniqueFd client_fd);
  const EndpointStats& stats() const { return stats_; }

 private:
  Reactor& reactor_;
  NetfilterTarget target_;
  tunnel::RaTls& ra_tls_;
  tunnel::TunnelTimeouts timeouts_;
  EndpointStats stats_;
};

}  // namespace tng::ingress
