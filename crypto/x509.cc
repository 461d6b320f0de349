#include "crypto/x509.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "crypto/base64.h"
#include "crypto/der.h"
#include "crypto/str_cat.h"

namespace tng::crypto {
namespace {

// Propagates the error of a StatusOr expression, otherwise binds its value.
#define TNG_X509_ASSIGN(lhs, expr)              \
  auto lhs##_or = (expr);                       \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *std::move(lhs##_or)

// The dotted form of an OBJECT IDENTIFIER element; errors say which field and where.
absl::StatusOr<std::string> OidAt(const DerElement& element, std::string_view what) {
  auto text = OidToString(element.value);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        StrCat("malformed ", what, " at offset ", element.offset, ": ", text.status().message()));
  }
  return text;
}

absl::Status Prefixed(const absl::Status& s) {
  return absl::Status(s.code(), StrCat("X.509 certificate: ", s.message()));
}

}  // namespace

absl::StatusOr<X509Certificate> X509Certificate::ParseDerOrPem(std::span<const uint8_t> input) {
  // DER starts with a SEQUENCE; anything else is taken as PEM text. (Searching for "-----BEGIN"
  // would misfire: SGX quotes inside RA-TLS certificates embed PEM certificate chains.)
  if (input.empty() || input[0] == der::kSequence) return ParseDer(input);
  const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
  auto blocks = PemDecode(text);
  if (!blocks.ok()) return Prefixed(blocks.status());
  for (const auto& block : *blocks) {
    if (block.label == "CERTIFICATE") return ParseDer(block.der);
  }
  if (blocks->empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "X.509 certificate: input is neither DER (byte 0x%02x at offset 0, expected 0x30) nor PEM",
        input[0]));
  }
  return absl::InvalidArgumentError("X.509 certificate: PEM input has no CERTIFICATE block");
}

absl::StatusOr<X509Certificate> X509Certificate::ParseDer(std::span<const uint8_t> input) {
  X509Certificate cert;
  cert.der_.assign(input.begin(), input.end());
  auto parse = [&cert]() -> absl::Status {
    DerReader top(cert.der_);
    TNG_X509_ASSIGN(certificate, top.Expect(der::kSequence, "Certificate"));
    if (auto s = top.ExpectEnd("Certificate"); !s.ok()) return s;
    DerReader c = DerReader::Contents(certificate);
    TNG_X509_ASSIGN(tbs, c.Expect(der::kSequence, "tbsCertificate"));
    TNG_X509_ASSIGN(outer_alg, c.Expect(der::kSequence, "signatureAlgorithm"));
    TNG_X509_ASSIGN(sig, c.Expect(der::kBitString, "signatureValue"));
    if (auto s = c.ExpectEnd("signatureValue"); !s.ok()) return s;
    TNG_X509_ASSIGN(sig_bytes, DerBitStringBytes(sig, "signatureValue"));
    cert.tbs_ = cert.RangeOf(tbs.whole);
    cert.signature_ = cert.RangeOf(sig_bytes);
    DerReader alg = DerReader::Contents(outer_alg);
    TNG_X509_ASSIGN(alg_oid, alg.Expect(der::kOid, "signatureAlgorithm OID"));
    TNG_X509_ASSIGN(alg_text, OidAt(alg_oid, "signatureAlgorithm OID"));
    cert.signature_oid_ = alg_text;

    DerReader t = DerReader::Contents(tbs);
    if (t.PeekTag(der::ContextConstructed(0))) {
      TNG_X509_ASSIGN(version_wrapper, t.Next("version"));
      DerReader v = DerReader::Contents(version_wrapper);
      TNG_X509_ASSIGN(version, v.Expect(der::kInteger, "version"));
      if (version.value.size() != 1 || version.value[0] > 2) {
        return absl::InvalidArgumentError(StrCat("unsupported version at offset ", version.offset));
      }
      cert.version_ = version.value[0] + 1;
    }
    TNG_X509_ASSIGN(serial, t.Expect(der::kInteger, "serialNumber"));
    cert.serial_ = cert.RangeOf(serial.value);
    TNG_X509_ASSIGN(inner_alg, t.Expect(der::kSequence, "tbsCertificate signature"));
    if (!std::equal(inner_alg.whole.begin(), inner_alg.whole.end(), outer_alg.whole.begin(),
                    outer_alg.whole.end())) {
      return absl::InvalidArgumentError(
          StrCat("tbsCertificate signature algorithm at offset ", inner_alg.offset,
                 " differs from signatureAlgorithm at offset ", outer_alg.offset));
    }
    TNG_X509_ASSIGN(issuer, t.Expect(der::kSequence, "issuer"));
    cert.issuer_ = cert.RangeOf(issuer.whole);
    TNG_X509_ASSIGN(validity, t.Expect(der::kSequence, "validity"));
    DerReader vr = DerReader::Contents(validity);
    TNG_X509_ASSIGN(nb, vr.Next("notBefore"));
    TNG_X509_ASSIGN(na, vr.Next("notAfter"));
    TNG_X509_ASSIGN(nb_unix, DerTimeToUnix(nb, "notBefore"));
    TNG_X509_ASSIGN(na_unix, DerTimeToUnix(na, "notAfter"));
    cert.not_before_ = nb_unix;
    cert.not_after_ = na_unix;
    TNG_X509_ASSIGN(subject, t.Expect(der::kSequence, "subject"));
    cert.subject_ = cert.RangeOf(subject.whole);
    TNG_X509_ASSIGN(spki, t.Expect(der::kSequence, "subjectPublicKeyInfo"));
    cert.spki_ = cert.RangeOf(spki.whole);
    for (uint8_t n : {1, 2}) {
      if (t.PeekTag(der::ContextPrimitive(n))) {
        TNG_X509_ASSIGN(unique_id, t.Next("unique identifier"));
        (void)unique_id;
      }
    }
    if (t.PeekTag(der::ContextConstructed(3))) {
      TNG_X509_ASSIGN(ext_wrapper, t.Next("extensions"));
      DerReader w = DerReader::Contents(ext_wrapper);
      TNG_X509_ASSIGN(ext_list, w.Expect(der::kSequence, "extensions"));
      if (auto s = w.ExpectEnd("extensions"); !s.ok()) return s;
      DerReader list = DerReader::Contents(ext_list);
      while (!list.empty()) {
        TNG_X509_ASSIGN(ext, list.Expect(der::kSequence, "Extension"));
        DerReader e = DerReader::Contents(ext);
        TNG_X509_ASSIGN(oid, e.Expect(der::kOid, "extnID"));
        X509Extension parsed;
        TNG_X509_ASSIGN(oid_text, OidAt(oid, "extnID"));
        parsed.oid = oid_text;
        parsed.offset = ext.offset;
        if (e.PeekTag(der::kBoolean)) {
          TNG_X509_ASSIGN(critical, e.Next("critical"));
          if (critical.value.size() != 1 || (critical.value[0] != 0 && critical.value[0] != 0xff)) {
            return absl::InvalidArgumentError(
                StrCat("malformed critical flag at offset ", critical.offset));
          }
          parsed.critical = critical.value[0] != 0;
        }
        TNG_X509_ASSIGN(value, e.Expect(der::kOctetString, "extnValue of " + parsed.oid));
        if (auto s = e.ExpectEnd("extension " + parsed.oid); !s.ok()) return s;
        parsed.value.assign(value.value.begin(), value.value.end());
        if (cert.FindExtension(parsed.oid) != nullptr) {
          return absl::InvalidArgumentError(
              StrCat("duplicate extension ", parsed.oid, " at offset ", ext.offset));
        }
        cert.extensions_.push_back(std::move(parsed));
      }
    }
    return t.ExpectEnd("tbsCertificate");
  };
  if (auto s = parse(); !s.ok()) return Prefixed(s);
  return cert;
}

