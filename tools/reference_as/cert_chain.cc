#include "tools/reference_as/cert_chain.h"

#include <sys/random.h>

#include <array>
#include <utility>

#include "crypto/der.h"
#include "crypto/digest.h"
#include "crypto/str_cat.h"

namespace tng::reference_as {
namespace {

constexpr std::array<uint8_t, 3> kOidCommonName = {0x55, 0x04, 0x03};
constexpr std::array<uint8_t, 3> kOidOrganization = {0x55, 0x04, 0x0a};
constexpr std::array<uint8_t, 3> kOidSubjectKeyId = {0x55, 0x1d, 0x0e};
constexpr std::array<uint8_t, 3> kOidKeyUsage = {0x55, 0x1d, 0x0f};
constexpr std::array<uint8_t, 3> kOidBasicConstraints = {0x55, 0x1d, 0x13};
constexpr std::array<uint8_t, 3> kOidAuthorityKeyId = {0x55, 0x1d, 0x23};
constexpr std::array<uint8_t, 8> kOidEcdsaSha256 = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};

constexpr std::string_view kOrganization = "TNG Reference AS";

std::vector<uint8_t> Name(const CertificateSpec& spec) {
  auto rdn = [](std::span<const uint8_t> oid, std::string_view text) {
    return crypto::DerConstructed(
        crypto::der::kSet,
        {crypto::DerSequence({crypto::DerOid(oid), crypto::DerUtf8String(text)})});
  };
  return crypto::DerSequence(
      {rdn(kOidOrganization, spec.organization), rdn(kOidCommonName, spec.common_name)});
}

std::vector<uint8_t> Extension(std::span<const uint8_t> oid, bool critical,
                               std::span<const uint8_t> value) {
  if (critical) {
    return crypto::DerSequence(
        {crypto::DerOid(oid), crypto::DerBoolean(true), crypto::DerOctetString(value)});
  }
  return crypto::DerSequence({crypto::DerOid(oid), crypto::DerOctetString(value)});
}

// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits.
absl::StatusOr<std::vector<uint8_t>> KeyId(std::span<const uint8_t> spki) {
  auto key = SubjectPublicKeyBits(spki);
  if (!key.ok()) return key.status();
  return crypto::Sha1ForKeyId(*key);
}

absl::StatusOr<std::vector<uint8_t>> RandomSerial() {
  std::vector<uint8_t> serial(16);
  if (getrandom(serial.data(), serial.size(), 0) != static_cast<ssize_t>(serial.size())) {
    return absl::InternalError("getrandom failed while making a certificate serial number");
  }
  serial[0] = (serial[0] & 0x7f) | 0x40;  // positive and exactly 16 bytes
  return serial;
}

CertificateSpec CaSpec(int64_t now, int64_t validity) {
  return {.organization = std::string(kOrganization),
          .common_name = "TNG Reference AS CA",
          .is_ca = true,
          .not_before = now - 3600,
          .not_after = now + validity};
}

CertificateSpec SignerSpec(int64_t now, int64_t validity) {
  return {.organization = std::string(kOrganization),
          .common_name = "TNG Reference AS token signer",
          .is_ca = false,
          .not_before = now - 3600,
          .not_after = now + validity};
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> SubjectPublicKeyBits(std::span<const uint8_t> spki) {
  crypto::DerReader top(spki);
  auto seq = top.Expect(crypto::der::kSequence, "SubjectPublicKeyInfo");
  if (!seq.ok()) return seq.status();
  crypto::DerReader fields = crypto::DerReader::Contents(*seq);
  if (auto alg = fields.Expect(crypto::der::kSequence, "algorithm"); !alg.ok()) {
    return alg.status();
  }
  auto bits = fields.Expect(crypto::der::kBitString, "subjectPublicKey");
  if (!bits.ok()) return bits.status();
  auto key = crypto::DerBitStringBytes(*bits, "subjectPublicKey");
  if (!key.ok()) return key.status();
  return std::vector<uint8_t>(key->begin(), key->end());
}

absl::StatusOr<std::vector<uint8_t>> IssueCertificate(const CertificateSpec& spec,
                                                      std::span<const uint8_t> subject_spki,
                                                      const CertificateSpec& issuer_spec,
                                                      std::span<const uint8_t> issuer_spki,
                                                      crypto::EcPrivateKey& issuer_key) {
  if (issuer_key.curve() != crypto::EcCurve::kP256) {
    return absl::InvalidArgumentError("the reference AS signs certificates with P-256 keys only");
  }
  auto subject_id = KeyId(subject_spki);
  if (!subject_id.ok()) return subject_id.status();
  auto issuer_id = KeyId(issuer_spki);
  if (!issuer_id.ok()) return issuer_id.status();
  auto serial = RandomSerial();
  if (!serial.ok()) return serial.status();

  // CA: digitalSignature, keyCertSign, cRLSign (bits 0, 5, 6; one unused bit). Leaf:
  // digitalSignature (bit 0; seven unused bits).
  const std::vector<uint8_t> key_usage =
      spec.is_ca ? std::vector<uint8_t>{crypto::der::kBitString, 0x02, 0x01, 0x86}
                 : std::vector<uint8_t>{crypto::der::kBitString, 0x02, 0x07, 0x80};
  const std::vector<uint8_t> basic_constraints =
      spec.is_ca ? crypto::DerSequence({crypto::DerBoolean(true)}) : crypto::DerSequence({});
  const auto aki =
      crypto::DerSequence({crypto::DerTlv(crypto::der::ContextPrimitive(0), *issuer_id)});
  const auto extensions = crypto::DerSequence({
      Extension(kOidSubjectKeyId, false, crypto::DerOctetString(*subject_id)),
      Extension(kOidAuthorityKeyId, false, aki),
      Extension(kOidBasicConstraints, true, basic_constraints),
      Extension(kOidKeyUsage, true, key_usage),
  });
  const auto algorithm = crypto::DerSequence({crypto::DerOid(kOidEcdsaSha256)});
  const auto version =
      crypto::DerConstructed(crypto::der::ContextConstructed(0), {crypto::DerSmallInteger(2)});
  const auto validity =
      crypto::DerSequence({crypto::DerTime(spec.not_before), crypto::DerTime(spec.not_after)});
  const auto tbs = crypto::DerSequence(
      {version, crypto::DerUnsignedIntegerTlv(*serial), algorithm, Name(issuer_spec), validity,
       Name(spec), subject_spki,
       crypto::DerConstructed(crypto::der::ContextConstructed(3), {extensions})});
  auto signature =
      issuer_key.Sign(crypto::HashAlgorithm::kSha256, tbs, crypto::EcdsaEncoding::kDer);
  if (!signature.ok()) {
    return absl::Status(signature.status().code(),
                        crypto::StrCat("signing the certificate for \"", spec.common_name,
                                       "\": ", signature.status().message()));
  }
  return crypto::DerSequence({tbs, algorithm, crypto::DerBitString(*signature)});
}

absl::StatusOr<SigningChain> MakeSigningChain(int64_t now, int64_t validity_seconds) {
  auto ca_key = crypto::EcPrivateKey::Generate(crypto::EcCurve::kP256);
  if (!ca_key.ok()) return ca_key.status();
  auto signer_key = crypto::EcPrivateKey::Generate(crypto::EcCurve::kP256);
  if (!signer_key.ok()) return signer_key.status();
  const CertificateSpec ca = CaSpec(now, validity_seconds);
  auto ca_der =
      IssueCertificate(ca, ca_key->public_spki_der(), ca, ca_key->public_spki_der(), *ca_key);
  if (!ca_der.ok()) return ca_der.status();
  auto signer_der =
      IssueCertificate(SignerSpec(now, validity_seconds), signer_key->public_spki_der(), ca,
                       ca_key->public_spki_der(), *ca_key);
  if (!signer_der.ok()) return signer_der.status();
  return SigningChain{.ca_key = *std::move(ca_key),
                      .signer_key = *std::move(signer_key),
                      .ca_der = *std::move(ca_der),
                      .signer_der = *std::move(signer_der)};
}

absl::StatusOr<ForgedSigner> MakeForgedSigner(int64_t now, int64_t validity_seconds) {
  auto key = crypto::EcPrivateKey::Generate(crypto::EcCurve::kP256);
  if (!key.ok()) return key.status();
  auto cert = IssueCertificate(SignerSpec(now, validity_seconds), key->public_spki_der(),
                               CaSpec(now, validity_seconds), key->public_spki_der(), *key);
  if (!cert.ok()) return cert.status();
  return ForgedSigner{.key = *std::move(key), .cert_der = *std::move(cert)};
}

}  // namespace tng::reference_as
