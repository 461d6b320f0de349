// Socket options of the capture data path: SO_MARK on the gateway's own outbound connections so
// that the capture rules let them pass (the so_mark RETURN rule), IP_TRANSPARENT on the TPROXY
// listener, and picking a free listener port when none is configured.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tng::netfilter {

// setsockopt(SO_MARK); PermissionDenied naming CAP_NET_ADMIN / CAP_NET_RAW when not permitted.
absl::Status SetSoMark(int fd, uint32_t mark);

// setsockopt(IP_TRANSPARENT) on an IPv4 listener, before or after listen(); TPROXY only hands
// connections to transparent listeners. Needs CAP_NET_ADMIN (or CAP_NET_RAW).
absl::Status SetIpTransparent(int fd);

// The first TCP port from `first` upward that `host` (an IPv4 literal) can bind right now (TNG
// starts egress listeners from 40000). ResourceExhausted when none up to 65535 is free.
absl::StatusOr<uint16_t> PickFreePort(std::string_view host, uint16_t first = 40000);

}  // namespace tng::netfilter
