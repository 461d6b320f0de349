// The reference AS's token-signing identity: a self-made CA and a signer certificate it issues
// (X.509 v3, P-256, ECDSA-SHA256), the shape of a trustee deployment's signer chain.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/signature.h"

namespace tng::reference_as {

struct CertificateSpec {
  std::string organization;
  std::string common_name;
  bool is_ca = false;
  int64_t not_before = 0;  // Unix seconds
  int64_t not_after = 0;
};

// A certificate for `subject_spki` described by `spec`, signed by `issuer_key` in the name of
// `issuer_spec` (pass the same spec and the subject's own key for a self-signed one). CA
// certificates get BasicConstraints cA=TRUE and keyCertSign; others digitalSignature only.
absl::StatusOr<std::vector<uint8_t>> IssueCertificate(const CertificateSpec& spec,
                                                      std::span<const uint8_t> subject_spki,
                                                      const CertificateSpec& issuer_spec,
                                                      std::span<const uint8_t> issuer_spki,
                                                      crypto::EcPrivateKey& issuer_key);

// The subjectPublicKey bits of an SPKI (for EC keys: 0x04 || x || y).
absl::StatusOr<std::vector<uint8_t>> SubjectPublicKeyBits(std::span<const uint8_t> spki);

struct SigningChain {
  crypto::EcPrivateKey ca_key;
  crypto::EcPrivateKey signer_key;  // signs tokens
  std::vector<uint8_t> ca_der;
  std::vector<uint8_t> signer_der;  // issued by the CA
};

// A fresh CA and signer, valid from an hour before `now` (clock skew) for `validity_seconds`.
absl::StatusOr<SigningChain> MakeSigningChain(int64_t now, int64_t validity_seconds);

// A key with a certificate that claims the CA as issuer but is signed by the key itself: what
// --untrusted-key signs with, so that verifiers must reject the chain.
struct ForgedSigner {
  crypto::EcPrivateKey key;
  std::vector<uint8_t> cert_der;
};
absl::StatusOr<ForgedSigner> MakeForgedSigner(int64_t now, int64_t validity_seconds);

}  // namespace tng::reference_as
