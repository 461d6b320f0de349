// A client of the CoCo Attestation Agent over ttrpc: evidence for given runtime data and the TEE
// type, with a per-attempt timeout and retries with exponential backoff.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "attestation/aa_protocol.h"
#include "attestation/ttrpc.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng::attestation {

struct AaClientOptions {
  // TNG's `aa_addr`: "unix:///path" or "unix://@abstract".
  std::string address = std::string(aa::kDefaultAddress);
  // Bounds each attempt (connect, request, response). TNG's own AA client waits 50 s.
  Duration timeout = std::chrono::seconds(50);
  int attempts = 3;  // at least 1
  // Wait before the second attempt; doubled for each further one, up to max_backoff.
  Duration initial_backoff = std::chrono::milliseconds(200);
  Duration max_backoff = std::chrono::seconds(5);
};

// Failures worth another attempt: the AA is not (yet) reachable, too slow, or reports a
// transient failure of its own (UNKNOWN, INTERNAL, UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED).
// Malformed answers, permission problems and unimplemented methods are final.
bool IsRetryableAaError(const absl::Status& status);

// Holds only configuration; each call runs on the calling coroutine's reactor
// (Reactor::Current()) and must be awaited there. Errors name the AA's address and the method.
class AaClient {
 public:
  static absl::StatusOr<AaClient> Create(AaClientOptions options);

  // The AA's evidence for `runtime_data` (which must stay valid until the call completes).
  Task<absl::StatusOr<std::vector<uint8_t>>> GetEvidence(
      std::span<const uint8_t> runtime_data) const;
  // Evidence from the AA's additional attesters (e.g. GPUs); nullopt when the AA has none or
  // does not implement the method (older AAs), as TNG treats it.
  Task<absl::StatusOr<std::optional<std::vector<uint8_t>>>> GetAdditionalEvidence(
      std::span<const uint8_t> runtime_data) const;
  // "sample", "tdx", "snp", ... as the AA names its primary TEE.
  Task<absl::StatusOr<std::string>> GetTeeType() const;

  const AaClientOptions& options() const { return options_; }

 private:
  AaClient(AaClientOptions options, ttrpc::Client client)
      : options_(std::move(options)), client_(std::move(client)) {}
  // One ttrpc method with retries; the response payload.
  Task<absl::StatusOr<std::vector<uint8_t>>> CallWithRetry(std::string_view method,
                                                           std::vector<uint8_t> payload) const;

  AaClientOptions options_;
  ttrpc::Client client_;
};

}  // namespace tng::attestation
