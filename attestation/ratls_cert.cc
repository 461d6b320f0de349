#include "attestation/ratls_cert.h"

#include <simdjson.h>

#include <algorithm>
#include <array>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "crypto/base64.h"
#include "crypto/canonical_json.h"
#include "crypto/cbor.h"
#include "crypto/der.h"
#include "crypto/str_cat.h"

namespace tng::attestation {
namespace {

using crypto::CborValue;

// OID contents.
constexpr std::array<uint8_t, 6> kOidTaggedEvidenceDer = {0x67, 0x81, 0x05, 0x05, 0x04, 0x09};
constexpr std::array<uint8_t, 6> kOidEndorsementDer = {0x67, 0x81, 0x05, 0x05, 0x04, 0x02};
constexpr std::array<uint8_t, 3> kOidCommonName = {0x55, 0x04, 0x03};
constexpr std::array<uint8_t, 3> kOidOrganization = {0x55, 0x04, 0x0a};
constexpr std::array<uint8_t, 3> kOidSubjectKeyId = {0x55, 0x1d, 0x0e};
constexpr std::array<uint8_t, 3> kOidKeyUsage = {0x55, 0x1d, 0x0f};
constexpr std::array<uint8_t, 3> kOidBasicConstraints = {0x55, 0x1d, 0x13};
constexpr std::array<uint8_t, 3> kOidAuthorityKeyId = {0x55, 0x1d, 0x23};
constexpr std::array<uint8_t, 8> kOidEcdsaSha256 = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
constexpr std::array<uint8_t, 8> kOidEcdsaSha384 = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
constexpr std::array<uint8_t, 8> kOidEcdsaSha512 = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};

constexpr std::string_view kPubkeyHashClaim = "pubkey-hash";
constexpr size_t kQuoteHeaderSize = 48;
constexpr size_t kReportDataSize = 64;

absl::Status Wrap(std::string_view prefix, const absl::Status& s) {
  return absl::Status(s.code(), crypto::StrCat(prefix, ": ", s.message()));
}

absl::Status TypeError(std::string_view prefix, std::string_view field, const CborValue& v,
                       std::string_view want) {
  return absl::InvalidArgumentError(crypto::StrCat(prefix, ": ", field, " at offset ", v.offset(),
                                                   " must be a ", want, ", found a ",
                                                   v.TypeName()));
}

std::string TagName(uint64_t tag) { return absl::StrFormat("%d (0x%X)", tag, tag); }

bool AllZero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

bool Equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

std::string Hex(std::span<const uint8_t> bytes) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

uint32_t ReadLe(std::span<const uint8_t> b, size_t at, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint32_t{b[at + i]} << (8 * i);
  return v;
}

}  // namespace

// ---- tagged evidence ------------------------------------------------------------------------

absl::StatusOr<TaggedEvidence> DecodeTaggedEvidence(std::span<const uint8_t> cbor) {
  constexpr std::string_view kWhere = "RA-TLS evidence (2.23.133.5.4.9)";
  auto value = crypto::CborDecode(cbor);
  if (!value.ok()) return Wrap(kWhere, value.status());
  if (!value->is_tag()) return TypeError(kWhere, "the top-level item", *value, "CBOR tag");
  const CborValue& content = value->tagged();
  if (!content.is_array() || content.items().size() != 2) {
    return absl::InvalidArgumentError(crypto::StrCat(
        kWhere, ": tag ", TagName(value->tag()), " must enclose an array of 2 byte strings ",
        "[evidence, claims]; found a ", content.TypeName(),
        content.is_array() ? crypto::StrCat(" of ", content.items().size(), " items") : "",
        " at offset ", content.offset()));
  }
  const CborValue& evidence = content.items()[0];
  const CborValue& claims = content.items()[1];
  if (!evidence.is_bytes()) return TypeError(kWhere, "evidence", evidence, "byte string");
  if (!claims.is_bytes()) return TypeError(kWhere, "claims", claims, "byte string");
  return TaggedEvidence{value->tag(), evidence.bytes(), claims.bytes()};
}

