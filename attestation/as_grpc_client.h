// The trustee Attestation Service gRPC API as TNG's verifier speaks it (as_type "grpc"):
// attestation.AttestationService/AttestationEvaluate with the 1.6 message, falling back to the
// flat message of trustee <= 1.5.2 as TNG does. The gRPC AS has no challenge or certificate
// RPC: TNG uses kAsDummyChallengeToken and token trust anchors come from trusted_certs_paths.
//
// Messages (github.com/confidential-containers/trustee protos/attestation.proto, package
// attestation; 1.5.2: TNG rats-cert/src/tee/coco/protos/attestation-service/v1_5_2.proto):
//   AttestationRequest { repeated IndividualAttestationRequest verification_requests = 1;
//                        repeated string policy_ids = 2; }
//   IndividualAttestationRequest { string tee = 1; string evidence = 3 (base64url, no pad);
//     oneof runtime_data { string raw_runtime_data = 4; string structured_runtime_data = 5; }
//     oneof init_data { string init_data_digest = 6; string init_data_toml = 7; }
//     string runtime_data_hash_algorithm = 8; }
//   1.5.2 AttestationRequest { string tee = 1; string evidence = 2; oneof runtime_data
//     { raw_runtime_data = 3; structured_runtime_data = 4; } oneof init_data { raw_init_data = 5;
//     structured_init_data = 6; } string runtime_data_hash_algorithm = 7;
//     string init_data_hash_algorithm = 8; repeated string policy_ids = 9; }
//   AttestationResponse { string attestation_token = 1; }
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "attestation/as_protocol.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng::attestation {

inline constexpr std::string_view kAsGrpcEvaluateMethod =
    "/attestation.AttestationService/AttestationEvaluate";

// The 1.6 AttestationRequest: the main evidence with its structured runtime data (RFC 8785 form)
// and hash algorithm, then one request per additional evidence member without runtime data.
absl::StatusOr<std::vector<uint8_t>> BuildGrpcAttestationRequest(const AsAttestationInput& input);
// The 1.5.2 AttestationRequest (no additional evidence).
absl::StatusOr<std::vector<uint8_t>> BuildLegacyGrpcAttestationRequest(
    const AsAttestationInput& input);
// The token of an AttestationResponse, checked to be a JWT.
absl::StatusOr<std::string> ParseGrpcAttestationResponse(std::span<const uint8_t> message);

struct AsGrpcClientOptions {
  std::string as_addr;                                       // "http://host:port"
  std::vector<std::pair<std::string, std::string>> headers;  // sent as gRPC metadata
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
};

// One per reactor (or per attempt); tasks hold a reference: it must outlive them.
class AsGrpcClient {
 public:
  AsGrpcClient(Reactor& reactor, AsGrpcClientOptions options);

  // AttestationEvaluate with the 1.6 message; when the AS refuses it for any reason but
  // transport, once more with the 1.5.2 message (later calls start with the one that worked).
  // AS refusals come back as kPermissionDenied, transport failures as kUnavailable or
  // kDeadlineExceeded. Returns the token text (not yet verified).
  Task<absl::StatusOr<std::string>> Attest(AsAttestationInput input);

  bool uses_legacy_api() const { return legacy_; }

 private:
  Task<absl::StatusOr<std::string>> Evaluate(std::vector<uint8_t> request);

  Reactor& reactor_;
  AsGrpcClientOptions options_;
  bool legacy_ = false;
};

}  // namespace tng::attestation
