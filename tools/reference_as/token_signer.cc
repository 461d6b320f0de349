#include "tools/reference_as/token_signer.h"

#include <utility>

#include "core/json.h"
#include "crypto/base64.h"
#include "crypto/jwt.h"
#include "crypto/str_cat.h"

namespace tng::reference_as {
namespace {

using crypto::StrCat;

// Certificates outlive any test run; tokens carry their own, much shorter, exp.
constexpr int64_t kCertificateValiditySeconds = 10 * 365 * 86400;

std::span<const uint8_t> Bytes(std::string_view s) {
  return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

absl::StatusOr<std::string> MakeEcJwkJson(std::span<const uint8_t> spki,
                                          std::span<const std::vector<uint8_t>> x5c,
                                          X5cEncoding encoding) {
  auto point = SubjectPublicKeyBits(spki);
  if (!point.ok()) return point.status();
  if (point->size() != 65 || (*point)[0] != 0x04) {
    return absl::InternalError("the signing key is not an uncompressed P-256 point");
  }
  const std::span<const uint8_t> p(*point);
  std::string out =
      StrCat("{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\",\"x\":",
             json::Quote(crypto::Base64UrlEncode(p.subspan(1, 32))),
             ",\"y\":", json::Quote(crypto::Base64UrlEncode(p.subspan(33, 32))), ",\"x5c\":[");
  for (size_t i = 0; i < x5c.size(); ++i) {
    crypto::StrAppend(
        &out, i ? "," : "",
        json::Quote(encoding == X5cEncoding::kBase64Url ? crypto::Base64UrlEncode(x5c[i])
                                                        : crypto::Base64Encode(x5c[i])));
  }
  out += "]}";
  return out;
}

absl::StatusOr<TokenSigner> TokenSigner::Create(int64_t now, bool untrusted_key) {
  auto chain = MakeSigningChain(now, kCertificateValiditySeconds);
  if (!chain.ok()) return chain.status();
  std::vector<ForgedSigner> forged;
  std::vector<std::vector<uint8_t>> x5c;
  std::vector<uint8_t> spki;
  if (untrusted_key) {
    auto signer = MakeForgedSigner(now, kCertificateValiditySeconds);
    if (!signer.ok()) return signer.status();
    x5c = {signer->cert_der, chain->ca_der};
    spki = signer->key.public_spki_der();
    forged.push_back(*std::move(signer));
  } else {
    x5c = {chain->signer_der, chain->ca_der};
    spki = chain->signer_key.public_spki_der();
  }
  auto jwk = MakeEcJwkJson(spki, x5c);
  if (!jwk.ok()) return jwk.status();
  return TokenSigner(*std::move(chain), std::move(forged), *std::move(jwk));
}

crypto::EcPrivateKey& TokenSigner::signing_key() {
  return forged_.empty() ? chain_.signer_key : forged_.front().key;
}
const crypto::EcPrivateKey& TokenSigner::signing_key() const {
  return forged_.empty() ? chain_.signer_key : forged_.front().key;
}

std::string TokenSigner::CertificateChainPem() const {
  return crypto::PemEncode("CERTIFICATE", chain_.signer_der) +
         crypto::PemEncode("CERTIFICATE", chain_.ca_der);
}

absl::StatusOr<std::string> TokenSigner::SignWithJwk(std::string_view payload_json) {
  const std::string header = StrCat("{\"typ\":\"JWT\",\"alg\":\"ES256\",\"jwk\":", jwk_json_, "}");
  return crypto::SignJws(header, Bytes(payload_json), crypto::JwsAlgorithm::kEs256, signing_key());
}

absl::StatusOr<std::string> TokenSigner::SignBare(std::string_view payload_json) {
  return crypto::SignJws("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", Bytes(payload_json),
                         crypto::JwsAlgorithm::kEs256, signing_key());
}

absl::Status TokenSigner::VerifyOwnToken(std::string_view token) const {
  auto jws = crypto::ParseJws(token);
  if (!jws.ok()) return jws.status();
  auto key = signing_key().public_key();
  if (!key.ok()) return key.status();
  return crypto::VerifyJws(*jws, *key);
}

}  // namespace tng::reference_as
