// The trustee Attestation Service REST client of TNG's verifier, on the reactor: evidence in,
// attestation token out (retrying with the flat body when the AS is older than 1.6), plus the
// challenge and the token-signing certificates. Formats are attestation/as_protocol's.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "attestation/as_protocol.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng::attestation {

struct AsClientOptions {
  std::string as_addr;  // "http://host:port" with an optional path prefix; no trailing '/' needed
  std::vector<std::pair<std::string, std::string>> headers;      // TNG's `as_headers`
  std::chrono::milliseconds timeout = std::chrono::seconds(30);  // per request, connect included
};

// One per reactor. Tasks hold a reference to the client: it must outlive them.
class AsClient {
 public:
  AsClient(Reactor& reactor, AsClientOptions options);

  // POST /attestation with the 1.6 body; on "missing field `tee`" the same evidence goes again
  // in the flat body, and later calls start with it. Returns the token text (not yet verified).
  Task<absl::StatusOr<std::string>> Attest(AsAttestationInput input);
  // POST /challenge. nullopt when the AS is too old to issue challenges.
  Task<absl::StatusOr<std::optional<AsChallenge>>> GetChallenge();
  // GET /certificate: the PEM chain of the token signer, checked to hold certificates.
  Task<absl::StatusOr<std::string>> GetCertificate();

  bool uses_legacy_api() const { return legacy_; }

 private:
  struct Reply {
    int status = 0;
    std::string body;
  };
  Task<absl::StatusOr<Reply>> Call(std::string method, std::string path, std::string body);

  Reactor& reactor_;
  AsClientOptions options_;
  bool legacy_ = false;
};

}  // namespace tng::attestation
