// JWS compact serialisation (RFC 7515) as attestation services issue their tokens: the three
// parts split and decoded, the protected header's alg/kid/jwk/x5c read, and ES256/ES384/ES512
// (raw r || s, RFC 7518 §3.4) and RS256/RS384/RS512 signatures checked with wolfCrypt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/signature.h"

namespace tng::crypto {

enum class JwsAlgorithm { kEs256, kEs384, kEs512, kRs256, kRs384, kRs512 };
std::string_view JwsAlgorithmName(JwsAlgorithm alg);  // "ES256"
// "none" and the HMAC algorithms are refused: a token must be verifiable by a third party.
absl::StatusOr<JwsAlgorithm> JwsAlgorithmFromName(std::string_view name);
SignatureAlgorithm ToSignatureAlgorithm(JwsAlgorithm alg);

// A JSON Web Key (RFC 7517) of type EC or RSA, with its certificate chain if it carries one.
struct Jwk {
  std::string kty;                        // "EC" or "RSA"
  std::string crv;                        // EC: "P-256", "P-384", "P-521"
  std::string alg;                        // optional
  std::string kid;                        // optional
  std::vector<uint8_t> x, y;              // EC coordinates
  std::vector<uint8_t> n, e;              // RSA modulus and exponent
  std::vector<std::vector<uint8_t>> x5c;  // DER certificates, leaf first

  absl::StatusOr<PublicKey> ToPublicKey() const;
};

struct JwsHeader {
  std::string json;  // the decoded protected header
  std::string alg;
  std::string typ;
  std::string kid;
  std::optional<Jwk> jwk;
  std::vector<std::vector<uint8_t>> x5c;  // header-level chain (RFC 7515 §4.1.6), leaf first
};

struct Jws {
  JwsHeader header;
  JwsAlgorithm algorithm;
  std::string signing_input;  // BASE64URL(header) '.' BASE64URL(payload), what was signed
  std::vector<uint8_t> payload;
  std::vector<uint8_t> signature;
};

struct JwsLimits {
  size_t max_token_size = 256 * 1024;
  size_t max_header_size = 64 * 1024;  // decoded; x5c chains live here
};

// Splits and decodes a compact JWS. Errors name the part ("JWS header: ...").
absl::StatusOr<Jws> ParseJws(std::string_view compact, const JwsLimits& limits = {});

// Checks the signature with `key`, which must suit the algorithm (EC curve or RSA).
absl::Status VerifyJws(const Jws& jws, const PublicKey& key);

// Produces a compact JWS with an ES256/ES384/ES512 signature. `header_json` must carry the
// matching "alg"; it is used byte for byte.
absl::StatusOr<std::string> SignJws(std::string_view header_json, std::span<const uint8_t> payload,
                                    JwsAlgorithm alg, EcPrivateKey& key);

}  // namespace tng::crypto
