// The assembled gateway: one reactor thread per core, each with its own listeners, endpoint
// instances and TLS contexts built from the same options; start, drain and stop.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "endpoints/config/options.h"
#include "endpoints/control/readiness.h"
#include "endpoints/tunnel/ra_tls.h"

namespace tng {

struct GatewayRunOptions {
  int threads = 0;  // 0: one per online CPU
  bool pin_threads = false;
};

class Gateway {
 public:
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(const config::GatewayOptions& config,
                                                         const GatewayRunOptions& run);
  ~Gateway();

  // Binds every listener, then starts the reactor threads.
  absl::Status Start();
  // Stop accepting; open connections go on.
  void BeginDrain();
  // True once every reactor has no connection left (or the deadline passed: false).
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);
  // Shut down every remaining connection.
  void ForceCloseAll();
  void Join();

  size_t listener_count() const;

  // What is not available yet (attestation material): read by /readyz.
  Readiness& readiness() { return readiness_; }

 private:
  struct PerReactor;
  Gateway() = default;
  absl::Status BuildReactor(PerReactor& pr, int index);

  config::GatewayOptions config_;
  GatewayRunOptions run_;
  Readiness readiness_;
  // Per configured endpoint (same index as config_.ingress / config_.egress): its RA-TLS issuer
  // and verifier, shared by every reactor.
  std::vector<tunnel::RaShared> ingress_ra_;
  std::vector<tunnel::RaShared> egress_ra_;
  std::vector<std::unique_ptr<PerReactor>> reactors_;
  std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
};

}  // namespace tng
