// Where a captured connection was headed before netfilter diverted it to our listener: nat
// REDIRECT (egress) records it in conntrack, read with SO_ORIGINAL_DST; TPROXY (ingress) leaves
// it as the accepted socket's own local address.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/net.h"
#include "endpoints/netfilter/rule_spec.h"

namespace tng::netfilter {

enum class CaptureMethod { kRedirect, kTproxy };

inline CaptureMethod CaptureMethodOf(Direction d) {
  return d == Direction::kEgress ? CaptureMethod::kRedirect : CaptureMethod::kTproxy;
}

// The original IPv4 destination of accepted socket `fd`. NotFound when a REDIRECT listener's
// connection has no conntrack record (it was not redirected).
absl::StatusOr<SocketAddress> OriginalDestination(int fd, CaptureMethod method);

// Refuses connections that would loop (TNG's recursion check): the original destination is our
// own listener (`listen_port` on a loopback address), or, for REDIRECT, the connection was not
// redirected at all (the original destination is the socket's own local address).
absl::Status CheckNotLoop(int fd, CaptureMethod method, const SocketAddress& original,
                          uint16_t listen_port);

}  // namespace tng::netfilter
