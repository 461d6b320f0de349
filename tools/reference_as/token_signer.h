// The reference AS's signing of tokens: ES256 JWTs whose protected header carries the signer's
// public key as a jwk with its x5c chain, the way trustee's EAR broker writes them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/signature.h"
#include "tools/reference_as/cert_chain.h"

namespace tng::reference_as {

// How x5c certificates are spelled. RFC 7517 §4.7 and upstream trustee use standard base64;
// the openanolis trustee that TNG pairs with writes base64url without padding, and TNG's verifier
// decodes only that, so the reference AS writes base64url.
enum class X5cEncoding { kBase64Url, kBase64 };

// {"kty":"EC","crv":"P-256","alg":"ES256","x":...,"y":...,"x5c":[...]} for a P-256 `spki`.
absl::StatusOr<std::string> MakeEcJwkJson(std::span<const uint8_t> spki,
                                          std::span<const std::vector<uint8_t>> x5c,
                                          X5cEncoding encoding = X5cEncoding::kBase64Url);

class TokenSigner {
 public:
  // A fresh CA and signer. With `untrusted_key`, tokens are signed by a key whose certificate
  // only pretends to come from the CA (/certificate still serves the genuine chain).
  static absl::StatusOr<TokenSigner> Create(int64_t now, bool untrusted_key);

  // The genuine chain as PEM, signer first, then the CA: what GET /certificate serves.
  std::string CertificateChainPem() const;
  const std::vector<uint8_t>& ca_der() const { return chain_.ca_der; }
  // {"kty":"EC","crv":"P-256","alg":"ES256","x":...,"y":...,"x5c":[...]} of the signing key.
  const std::string& jwk_json() const { return jwk_json_; }

  // A token over `payload_json` with header {"typ":"JWT","alg":"ES256","jwk":{...}}.
  absl::StatusOr<std::string> SignWithJwk(std::string_view payload_json);
  // A token with the bare header {"alg":"ES256","typ":"JWT"} (challenge tokens, which only this
  // AS reads back).
  absl::StatusOr<std::string> SignBare(std::string_view payload_json);
  // Checks that `token` was signed by this AS's signing key (bare or with jwk).
  absl::Status VerifyOwnToken(std::string_view token) const;

 private:
  TokenSigner(SigningChain chain, std::vector<ForgedSigner> forged, std::string jwk_json)
      : chain_(std::move(chain)), forged_(std::move(forged)), jwk_json_(std::move(jwk_json)) {}
  crypto::EcPrivateKey& signing_key();
  const crypto::EcPrivateKey& signing_key() const;

  SigningChain chain_;
  std::vector<ForgedSigner> forged_;  // one element with --untrusted-key
  std::string jwk_json_;
};

}  // namespace tng::reference_as
