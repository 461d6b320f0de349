// One access-log line per connection (result, bytes each way, duration) and the endpoint's
// counters kept in step with it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "endpoints/endpoint_stats.h"
#include "endpoints/tunnel/tunnel_attestation.h"

namespace tng {

class AccessLog {
 public:
  AccessLog(std::string_view endpoint_id, std::string_view side, EndpointStats& stats);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void SetPeer(int fd);  // records the remote address of `fd`
  // What the RA-TLS handshake established: local_tee, peer_tee and peer_policy_ids on the
  // "connection closed" line.
  void SetAttestation(const tunnel::TunnelAttestation& attestation) { attestation_ = attestation; }
  void Fail(std::string_view stage, const absl::Status& status);
  void Done(uint64_t app_to_tunnel, uint64_t tunnel_to_app, int app_error, int tunnel_error);

 private:
  std::string_view endpoint_id_;
  std::string_view side_;
  EndpointStats& stats_;
  std::string peer_;
  tunnel::TunnelAttestation attestation_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace tng
