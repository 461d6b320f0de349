// Signature keys on wolfCrypt: PublicKey verifies ECDSA (P-256/384/521) and RSA PKCS#1 v1.5
// signatures from an SPKI, a JWK-style EC point or an RSA modulus/exponent; EcPrivateKey makes
// and signs with the EC keys RA-TLS certificates and test tokens use.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/digest.h"

namespace tng::crypto {

enum class EcCurve { kP256, kP384, kP521 };
std::string_view EcCurveName(EcCurve curve);  // "P-256", as JWK spells it
size_t EcCoordinateSize(EcCurve curve);       // 32, 48, 66

enum class SignatureScheme { kEcdsa, kRsaPkcs1 };

struct SignatureAlgorithm {
  SignatureScheme scheme;
  HashAlgorithm hash;
};

// How an ECDSA signature is laid out: X.509 and TLS use a DER SEQUENCE { r, s }; JWS (RFC 7518
// §3.4) uses r || s, each left-padded to the curve's coordinate size.
enum class EcdsaEncoding { kDer, kRaw };

class PublicKey {
 public:
  enum class Type { kEc, kRsa };

  static absl::StatusOr<PublicKey> FromSpkiDer(std::span<const uint8_t> spki);
  // Coordinates shorter than the field size are left-padded (some services strip leading zeros).
  static absl::StatusOr<PublicKey> FromEcPoint(EcCurve curve, std::span<const uint8_t> x,
                                               std::span<const uint8_t> y);
  static absl::StatusOr<PublicKey> FromRsa(std::span<const uint8_t> modulus,
                                           std::span<const uint8_t> exponent);

  PublicKey(PublicKey&&) noexcept;
  PublicKey& operator=(PublicKey&&) noexcept;
  ~PublicKey();

  Type type() const;
  EcCurve curve() const;    // kEc only
  size_t rsa_bits() const;  // kRsa only
  // The DER SubjectPublicKeyInfo (re-encoded canonically for keys built from parts).
  const std::vector<uint8_t>& spki_der() const;

  // Verifies `signature` over `message` (hashed here with `algorithm.hash`). Fails with
  // kUnauthenticated on a bad signature and kInvalidArgument on a key/algorithm mismatch.
  absl::Status Verify(SignatureAlgorithm algorithm, std::span<const uint8_t> message,
                      std::span<const uint8_t> signature,
                      EcdsaEncoding encoding = EcdsaEncoding::kDer) const;

 private:
  struct Impl;
  explicit PublicKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class EcPrivateKey {
 public:
  static absl::StatusOr<EcPrivateKey> Generate(EcCurve curve);
  // SEC1 ECPrivateKey or PKCS#8 PrivateKeyInfo DER.
  static absl::StatusOr<EcPrivateKey> FromDer(std::span<const uint8_t> der);

  EcPrivateKey(EcPrivateKey&&) noexcept;
  EcPrivateKey& operator=(EcPrivateKey&&) noexcept;
  ~EcPrivateKey();

  EcCurve curve() const;
  // SEC1 DER (with the public key), which wolfSSL's TLS context loads as a private key.
  absl::StatusOr<std::vector<uint8_t>> ToDer() const;
  const std::vector<uint8_t>& public_spki_der() const;
  absl::StatusOr<PublicKey> public_key() const;

  // Signs `message`, hashing it with `hash`. Not const: it draws from the key's random generator.
  absl::StatusOr<std::vector<uint8_t>> Sign(HashAlgorithm hash, std::span<const uint8_t> message,
                                            EcdsaEncoding encoding = EcdsaEncoding::kDer);

 private:
  struct Impl;
  explicit EcPrivateKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tng::crypto
