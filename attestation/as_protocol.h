// The trustee Attestation Service REST API as TNG's verifier speaks it: the request bodies of
// POST /challenge and POST /attestation (the 1.6 form and the flat form of AS <= 1.5.2) and the
// reading of their responses and of GET /certificate. Pure functions; transport is the caller's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/digest.h"
#include "crypto/x509.h"

namespace tng::attestation {

inline constexpr std::string_view kAsChallengePath = "/challenge";
inline constexpr std::string_view kAsAttestationPath = "/attestation";
inline constexpr std::string_view kAsCertificatePath = "/certificate";

// TNG asks for a challenge with an empty object: the AS picks the TEE-independent JWT challenge.
inline constexpr std::string_view kAsChallengeRequestBody = "{}";
// What TNG uses as the challenge token when the AS is too old to issue one.
inline constexpr std::string_view kAsDummyChallengeToken = "dummy nonce";

struct AsAttestationInput {
  std::string tee;                // kbs-types name: "sample", "tdx", "snp", "az-tdx-vtpm", ...
  std::vector<uint8_t> evidence;  // as the AA returned it (JSON for every CoCo TEE)
  std::string runtime_data;       // JSON object: the claims whose hash the evidence carries
  crypto::HashAlgorithm runtime_data_hash = crypto::HashAlgorithm::kSha384;
  // The AA's additional evidence, a JSON object {tee: evidence, ...} (devices such as GPUs). Each
  // member becomes one more verification request without runtime data. Not sent to an old AS.
  std::optional<std::string> additional_evidence;
  std::vector<std::string> policy_ids;
};

// {"verification_requests":[{"tee","evidence"(base64url),"runtime_data":{"structured":{...}},
// "init_data":null,"runtime_data_hash_algorithm":"sha384"}, ...],"policy_ids":[...]}, with the
// runtime data in RFC 8785 form (what the AS hashes).
absl::StatusOr<std::string> BuildAttestationRequest(const AsAttestationInput& input);
// The flat body of trustee <= 1.5.2: {"tee","evidence","runtime_data","init_data",
// "runtime_data_hash_algorithm","init_data_hash_algorithm","policy_ids"}.
absl::StatusOr<std::string> BuildLegacyAttestationRequest(const AsAttestationInput& input);

// True when an AS rejected the 1.6 body as trustee <= 1.5.2 does (its JSON extractor reports
// "missing field `tee`"): the caller should retry with the legacy body.
bool IsLegacyAsRejection(int http_status, std::string_view body);

// The token of a 200 response (surrounding whitespace removed). Otherwise an error quoting the
// status and the start of the AS's message: kUnavailable for 502-504, kPermissionDenied for the
// rest (trustee answers 500 when it rejects evidence or does not know a policy).
absl::StatusOr<std::string> ParseAttestationResponse(int http_status, std::string_view body);

struct AsChallenge {
  std::string nonce;
  std::string token;  // the challenge JWT, which goes into the runtime data as "challenge_token"
};
// {"nonce": ..., "extra-params" | "extra_params": {"jwt": ...}}. nullopt when the AS is too old to
// issue challenges (it answers "Failed to get inner tee"); TNG then uses kAsDummyChallengeToken.
absl::StatusOr<std::optional<AsChallenge>> ParseChallengeResponse(int http_status,
                                                                  std::string_view body);

// The PEM certificate chain of GET /certificate, every certificate a trust anchor for tokens.
absl::StatusOr<std::vector<crypto::X509Certificate>> ParseCertificateResponse(
    int http_status, std::string_view body);

}  // namespace tng::attestation
