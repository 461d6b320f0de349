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
#include "endpoints/netfilter/netfilter_rules.h"
#include "endpoints/netfilter/rule_spec.h"
#include "endpoints/tunnel/ktls.h"
#include "endpoints/tunnel/ra_tls.h"

namespace tng {

struct GatewayRunOptions {
  int threads = 0;  // 0: one per online CPU
  bool pin_threads = false;
  // Benchmarks only: tunnels carry plaintext (see `tng --help`).
  bool bench_plain_tunnel = false;
  // kTLS where the kernel offers it (auto), or never (off).
  tunnel::KtlsMode ktls = tunnel::KtlsMode::kAuto;
};

class Gateway {
 public:
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(const config::GatewayOptions& config,
                                                         const GatewayRunOptions& run);
  ~Gateway();

  // Installs the capture rules of the netfilter endpoints (after removing any a killed process
  // left), drops the capabilities they no longer need, then starts the reactor threads. The
  // rules are removed when the gateway is destroyed, also after a failed start.
  absl::Status Start();
  // Stop accepting; open connections go on.
  void BeginDrain();
  // True once every reactor has no connection left (or the deadline passed: false).
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);
  // Shut down every remaining connection.
  void ForceCloseAll();
  void Join();
  // Removes the capture rules (after Join; the destructor does it too). Logs the outcome.
  void RemoveCaptureRules();

  size_t listener_count() const;
  // What the gateway still lacks (attestation material) before /readyz answers "ok".
  Readiness& readiness() { return readiness_; }

 private:
  struct PerReactor;
  Gateway() = default;
  absl::Status BuildReactor(PerReactor& pr, int index);
  absl::Status ResolveCapturePorts();
  absl::Status InstallCaptureRules();

  config::GatewayOptions config_;
  GatewayRunOptions run_;
  Readiness readiness_;
  // Per configured endpoint (same index as config_.ingress / config_.egress): its RA-TLS issuer
  // and verifier, shared by every reactor.
  std::vector<tunnel::RaShared> ingress_ra_;
  std::vector<tunnel::RaShared> egress_ra_;
  std::vector<std::unique_ptr<PerReactor>> reactors_;
  // One rule set per netfilter endpoint, listen ports resolved; the rules are shared by all
  // reactors and installed once.
  std::vector<netfilter::RuleSpec> capture_specs_;
  std::unique_ptr<netfilter::NetfilterRules> capture_rules_;
  std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
};

}  // namespace tng
