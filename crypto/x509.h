// An X.509 certificate (RFC 5280) split into the fields RA-TLS and JWS x5c checks read: the
// signed TBS bytes, names, validity, SPKI, extensions and signature. It locates and decodes; trust
// decisions (chains, policies) are the caller's.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/signature.h"

namespace tng::crypto {

struct X509Extension {
  std::string oid;  // dotted, e.g. "2.23.133.5.4.9"
  bool critical = false;
  std::vector<uint8_t> value;  // the extnValue OCTET STRING contents
  size_t offset = 0;           // of the Extension SEQUENCE within the certificate DER
};

class X509Certificate {
 public:
  static absl::StatusOr<X509Certificate> ParseDer(std::span<const uint8_t> der);
  // DER, or PEM text whose first CERTIFICATE block is used.
  static absl::StatusOr<X509Certificate> ParseDerOrPem(std::span<const uint8_t> input);

  const std::vector<uint8_t>& der() const { return der_; }
  std::span<const uint8_t> tbs_der() const { return Slice(tbs_); }
  int version() const { return version_; }  // 1, 2 or 3
  std::span<const uint8_t> serial() const { return Slice(serial_); }
  std::span<const uint8_t> issuer_der() const { return Slice(issuer_); }
  std::span<const uint8_t> subject_der() const { return Slice(subject_); }
  int64_t not_before() const { return not_before_; }  // Unix seconds
  int64_t not_after() const { return not_after_; }
  std::span<const uint8_t> spki_der() const { return Slice(spki_); }
  const std::string& signature_algorithm_oid() const { return signature_oid_; }
  std::span<const uint8_t> signature() const { return Slice(signature_); }
  const std::vector<X509Extension>& extensions() const { return extensions_; }

  const X509Extension* FindExtension(std::string_view dotted_oid) const;
  // ECDSA or RSA PKCS#1 v1.5 with SHA-256/384/512; an error naming the OID otherwise.
  absl::StatusOr<SignatureAlgorithm> signature_algorithm() const;
  // Checks the certificate's signature with `issuer` (its own key for a self-signed one).
  absl::Status VerifySignature(const PublicKey& issuer) const;

 private:
  struct Range {
    size_t offset = 0;
    size_t size = 0;
  };
  X509Certificate() = default;
  std::span<const uint8_t> Slice(Range r) const {
    return std::span(der_).subspan(r.offset, r.size);
  }
  Range RangeOf(std::span<const uint8_t> part) const {
    return {static_cast<size_t>(part.data() - der_.data()), part.size()};
  }

  std::vector<uint8_t> der_;
  Range tbs_, serial_, issuer_, subject_, spki_, signature_;
  int version_ = 1;
  int64_t not_before_ = 0, not_after_ = 0;
  std::string signature_oid_;
  std::vector<X509Extension> extensions_;
};

}  // namespace tng::crypto
