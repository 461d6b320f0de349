// An evidence source of an attesting endpoint: the AA over ttrpc, configfs-tsm, the CoCo ASR REST
// API. The RA-TLS issuer asks it for evidence binding the hash of a fresh key's claims.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/task.h"

namespace tng::attestation {

struct AttesterEvidence {
  std::string tee_type;  // "sample", "tdx", "snp", ... (the kbs-types name the AS expects)
  std::vector<uint8_t> evidence;
  std::optional<std::vector<uint8_t>> additional_evidence;  // a JSON object {tee: evidence}
};

class Attester {  // an evidence source: AA over ttrpc, configfs-tsm, CoCo ASR REST
 public:
  virtual ~Attester() = default;
  // Evidence binding `runtime_data` (the SHA-384 of the claims JSON), awaited on the
  // calling coroutine's reactor.
  virtual Task<absl::StatusOr<AttesterEvidence>> GetEvidence(
      std::span<const uint8_t> runtime_data) = 0;
  virtual std::string Describe() const = 0;  // for logs, e.g. "AA unix:///run/aa.sock"
};

}  // namespace tng::attestation
