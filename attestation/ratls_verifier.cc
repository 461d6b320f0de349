#include "attestation/ratls_verifier.h"

#include <ctime>
#include <utility>

#include "attestation/ear_token.h"
#include "attestation/ratls_cert.h"
#include "crypto/digest.h"
#include "crypto/str_cat.h"

namespace tng::attestation {

using crypto::StrCat;

namespace {

absl::Status Rejected(absl::StatusCode code, std::string_view what, absl::string_view detail) {
  return absl::Status(code, StrCat(what, ": ", detail));
}

}  // namespace

int64_t RatlsVerifier::Now() const {
  return options_.now ? options_.now() : static_cast<int64_t>(std::time(nullptr));
}

size_t RatlsVerifier::cache_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_.size();
}

std::optional<PeerAttestation> RatlsVerifier::Lookup(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  if (it->second.expires_at <= Now()) {
    cache_.erase(it);
    return std::nullopt;
  }
  PeerAttestation hit = it->second;
  hit.from_cache = true;
  return hit;
}

void RatlsVerifier::Remember(std::string key, const PeerAttestation& result) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cache_.size() >= options_.max_cache_entries) {
    const int64_t now = Now();
    std::erase_if(cache_, [now](const auto& e) { return e.second.expires_at <= now; });
    // Still full of live entries (many distinct peers): start over rather than grow unbounded.
    if (cache_.size() >= options_.max_cache_entries) cache_.clear();
  }
  cache_[std::move(key)] = result;
}

Task<absl::StatusOr<std::vector<crypto::X509Certificate>>> RatlsVerifier::TrustAnchors(
    AsClient* as) {
  if (!options_.trusted_certs.empty() || options_.skip_cert_verify) {
    co_return options_.trusted_certs;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (as_certs_) co_return *as_certs_;
  }
  if (as == nullptr) {
    co_return absl::FailedPreconditionError(
        "no trust anchor for the AS token: neither trusted_certs_paths nor as_addr is set");
  }
  auto pem = co_await as->GetCertificate();
  if (!pem.ok()) {
    co_return Rejected(absl::StatusCode::kUnavailable, "AS token signer certificates",
                       pem.status().message());
  }
  auto certs = ParseCertificateList(
      std::span(reinterpret_cast<const uint8_t*>(pem->data()), pem->size()), "AS /certificate");
  if (!certs.ok()) co_return certs.status();
  std::lock_guard<std::mutex> lock(mu_);
  as_certs_ = *certs;
  co_return std::move(*certs);
}

Task<absl::StatusOr<PeerAttestation>> RatlsVerifier::Verify(std::span<const uint8_t> peer_cert_der,
                                                            AsClient* as) {
  if (peer_cert_der.empty()) {
    co_return absl::PermissionDeniedError("peer presented no certificate (attestation required)");
  }
  auto cert = ParseRatlsCert(peer_cert_der);
  if (!cert.ok()) {
    co_return Rejected(absl::StatusCode::kPermissionDenied,
                       "peer certificate carries no usable RA-TLS evidence",
                       cert.status().message());
  }
  if (auto st = VerifySelfSigned(*cert); !st.ok()) {
    co_return Rejected(absl::StatusCode::kPermissionDenied, "peer certificate self-signature",
                       st.message());
  }
  const int64_t now = Now();
  if (cert->cert.not_after() + options_.clock_skew_seconds < now) {
    co_return absl::PermissionDeniedError(
        StrCat("peer certificate expired at unix time ", cert->cert.not_after()));
  }
  const uint64_t tag = cert->evidence.tag;
  if (tag != kTagTngEvidence && tag != kTagTngToken) {
    co_return absl::PermissionDeniedError(
        StrCat("peer certificate evidence has tag ", tag,
               ", not TNG evidence (0xC0C000) or an AS token (0xC0C001)"));
  }

  // Bind the evidence to this certificate's key before anything else looks at it.
  std::optional<TngEvidenceBinding> binding;
  if (tag == kTagTngEvidence) {
    auto b = CheckTngEvidenceBinding(*cert);
    if (!b.ok()) {
      co_return Rejected(absl::StatusCode::kPermissionDenied,
                         "evidence does not bind the certificate key", b.status().message());
    }
    binding = std::move(*b);
  }

  // The cache key covers the key as well as the evidence: a copied extension under another key
  // never hits an entry made for the original.
  std::vector<uint8_t> key_material(cert->spki_der().begin(), cert->spki_der().end());
  const crypto::X509Extension* ext = cert->cert.FindExtension(kOidTaggedEvidence);
  if (ext != nullptr) key_material.insert(key_material.end(), ext->value.begin(), ext->value.end());
  const std::vector<uint8_t> digest = crypto::Digest(crypto::HashAlgorithm::kSha256, key_material);
  std::string cache_key(digest.begin(), digest.end());
  if (auto hit = Lookup(cache_key)) co_return *hit;

  std::string token;
  if (tag == kTagTngToken) {
    token.assign(cert->evidence.evidence.begin(), cert->evidence.evidence.end());
  } else {
    if (as == nullptr) {
      co_return absl::FailedPreconditionError(
          "peer sent evidence for a background check but no as_addr is configured");
    }
    AsAttestationInput input;
    input.tee = binding->evidence.tee_type;
    input.evidence = binding->evidence.aa_evidence;
    input.runtime_data = binding->evidence.aa_runtime_data;
    input.runtime_data_hash = binding->evidence.aa_runtime_data_hash_algo;
    if (binding->evidence.aa_additional_evidence) {
      input.additional_evidence = std::string(binding->evidence.aa_additional_evidence->begin(),
                                              binding->evidence.aa_additional_evidence->end());
    }
    input.policy_ids = options_.policy_ids;
    auto attested = co_await as->Attest(std::move(input));
    if (!attested.ok()) {
      co_return Rejected(attested.status().code(), "AS rejected the peer's evidence",
                         attested.status().message());
    }
    token = std::move(*attested);
  }

  auto anchors = co_await TrustAnchors(as);
  if (!anchors.ok()) co_return anchors.status();
  EarTokenOptions token_options;
  token_options.trusted_certs = std::move(*anchors);
  token_options.skip_cert_verify = options_.skip_cert_verify;
  token_options.policy_ids = options_.policy_ids;
  token_options.expected_runtime_data = TngClaimsJson(cert->spki_der());
  token_options.now_unix = Now();
  token_options.clock_skew_seconds = options_.clock_skew_seconds;
  auto verified = VerifyAsToken(token, token_options);
  if (!verified.ok()) {
    if (verified.status().code() == absl::StatusCode::kUnauthenticated &&
        options_.trusted_certs.empty()) {
      // The AS may have rotated its signing key: ask /certificate again next time.
      std::lock_guard<std::mutex> lock(mu_);
      as_certs_.reset();
    }
    co_return verified.status();
  }

  PeerAttestation result;
  result.tee_type = !verified->tee_type.empty() ? verified->tee_type
                    : binding                   ? binding->evidence.tee_type
                                                : std::string();
  result.policy_ids = verified->policy_ids.empty() ? options_.policy_ids : verified->policy_ids;
  result.expires_at = std::min(verified->expires_at, cert->cert.not_after());
  Remember(std::move(cache_key), result);
  co_return result;
}

}  // namespace tng::attestation