std::vector<uint8_t> EncodeTaggedEvidence(const TaggedEvidence& evidence) {
  return crypto::CborEncode(CborValue::Tag(
      evidence.tag,
      CborValue::Array({CborValue::Bytes(evidence.evidence), CborValue::Bytes(evidence.claims)})));
}

// ---- certificate ----------------------------------------------------------------------------

absl::StatusOr<RatlsCert> ParseRatlsCert(std::span<const uint8_t> der_or_pem) {
  auto cert = crypto::X509Certificate::ParseDerOrPem(der_or_pem);
  if (!cert.ok()) return cert.status();
  const crypto::X509Extension* ext = cert->FindExtension(kOidTaggedEvidence);
  if (ext == nullptr) {
    return absl::InvalidArgumentError(crypto::StrCat(
        "certificate carries no RA-TLS evidence: extension ", kOidTaggedEvidence, " is missing"));
  }
  if (ext->critical) {
    return absl::InvalidArgumentError(crypto::StrCat(
        "RA-TLS evidence extension ", kOidTaggedEvidence, " at offset ", ext->offset,
        " is marked critical; it must be non-critical (peers reject unknown critical extensions)"));
  }
  auto evidence = DecodeTaggedEvidence(ext->value);
  if (!evidence.ok()) return evidence.status();
  RatlsCert out{.cert = *std::move(cert),
                .evidence = *std::move(evidence),
                .has_endorsement_extension = false,
                .endorsement = {}};
  if (const auto* endorsement = out.cert.FindExtension(kOidEndorsementManifest)) {
    out.has_endorsement_extension = true;
    out.endorsement = endorsement->value;
  }
  return out;
}

absl::Status VerifySelfSigned(const RatlsCert& cert) {
  if (!Equal(cert.cert.issuer_der(), cert.cert.subject_der())) {
    return absl::UnauthenticatedError(
        "RA-TLS certificate is not self-signed: its issuer differs from its subject");
  }
  auto key = crypto::PublicKey::FromSpkiDer(cert.spki_der());
  if (!key.ok()) return Wrap("RA-TLS certificate key", key.status());
  return cert.cert.VerifySignature(*key);
}

// ---- TNG ------------------------------------------------------------------------------------

std::string TngPubkeyHash(std::span<const uint8_t> spki_der) {
  const auto hash_entry = crypto::CborEncode(CborValue::Array(
      {CborValue::Unsigned(crypto::IanaHashId(crypto::HashAlgorithm::kSha256)),
       CborValue::Bytes(crypto::Digest(crypto::HashAlgorithm::kSha256, spki_der))}));
  return crypto::Base64Encode(hash_entry);
}

std::string TngClaimsJson(std::span<const uint8_t> spki_der) {
  // A single member is already in RFC 8785 order; only the string escaping matters.
  std::string out = "{";
  crypto::AppendCanonicalJsonString(kPubkeyHashClaim, out);
  out += ':';
  crypto::AppendCanonicalJsonString(TngPubkeyHash(spki_der), out);
  out += '}';
  return out;
}

