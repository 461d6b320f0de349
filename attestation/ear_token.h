// Verification of the attestation results tokens a CoCo Attestation Service (trustee) issues: EAR
// JWTs (draft-fv-rats-ear, trustee's profile) and trustee's older CoCo tokens, checked as TNG does.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/x509.h"

namespace tng::attestation {

inline constexpr std::string_view kTrusteeEarProfile =
    "tag:github.com,2024:confidential-containers/Trustee";

// Every certificate in `pem_or_der` (PEM text with one or more CERTIFICATE blocks, or one DER
// certificate), as read from a `trusted_certs_paths` file or an AS's `/certificate` response.
// `source` names the input in errors.
absl::StatusOr<std::vector<crypto::X509Certificate>> ParseCertificateList(
    std::span<const uint8_t> pem_or_der, std::string_view source);

struct EarTokenOptions {
  // Trust anchors for the token's signing key (the jwk's x5c chain must end at one of them).
  std::vector<crypto::X509Certificate> trusted_certs;
  // TNG's `skip_as_token_cert_verify`: the signature is still checked with the header's jwk, but
  // nothing ties that key to a trusted certificate.
  bool skip_cert_verify = false;
  // Each must be a policy the token says it was appraised against.
  std::vector<std::string> policy_ids;
  // A JSON object whose every member must appear, equal, in the token's runtime data (TNG passes
  // its {"pubkey-hash": ...} claims). Empty: the runtime data is not checked.
  std::string expected_runtime_data;
  int64_t now_unix = 0;
  // Tolerance for exp/nbf and certificate validity, as jsonwebtoken's default leeway.
  int64_t clock_skew_seconds = 60;
};

enum class TokenFormat {
  kEar,         // eat_profile + submods (current trustee)
  kCocoSimple,  // customized_claims + evaluation-reports (older trustee)
};

struct SubmodAppraisal {
  std::string name;    // "cpu0", "gpu0", ...
  std::string status;  // "affirming", "warning", "contraindicated", "none"
  std::string policy_id;
  std::string trustworthiness_vector;  // compact JSON
};

struct VerifiedToken {
  TokenFormat format = TokenFormat::kEar;
  std::string tee_type;  // from cpu0's annotated evidence ("sample", "tdx"); empty if not named
  std::vector<std::string> policy_ids;  // the policies the token says it was appraised against
  int64_t issued_at = 0;                // 0 when absent
  int64_t expires_at = 0;
  std::optional<int64_t> not_before;
  std::vector<SubmodAppraisal> submods;  // EAR only
  std::string runtime_data;              // compact JSON; empty when the token carries none
};

// Verifies `token` and returns what it says. Checks, in this order: the header jwk's x5c chain
// (leaf key == jwk, each certificate signed by the next, ending at a trusted certificate, all
// within validity); the JWS signature with the jwk; exp and nbf; the EAR profile; every submod's
// ear.status == "affirming"; one appraisal policy naming every configured policy id; and
// expected runtime data ⊆ token runtime data. Errors start with "AS token" and name the check:
// kUnauthenticated for signature, chain and time, kPermissionDenied for the appraisal checks,
// kInvalidArgument for a malformed token.
absl::StatusOr<VerifiedToken> VerifyAsToken(std::string_view token, const EarTokenOptions& options);

}  // namespace tng::attestation
