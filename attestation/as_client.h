// The trustee Attestation Service client of TNG's verifier and passport attester, on the reactor:
// evidence in, attestation token out (retrying with the flat body when the AS is older than 1.6),
// plus the challenge and the token-signing certificates. Speaks REST (attestation/as_protocol) or,
// for as_type "grpc", gRPC (attestation/as_grpc_client): the one place that choice is made.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "attestation/as_grpc_client.h"
#include "attestation/as_protocol.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng::attestation {

enum class AsTransport { kRest, kGrpc };

struct AsClientOptions {
  AsTransport transport = AsTransport::kRest;  // TNG's as_type "restful" | "grpc"
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
  // POST /challenge. nullopt when the AS is too old to issue challenges, and always over gRPC
  // (the gRPC AS has no challenge for TNG: it uses kAsDummyChallengeToken, as TNG does).
  Task<absl::StatusOr<std::optional<AsChallenge>>> GetChallenge();
  // GET /certificate: the PEM chain of the token signer, checked to hold certificates. The gRPC
  // AS has no such RPC: FailedPrecondition, asking for trusted_certs_paths.
  Task<absl::StatusOr<std::string>> GetCertificate();

  bool uses_legacy_api() const { return grpc_ ? grpc_->uses_legacy_api() : legacy_; }

 private:
  struct Reply {
    int status = 0;
    std::string body;
  };
  Task<absl::StatusOr<Reply>> Call(std::string method, std::string path, std::string body);

  Reactor& reactor_;
  AsClientOptions options_;
  bool legacy_ = false;
  std::optional<AsGrpcClient> grpc_;  // set for AsTransport::kGrpc
};

}  // namespace tng::attestation
