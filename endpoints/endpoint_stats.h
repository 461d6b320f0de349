// Per-endpoint, per-reactor counters. Owned by one reactor: plain integers, no atomics.
#pragma once

#include <cstdint>

namespace tng {

struct EndpointStats {
  uint64_t cx_total = 0;
  uint64_t cx_active = 0;
  uint64_t cx_failed = 0;
  uint64_t rx_bytes_total = 0;  // from the application side into the tunnel
  uint64_t tx_bytes_total = 0;  // from the tunnel to the application side
};

}  // namespace tng