absl::StatusOr<TngEvidence> DecodeTngEvidence(std::span<const uint8_t> cbor) {
  constexpr std::string_view kWhere = "TNG evidence (tag 0xC0C000)";
  auto value = crypto::CborDecode(cbor);
  if (!value.ok()) return Wrap(kWhere, value.status());
  if (!value->is_map()) return TypeError(kWhere, "the evidence", *value, "map");
  auto field = [&](std::string_view name) -> absl::StatusOr<const CborValue*> {
    const CborValue* v = value->Find(name);
    if (v == nullptr) {
      return absl::InvalidArgumentError(
          crypto::StrCat(kWhere, ": field \"", name, "\" is missing"));
    }
    return v;
  };
  TngEvidence out;
  auto tee_type = field("tee_type");
  if (!tee_type.ok()) return tee_type.status();
  if (!(*tee_type)->is_text()) return TypeError(kWhere, "\"tee_type\"", **tee_type, "text string");
  out.tee_type = (*tee_type)->text();

  auto aa_evidence = field("aa_evidence");
  if (!aa_evidence.ok()) return aa_evidence.status();
  if (!(*aa_evidence)->is_bytes()) {
    return TypeError(kWhere, "\"aa_evidence\"", **aa_evidence, "byte string");
  }
  out.aa_evidence = (*aa_evidence)->bytes();

  // Optional in TNG's serde model: absent and null both mean none.
  if (const CborValue* extra = value->Find("aa_additional_evidence"); extra && !extra->is_null()) {
    if (!extra->is_bytes()) {
      return TypeError(kWhere, "\"aa_additional_evidence\"", *extra, "byte string or null");
    }
    out.aa_additional_evidence = extra->bytes();
  }

  auto runtime_data = field("aa_runtime_data");
  if (!runtime_data.ok()) return runtime_data.status();
  if (!(*runtime_data)->is_text()) {
    return TypeError(kWhere, "\"aa_runtime_data\"", **runtime_data, "text string");
  }
  out.aa_runtime_data = (*runtime_data)->text();

  auto algo = field("aa_runtime_data_hash_algo");
  if (!algo.ok()) return algo.status();
  if (!(*algo)->is_unsigned()) {
    return TypeError(kWhere, "\"aa_runtime_data_hash_algo\"", **algo, "unsigned integer");
  }
  const auto hash = crypto::HashFromIanaId((*algo)->number());
  if (!hash) {
    return absl::InvalidArgumentError(crypto::StrCat(
        kWhere, ": \"aa_runtime_data_hash_algo\" at offset ", (*algo)->offset(), " is ",
        (*algo)->number(), "; expected an IANA hash id 1 (SHA-256), 7 (SHA-384) or 8 (SHA-512)"));
  }
  out.aa_runtime_data_hash_algo = *hash;
  return out;
}

std::vector<uint8_t> EncodeTngEvidence(const TngEvidence& evidence) {
  // Field order as TNG's serde struct serialises it.
  std::vector<CborValue::Entry> entries;
  entries.emplace_back(CborValue::Text("tee_type"), CborValue::Text(evidence.tee_type));
  entries.emplace_back(CborValue::Text("aa_evidence"), CborValue::Bytes(evidence.aa_evidence));
  entries.emplace_back(CborValue::Text("aa_additional_evidence"),
                       evidence.aa_additional_evidence
                           ? CborValue::Bytes(*evidence.aa_additional_evidence)
                           : CborValue::Null());
  entries.emplace_back(CborValue::Text("aa_runtime_data"),
                       CborValue::Text(evidence.aa_runtime_data));
  entries.emplace_back(CborValue::Text("aa_runtime_data_hash_algo"),
                       CborValue::Unsigned(crypto::IanaHashId(evidence.aa_runtime_data_hash_algo)));
  return crypto::CborEncode(CborValue::Map(std::move(entries)));
}