const X509Extension* X509Certificate::FindExtension(std::string_view dotted_oid) const {
  for (const auto& ext : extensions_) {
    if (ext.oid == dotted_oid) return &ext;
  }
  return nullptr;
}

absl::StatusOr<SignatureAlgorithm> X509Certificate::signature_algorithm() const {
  struct Known {
    std::string_view oid;
    SignatureAlgorithm algorithm;
  };
  static constexpr Known kKnown[] = {
      {"1.2.840.10045.4.3.2", {SignatureScheme::kEcdsa, HashAlgorithm::kSha256}},
      {"1.2.840.10045.4.3.3", {SignatureScheme::kEcdsa, HashAlgorithm::kSha384}},
      {"1.2.840.10045.4.3.4", {SignatureScheme::kEcdsa, HashAlgorithm::kSha512}},
      {"1.2.840.113549.1.1.11", {SignatureScheme::kRsaPkcs1, HashAlgorithm::kSha256}},
      {"1.2.840.113549.1.1.12", {SignatureScheme::kRsaPkcs1, HashAlgorithm::kSha384}},
      {"1.2.840.113549.1.1.13", {SignatureScheme::kRsaPkcs1, HashAlgorithm::kSha512}},
  };
  for (const auto& k : kKnown) {
    if (k.oid == signature_oid_) return k.algorithm;
  }
  return absl::UnimplementedError(
      StrCat("X.509 certificate: unsupported signature algorithm ", signature_oid_));
}

absl::Status X509Certificate::VerifySignature(const PublicKey& issuer) const {
  auto algorithm = signature_algorithm();
  if (!algorithm.ok()) return algorithm.status();
  auto s = issuer.Verify(*algorithm, tbs_der(), signature());
  if (!s.ok()) {
    return absl::Status(s.code(), StrCat("X.509 certificate signature: ", s.message()));
  }
  return absl::OkStatus();
}

#undef TNG_X509_ASSIGN

}  // namespace tng::crypto
