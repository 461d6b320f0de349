// The judge of a peer's RA-TLS certificate for an endpoint that verifies: the certificate's
// evidence goes to the AS (background check) or its AS token is checked locally (passport); either
// way the token must be signed by a trusted AS key, unexpired, affirming under every configured
// policy, and bind the certificate's own key. Successful results are cached per evidence until the
// token expires. Shared by every reactor of the endpoint; the cache's mutex is taken on the
// handshake path only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "attestation/as_client.h"
#include "core/task.h"
#include "crypto/x509.h"

namespace tng::attestation {

struct RatlsVerifierOptions {
  enum class Model { kBackgroundCheck, kPassport };
  Model model = Model::kBackgroundCheck;
  // The AS (background check: required; passport: only for GET /certificate). Empty: none.
  std::string as_addr;
  std::vector<std::string> policy_ids;
  // Trust anchors for the token signer (TNG's trusted_certs_paths, already read). Empty: the AS's
  // GET /certificate is asked.
  std::vector<crypto::X509Certificate> trusted_certs;
  bool skip_cert_verify = false;
  int64_t clock_skew_seconds = 60;
  size_t max_cache_entries = 4096;
  // Unix seconds; tests move the clock. Default: the system clock.
  std::function<int64_t()> now;
};

// What a verified peer is, for the access log.
struct PeerAttestation {
  std::string tee_type;
  std::vector<std::string> policy_ids;
  int64_t expires_at = 0;  // token exp
  bool from_cache = false;
};

class RatlsVerifier {
 public:
  explicit RatlsVerifier(RatlsVerifierOptions options) : options_(std::move(options)) {}

  // Judges `peer_cert_der` (empty: the peer presented none). `as` is the calling reactor's AS
  // client; nullptr when no as_addr is configured. Errors name the check that failed.
  Task<absl::StatusOr<PeerAttestation>> Verify(std::span<const uint8_t> peer_cert_der,
                                               AsClient* as);

  const RatlsVerifierOptions& options() const { return options_; }
  size_t cache_size() const;

 private:
  int64_t Now() const;
  Task<absl::StatusOr<std::vector<crypto::X509Certificate>>> TrustAnchors(AsClient* as);
  std::optional<PeerAttestation> Lookup(const std::string& key);
  void Remember(std::string key, const PeerAttestation& result);

  RatlsVerifierOptions options_;
  mutable std::mutex mu_;
  // SHA-256 of (SPKI, evidence extension) as raw bytes.
  std::unordered_map<std::string, PeerAttestation> cache_;
  std::optional<std::vector<crypto::X509Certificate>> as_certs_;  // from GET /certificate
};

}  // namespace tng::attestation