absl::StatusOr<TngEvidenceBinding> CheckTngEvidenceBinding(const RatlsCert& cert) {
  constexpr std::string_view kWhere = "TNG evidence binding";
  if (cert.evidence.tag != kTagTngEvidence) {
    return absl::InvalidArgumentError(crypto::StrCat(kWhere, ": expected CBOR tag ",
                                                     TagName(kTagTngEvidence), ", found ",
                                                     TagName(cert.evidence.tag)));
  }
  auto evidence = DecodeTngEvidence(cert.evidence.evidence);
  if (!evidence.ok()) return evidence.status();
  const std::string& runtime_data = evidence->aa_runtime_data;
  auto canonical = crypto::CanonicalizeJson(runtime_data);
  if (!canonical.ok()) return Wrap(crypto::StrCat(kWhere, ": aa_runtime_data"), canonical.status());
  // The AA hashed these exact bytes and the AS hashes the canonical form, so they must agree.
  if (*canonical != runtime_data) {
    return absl::InvalidArgumentError(
        crypto::StrCat(kWhere, ": aa_runtime_data is not RFC 8785 canonical JSON"));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view pubkey_hash;
  if (parser.parse(runtime_data).get(root) != simdjson::SUCCESS ||
      root[kPubkeyHashClaim].get_string().get(pubkey_hash) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(crypto::StrCat(
        kWhere, ": aa_runtime_data has no string member \"", kPubkeyHashClaim, "\""));
  }
  const std::string expected = TngPubkeyHash(cert.spki_der());
  if (pubkey_hash != expected) {
    return absl::UnauthenticatedError(
        crypto::StrCat(kWhere, ": aa_runtime_data \"pubkey-hash\" is \"", pubkey_hash,
                       "\" but the certificate's key gives \"", expected, "\""));
  }
  TngEvidenceBinding out;
  out.runtime_data_hash = crypto::Digest(evidence->aa_runtime_data_hash_algo, runtime_data);
  out.evidence = *std::move(evidence);
  return out;
}

// ---- Interoperable RA-TLS -------------------------------------------------------------------

absl::StatusOr<InteropClaims> DecodeInteropClaims(std::span<const uint8_t> claims_buffer) {
  constexpr std::string_view kWhere = "RA-TLS claims";
  auto value = crypto::CborDecode(claims_buffer);
  if (!value.ok()) return Wrap(kWhere, value.status());
  if (!value->is_map()) return TypeError(kWhere, "the claims buffer", *value, "map");
  const CborValue* hash_value = value->Find(kPubkeyHashClaim);
  if (hash_value == nullptr) {
    return absl::InvalidArgumentError(crypto::StrCat(kWhere, ": \"pubkey-hash\" is missing"));
  }
  if (!hash_value->is_bytes())
    return TypeError(kWhere, "\"pubkey-hash\"", *hash_value, "byte string");
  auto entry = crypto::CborDecode(hash_value->bytes());
  if (!entry.ok()) return Wrap(crypto::StrCat(kWhere, ": \"pubkey-hash\" content"), entry.status());
  if (!entry->is_array() || entry->items().size() != 2 || !entry->items()[0].is_unsigned() ||
      !entry->items()[1].is_bytes()) {
    return absl::InvalidArgumentError(
        crypto::StrCat(kWhere, ": \"pubkey-hash\" must hold [hash-alg-id, hash bytes], found ",
                       crypto::CborDiagnostic(*entry)));
  }
  InteropClaims out;
  const auto alg = crypto::HashFromIanaId(entry->items()[0].number());
  if (!alg) {
    return absl::InvalidArgumentError(crypto::StrCat(kWhere, ": unsupported pubkey-hash algorithm ",
                                                     entry->items()[0].number(),
                                                     " (expected 1, 7 or 8)"));
  }
  out.pubkey_hash_algorithm = *alg;
  out.pubkey_hash = entry->items()[1].bytes();
  if (out.pubkey_hash.size() != crypto::DigestSize(*alg)) {
    return absl::InvalidArgumentError(
        crypto::StrCat(kWhere, ": pubkey-hash of ", out.pubkey_hash.size(), " bytes does not suit ",
                       crypto::HashName(*alg), " (", crypto::DigestSize(*alg), " bytes)"));
  }
  if (const CborValue* nonce = value->Find("nonce")) {
    if (!nonce->is_bytes()) return TypeError(kWhere, "\"nonce\"", *nonce, "byte string");
    out.nonce = nonce->bytes();
  }
  return out;
}

absl::StatusOr<QuoteReportData> FindQuoteReportData(std::span<const uint8_t> quote) {
  if (quote.size() < kQuoteHeaderSize) {
    return absl::InvalidArgumentError(crypto::StrCat("quote of ", quote.size(),
                                                     " bytes is shorter than its ",
                                                     kQuoteHeaderSize, "-byte header"));
  }
  const uint32_t version = ReadLe(quote, 0, 2);
  const uint32_t tee_type = ReadLe(quote, 4, 4);  // reserved (zero) in v3
  size_t offset = 0;
  bool tdx = false;
  if (version == 3 || (version == 4 && tee_type == 0)) {
    offset = 368;  // header 48 + SGX report body offset 320
  } else if (version == 4 && tee_type == 0x81) {
    offset = 568, tdx = true;  // header 48 + TD report body offset 520
  } else if (version == 5 && quote.size() >= kQuoteHeaderSize + 6) {
    const uint32_t body_type = ReadLe(quote, kQuoteHeaderSize, 2);
    if (body_type == 2 || body_type == 3) {
      offset = 574, tdx = true;  // + 6-byte body descriptor
    } else if (body_type == 1) {
      offset = 374;
    } else {
      return absl::InvalidArgumentError(
          crypto::StrCat("quote v5 has an unknown body type ", body_type));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrFormat("unsupported quote version %d with TEE type 0x%x", version, tee_type));
  }
  if (quote.size() < offset + kReportDataSize) {
    return absl::InvalidArgumentError(crypto::StrCat("truncated quote v", version, ": ",
                                                     quote.size(), " bytes, report data ends at ",
                                                     offset + kReportDataSize));
  }
  return QuoteReportData{quote.subspan(offset, kReportDataSize), tdx};
}

absl::Status CheckInteropBinding(const RatlsCert& cert) {
  constexpr std::string_view kWhere = "Interoperable RA-TLS binding";
  if (cert.evidence.tag != kTagIntelTeeQuote) {
    return absl::InvalidArgumentError(crypto::StrCat(kWhere, ": expected CBOR tag ",
                                                     TagName(kTagIntelTeeQuote), ", found ",
                                                     TagName(cert.evidence.tag)));
  }
  auto claims = DecodeInteropClaims(cert.evidence.claims);
  if (!claims.ok()) return claims.status();
  const auto key_hash = crypto::Digest(claims->pubkey_hash_algorithm, cert.spki_der());
  if (key_hash != claims->pubkey_hash) {
    return absl::UnauthenticatedError(
        crypto::StrCat(kWhere, ": pubkey-hash ", Hex(claims->pubkey_hash), " is not the ",
                       crypto::HashName(claims->pubkey_hash_algorithm),
                       " of the certificate's SPKI (", Hex(key_hash), ")"));
  }
  auto report = FindQuoteReportData(cert.evidence.evidence);
  if (!report.ok()) return Wrap(kWhere, report.status());
  const auto rd = report->report_data;
  const auto sha256 = crypto::Digest(crypto::HashAlgorithm::kSha256, cert.evidence.claims);
  if (Equal(rd.first(32), sha256) && AllZero(rd.subspan(32))) return absl::OkStatus();
  if (report->tdx) {
    const auto sha384 = crypto::Digest(crypto::HashAlgorithm::kSha384, cert.evidence.claims);
    if (Equal(rd.first(48), sha384) && AllZero(rd.subspan(48))) return absl::OkStatus();
  }
  return absl::UnauthenticatedError(crypto::StrCat(
      kWhere, ": quote report data ", Hex(rd), " is not SHA-256(claims) ", Hex(sha256),
      " followed by zeros", report->tdx ? " (nor SHA-384(claims) followed by zeros)" : ""));
}

// ---- builder --------------------------------------------------------------------------------

namespace {

std::vector<uint8_t> Extension(std::span<const uint8_t> oid, bool critical,
                               std::span<const uint8_t> value) {
  if (critical) {
    return crypto::DerSequence(
        {crypto::DerOid(oid), crypto::DerBoolean(true), crypto::DerOctetString(value)});
  }
  return crypto::DerSequence({crypto::DerOid(oid), crypto::DerOctetString(value)});
}

std::vector<uint8_t> Name(std::string_view organization, std::string_view common_name) {
  auto rdn = [](std::span<const uint8_t> oid, std::string_view text) {
    return crypto::DerConstructed(
        crypto::der::kSet,
        {crypto::DerSequence({crypto::DerOid(oid), crypto::DerUtf8String(text)})});
  };
  // Most significant first: "CN=TNG,O=Inclavare Containers" in RFC 4514 order.
  return crypto::DerSequence(
      {rdn(kOidOrganization, organization), rdn(kOidCommonName, common_name)});
}

absl::StatusOr<std::span<const uint8_t>> PublicKeyBits(std::span<const uint8_t> spki) {
  crypto::DerReader top(spki);
  auto seq = top.Expect(crypto::der::kSequence, "SubjectPublicKeyInfo");
  if (!seq.ok()) return seq.status();
  crypto::DerReader fields = crypto::DerReader::Contents(*seq);
  if (auto alg = fields.Expect(crypto::der::kSequence, "algorithm"); !alg.ok()) {
    return alg.status();
  }
  auto bits = fields.Expect(crypto::der::kBitString, "subjectPublicKey");
  if (!bits.ok()) return bits.status();
  return crypto::DerBitStringBytes(*bits, "subjectPublicKey");
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> BuildRatlsCert(crypto::EcPrivateKey& key,
                                                    const TaggedEvidence& evidence,
                                                    const RatlsCertOptions& options) {
  const std::vector<uint8_t> tagged = EncodeTaggedEvidence(evidence);
  if (tagged.size() > kMaxTaggedEvidenceSize) {
    return absl::InvalidArgumentError(
        crypto::StrCat("RA-TLS evidence of ", tagged.size(), " CBOR bytes exceeds the ",
                       kMaxTaggedEvidenceSize, "-byte limit of TNG peers"));
  }
  crypto::HashAlgorithm hash;
  std::span<const uint8_t> sig_oid;
  switch (key.curve()) {
    case crypto::EcCurve::kP256:
      hash = crypto::HashAlgorithm::kSha256;
      sig_oid = kOidEcdsaSha256;
      break;
    case crypto::EcCurve::kP384:
      hash = crypto::HashAlgorithm::kSha384;
      sig_oid = kOidEcdsaSha384;
      break;
    default:
      hash = crypto::HashAlgorithm::kSha512;
      sig_oid = kOidEcdsaSha512;
      break;
  }
  const std::vector<uint8_t>& spki = key.public_spki_der();
  auto key_bits = PublicKeyBits(spki);
  if (!key_bits.ok()) return key_bits.status();
  const auto key_id = crypto::Sha1ForKeyId(*key_bits);

  std::vector<uint8_t> serial = options.serial;
  if (serial.empty()) {
    // Unique per key and evidence without needing a random source: the key is fresh each time.
    std::vector<uint8_t> seed(spki.begin(), spki.end());
    seed.insert(seed.end(), tagged.begin(), tagged.end());
    serial = crypto::Digest(crypto::HashAlgorithm::kSha256, seed);
    serial.resize(16);
    serial[0] = (serial[0] & 0x7f) | 0x40;  // positive, and exactly 16 bytes long
  }

  const auto algorithm = crypto::DerSequence({crypto::DerOid(sig_oid)});
  const auto name = Name(options.organization, options.common_name);
  const auto validity =
      crypto::DerSequence({crypto::DerTime(options.not_before_unix),
                           crypto::DerTime(options.not_before_unix + options.validity_seconds)});
  // digitalSignature, nonRepudiation, keyEncipherment, keyAgreement (bits 0, 1, 2, 4): the
  // usages TNG's x509-cert leaf profile sets. Three unused bits.
  const std::vector<uint8_t> key_usage = {crypto::der::kBitString, 0x02, 0x03, 0xe8};
  const auto aki = crypto::DerSequence({crypto::DerTlv(crypto::der::ContextPrimitive(0), key_id)});
  const auto extensions = crypto::DerSequence({
      Extension(kOidSubjectKeyId, false, crypto::DerOctetString(key_id)),
      Extension(kOidAuthorityKeyId, false, aki),
      Extension(kOidBasicConstraints, true, crypto::DerSequence({})),
      Extension(kOidKeyUsage, true, key_usage),
      Extension(kOidTaggedEvidenceDer, false, tagged),
      Extension(kOidEndorsementDer, false, {}),
  });
  const auto version =
      crypto::DerConstructed(crypto::der::ContextConstructed(0), {crypto::DerSmallInteger(2)});
  const auto tbs = crypto::DerSequence(
      {version, crypto::DerUnsignedIntegerTlv(serial), algorithm, name, validity, name, spki,
       crypto::DerConstructed(crypto::der::ContextConstructed(3), {extensions})});
  auto signature = key.Sign(hash, tbs, crypto::EcdsaEncoding::kDer);
  if (!signature.ok()) return Wrap("signing the RA-TLS certificate", signature.status());
  return crypto::DerSequence({tbs, algorithm, crypto::DerBitString(*signature)});
}

}  // namespace tng::attestation
