#include "attestation/ratls_cert.h"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "crypto/base64.h"
#include "crypto/canonical_json.h"
#include "crypto/cbor.h"
#include "crypto/der.h"
#include "tests/unit/attestation/rats_tls_cert_pem.h"

namespace tng::attestation {
namespace {

using crypto::CborValue;
using ::testing::HasSubstr;

std::vector<uint8_t> FromHex(std::string_view hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string ToHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::vector<uint8_t> Bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::string SharedDir() {
  const char* env = std::getenv("TNG_SHARED_DIR");
  return env != nullptr && *env != '\0' ? env : TNG_SHARED_DIR_DEFAULT;
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

RatlsCert RatsTlsCert() {
  auto cert = ParseRatlsCert(Bytes(test_vectors::kRatsTlsCertPem));
  EXPECT_TRUE(cert.ok()) << cert.status();
  return *std::move(cert);
}

crypto::EcPrivateKey NewKey(crypto::EcCurve curve = crypto::EcCurve::kP256) {
  auto key = crypto::EcPrivateKey::Generate(curve);
  EXPECT_TRUE(key.ok()) << key.status();
  return *std::move(key);
}

// The evidence TNG's CoCo attester produces with the AA's sample TEE, for `key`.
TaggedEvidence SampleTngEvidence(const crypto::EcPrivateKey& key) {
  TngEvidence ev;
  ev.tee_type = "sample";
  const std::string claims = TngClaimsJson(key.public_spki_der());
  const auto runtime_data = crypto::Digest(crypto::HashAlgorithm::kSha384, claims);
  ev.aa_evidence =
      Bytes(R"({"svn":"1","report_data":")" + crypto::Base64Encode(runtime_data) + "\"}");
  ev.aa_runtime_data = claims;
  ev.aa_runtime_data_hash_algo = crypto::HashAlgorithm::kSha384;
  return TaggedEvidence{kTagTngEvidence, EncodeTngEvidence(ev), {}};
}

RatlsCertOptions Options() {
  RatlsCertOptions options;
  options.not_before_unix = 1767225600;  // 2026-01-01T00:00:00Z
  return options;
}

// A self-signed certificate with arbitrary extensions, for shapes BuildRatlsCert never makes.
std::vector<uint8_t> CertWithExtensions(crypto::EcPrivateKey& key,
                                        const std::vector<std::vector<uint8_t>>& extensions) {
  std::vector<uint8_t> ext_list;
  for (const auto& e : extensions) ext_list.insert(ext_list.end(), e.begin(), e.end());
  const auto alg =
      crypto::DerSequence({crypto::DerOid(*crypto::OidFromString("1.2.840.10045.4.3.2"))});
  const auto name = crypto::DerSequence({crypto::DerConstructed(
      crypto::der::kSet, {crypto::DerSequence({crypto::DerOid(*crypto::OidFromString("2.5.4.3")),
                                               crypto::DerUtf8String("test")})})});
  const auto validity = crypto::DerSequence({crypto::DerTime(0), crypto::DerTime(86400)});
  const auto tbs = crypto::DerSequence(
      {crypto::DerConstructed(crypto::der::ContextConstructed(0), {crypto::DerSmallInteger(2)}),
       crypto::DerSmallInteger(1), alg, name, validity, name, key.public_spki_der(),
       crypto::DerConstructed(crypto::der::ContextConstructed(3),
                              {crypto::DerTlv(crypto::der::kSequence, ext_list)})});
  auto sig = key.Sign(crypto::HashAlgorithm::kSha256, tbs);
  EXPECT_TRUE(sig.ok());
  return crypto::DerSequence({tbs, alg, crypto::DerBitString(*sig)});
}

std::vector<uint8_t> EvidenceExtension(std::span<const uint8_t> value,
                                       std::optional<bool> critical) {
  const auto oid = crypto::DerOid(*crypto::OidFromString(kOidTaggedEvidence));
  if (!critical) return crypto::DerSequence({oid, crypto::DerOctetString(value)});
  return crypto::DerSequence({oid, crypto::DerBoolean(*critical), crypto::DerOctetString(value)});
}

// ---- Interoperable RA-TLS: real certificates from other implementations --------------------

TEST(RatlsCertTest, TypedInRatsTlsCertificate) {
  const RatlsCert cert = RatsTlsCert();
  EXPECT_EQ(cert.evidence.tag, kTagIntelTeeQuote);
  EXPECT_EQ(cert.evidence.evidence.size(), test_vectors::kRatsTlsQuoteSize);
  EXPECT_EQ(ToHex(cert.evidence.claims), test_vectors::kRatsTlsClaimsHex);
  EXPECT_EQ(ToHex(crypto::Digest(crypto::HashAlgorithm::kSha256, cert.spki_der())),
            test_vectors::kRatsTlsSpkiSha256);
  EXPECT_FALSE(cert.has_endorsement_extension);
  EXPECT_TRUE(VerifySelfSigned(cert).ok()) << VerifySelfSigned(cert);
  EXPECT_TRUE(CheckInteropBinding(cert).ok()) << CheckInteropBinding(cert);

  auto claims = DecodeInteropClaims(cert.evidence.claims);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->pubkey_hash_algorithm, crypto::HashAlgorithm::kSha256);
  EXPECT_EQ(ToHex(claims->pubkey_hash), test_vectors::kRatsTlsSpkiSha256);
  EXPECT_FALSE(claims->nonce.has_value());
  auto report = FindQuoteReportData(cert.evidence.evidence);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->tdx);
  EXPECT_EQ(
      ToHex(report->report_data),
      "3ef61b935603341747b96c602397da1c4761afe4eeed2cdc08cbf5f4ff61c533" + std::string(64, '0'));

  // The same certificate as DER parses the same.
  auto der = ParseRatlsCert(cert.cert.der());
  ASSERT_TRUE(der.ok()) << der.status();
  EXPECT_EQ(der->evidence.evidence, cert.evidence.evidence);
}

TEST(RatlsCertTest, SampleCertificatesFromSharedVectors) {
  const std::string dir = SharedDir() + "/vectors/ratls";
  const std::string json_path = dir + "/ratls_sample_certs.json";
  if (!std::filesystem::exists(json_path)) {
    std::printf(
        "[ INFO     ] %s not found: checked 0 shared sample certificates (the typed-in "
        "rats-tls certificate is checked by TypedInRatsTlsCertificate)\n",
        json_path.c_str());
    return;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.load(json_path).get(root), simdjson::SUCCESS);
  int checked = 0;
  simdjson::dom::array certificates;
  ASSERT_EQ(root["certificates"].get_array().get(certificates), simdjson::SUCCESS);
  for (simdjson::dom::element c : certificates) {
    const std::string file(c["file"].get_string().value());
    SCOPED_TRACE(file);
    const simdjson::dom::element ev = c["tcg_dice_evidence"].value();
    auto cert = ParseRatlsCert(ReadFile(SharedDir() + "/vectors/" + file));
    ASSERT_TRUE(cert.ok()) << cert.status();
    EXPECT_EQ(cert->evidence.tag, ev["cbor_tag"].get_uint64().value());
    EXPECT_EQ(cert->evidence.evidence.size(), ev["quote_len"].get_uint64().value());
    EXPECT_EQ(ToHex(cert->evidence.claims), ev["claims_buffer_hex"].get_string().value());
    EXPECT_EQ(ToHex(crypto::Digest(crypto::HashAlgorithm::kSha256, cert->spki_der())),
              c["spki_der_sha256"].get_string().value());
    EXPECT_EQ(ToHex(crypto::Digest(crypto::HashAlgorithm::kSha256, cert->cert.der())),
              c["cert_sha256"].get_string().value());
    auto report = FindQuoteReportData(cert->evidence.evidence);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(ToHex(report->report_data), ev["quote_report_data_hex"].get_string().value());
    EXPECT_TRUE(VerifySelfSigned(*cert).ok()) << VerifySelfSigned(*cert);
    EXPECT_TRUE(CheckInteropBinding(*cert).ok()) << CheckInteropBinding(*cert);
    EXPECT_FALSE(cert->has_endorsement_extension);
    // rats-tls wrote the same CBOR hash entry TNG base64-encodes into its claims JSON.
    EXPECT_EQ(TngPubkeyHash(cert->spki_der()),
              crypto::Base64Encode(FromHex(ev["pubkey_hash_value_hex"].get_string().value())));
    ++checked;
  }
  std::printf("[ INFO     ] checked %d shared sample certificates from %s\n", checked, dir.c_str());
  EXPECT_EQ(checked, 3);
}

TEST(RatlsCertTest, InteropBindingRejectsTampering) {
  const RatlsCert original = RatsTlsCert();

  RatlsCert flipped = original;
  flipped.evidence.claims.back() ^= 1;  // inside key_1's value: pubkey-hash still matches
  const absl::Status s1 = CheckInteropBinding(flipped);
  EXPECT_EQ(s1.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s1.message(), HasSubstr("quote report data 3ef61b93"));
  EXPECT_THAT(s1.message(), HasSubstr("is not SHA-256(claims)"));

  // Another certificate's key with this evidence: the pubkey-hash no longer matches.
  auto key = NewKey();
  auto other = ParseRatlsCert(*BuildRatlsCert(key, SampleTngEvidence(key), Options()));
  ASSERT_TRUE(other.ok()) << other.status();
  RatlsCert swapped = original;
  swapped.cert = other->cert;
  const absl::Status s2 = CheckInteropBinding(swapped);
  EXPECT_EQ(s2.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s2.message(), HasSubstr("pubkey-hash 72c0b70c"));
  EXPECT_THAT(s2.message(), HasSubstr("is not the sha256 of the certificate's SPKI"));

  RatlsCert report_tag = original;
  report_tag.evidence.tag = 60001;
  EXPECT_THAT(CheckInteropBinding(report_tag).message(),
              HasSubstr("expected CBOR tag 60000 (0xEA60), found 60001 (0xEA61)"));

  RatlsCert short_quote = original;
  short_quote.evidence.evidence.resize(400);
  EXPECT_THAT(CheckInteropBinding(short_quote).message(),
              HasSubstr("truncated quote v3: 400 bytes, report data ends at 432"));

  // A forged self-signature fails.
  RatlsCert forged = original;
  auto der = forged.cert.der();
  der[der.size() - 5] ^= 1;
  forged.cert = *crypto::X509Certificate::ParseDer(der);
  EXPECT_EQ(VerifySelfSigned(forged).code(), absl::StatusCode::kUnauthenticated);
}

TEST(RatlsCertTest, SyntheticQuotesBindClaimsForSgxAndTdx) {
  auto key = NewKey();
  const auto claims = crypto::CborEncode(CborValue::Map(
      {{CborValue::Text("pubkey-hash"),
        CborValue::Bytes(crypto::CborEncode(CborValue::Array(
            {CborValue::Unsigned(7), CborValue::Bytes(crypto::Digest(crypto::HashAlgorithm::kSha384,
                                                                     key.public_spki_der()))})))},
       {CborValue::Text("nonce"), CborValue::Bytes(Bytes("n0"))}}));
  struct Case {
    uint16_t version;
    uint32_t tee_type;
    size_t offset;
    crypto::HashAlgorithm hash;
  };
  for (const Case& c : {Case{3, 0, 368, crypto::HashAlgorithm::kSha256},
                        Case{4, 0, 368, crypto::HashAlgorithm::kSha256},
                        Case{4, 0x81, 568, crypto::HashAlgorithm::kSha256},
                        Case{4, 0x81, 568, crypto::HashAlgorithm::kSha384}}) {
    SCOPED_TRACE(::testing::Message() << "v" << c.version << " tee " << c.tee_type);
    std::vector<uint8_t> quote(1200, 0xaa);
    quote[0] = static_cast<uint8_t>(c.version);
    quote[1] = 0;
    for (int i = 0; i < 4; ++i) quote[4 + i] = static_cast<uint8_t>(c.tee_type >> (8 * i));
    const auto h = crypto::Digest(c.hash, claims);
    std::fill(quote.begin() + c.offset, quote.begin() + c.offset + 64, 0);
    std::copy(h.begin(), h.end(), quote.begin() + c.offset);
    auto der = BuildRatlsCert(key, TaggedEvidence{kTagIntelTeeQuote, quote, claims}, Options());
    ASSERT_TRUE(der.ok()) << der.status();
    auto cert = ParseRatlsCert(*der);
    ASSERT_TRUE(cert.ok()) << cert.status();
    auto decoded = DecodeInteropClaims(cert->evidence.claims);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->pubkey_hash_algorithm, crypto::HashAlgorithm::kSha384);
    EXPECT_EQ(decoded->nonce, Bytes("n0"));
    EXPECT_TRUE(CheckInteropBinding(*cert).ok()) << CheckInteropBinding(*cert);
    // Report data bytes after the hash must be zero (rats-rs checks all 64 bytes).
    RatlsCert padded = *cert;
    padded.evidence.evidence[c.offset + 63] = 1;
    EXPECT_EQ(CheckInteropBinding(padded).code(), absl::StatusCode::kUnauthenticated);
  }
  // SGX quotes never accept the SHA-384 form.
  std::vector<uint8_t> quote(1200, 0);
  quote[0] = 3;
  const auto h384 = crypto::Digest(crypto::HashAlgorithm::kSha384, claims);
  std::copy(h384.begin(), h384.end(), quote.begin() + 368);
  auto cert = ParseRatlsCert(*BuildRatlsCert(key, {kTagIntelTeeQuote, quote, claims}, Options()));
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(CheckInteropBinding(*cert).code(), absl::StatusCode::kUnauthenticated);
}

TEST(RatlsCertTest, QuoteAndClaimsErrors) {
  EXPECT_EQ(FindQuoteReportData(std::vector<uint8_t>(10)).status().message(),
            "quote of 10 bytes is shorter than its 48-byte header");
  std::vector<uint8_t> v9(700, 0);
  v9[0] = 9;
  EXPECT_EQ(FindQuoteReportData(v9).status().message(),
            "unsupported quote version 9 with TEE type 0x0");
  std::vector<uint8_t> v5(700, 0);
  v5[0] = 5;
  v5[4] = 0x81;
  v5[48] = 2;
  auto tdx5 = FindQuoteReportData(v5);
  ASSERT_TRUE(tdx5.ok()) << tdx5.status();
  EXPECT_TRUE(tdx5->tdx);
  EXPECT_EQ(tdx5->report_data.data(), v5.data() + 574);
  v5[48] = 9;
  EXPECT_THAT(FindQuoteReportData(v5).status().message(), HasSubstr("unknown body type 9"));

  EXPECT_THAT(DecodeInteropClaims(FromHex("a0")).status().message(),
              HasSubstr("\"pubkey-hash\" is missing"));
  EXPECT_THAT(DecodeInteropClaims(FromHex("a16b7075626b65792d6861736801")).status().message(),
              HasSubstr("\"pubkey-hash\" at offset 13 must be a byte string, found a unsigned"));
  // [9, h'00'] : unknown hash id; [1, h'00'] : wrong length.
  EXPECT_THAT(
      DecodeInteropClaims(FromHex("a16b7075626b65792d686173684482094100")).status().message(),
      HasSubstr("unsupported pubkey-hash algorithm 9"));
  EXPECT_THAT(
      DecodeInteropClaims(FromHex("a16b7075626b65792d686173684482014100")).status().message(),
      HasSubstr("pubkey-hash of 1 bytes does not suit sha256 (32 bytes)"));
}

// ---- TNG format ---------------------------------------------------------------------------

TEST(RatlsCertTest, TngClaimsJsonMatchesIndependentComputation) {
  // Expected values computed with Python (base64, hashlib) from the rats-tls certificate's
  // CBOR hash entry, which rats-tls itself wrote.
  const RatlsCert cert = RatsTlsCert();
  EXPECT_EQ(TngPubkeyHash(cert.spki_der()), "ggFYIHLAtwwgknQaTP2gwkZUh/rxMpmGF7Cq1TEYql1uGAAG");
  const std::string claims = TngClaimsJson(cert.spki_der());
  EXPECT_EQ(claims, R"({"pubkey-hash":"ggFYIHLAtwwgknQaTP2gwkZUh/rxMpmGF7Cq1TEYql1uGAAG"})");
  EXPECT_EQ(*crypto::CanonicalizeJson(claims), claims);
  EXPECT_EQ(ToHex(crypto::Digest(crypto::HashAlgorithm::kSha384, claims)),
            "d1d80b8966611cede2685648e3459000c1a5dbb70a5c3954bb48fe4da99f5aecd3052a8e03804d36708165"
            "1607a6bb47");
}

TEST(RatlsCertTest, DecodesTngEvidenceMapFromIndependentEncoder) {
  // Encoded by a few lines of Python (not our encoder), in TNG's serde field order.
  const auto cbor = FromHex(
      "a5687465655f747970656673616d706c656b61615f65766964656e6365585c7b2273766e223a2231222c227265"
      "706f72745f64617461223a223064674c69575a68484f336961465a4934305751414d476c3237634b58446c5575"
      "306a2b54616d6657757a544253714f4134424e4e6e43425a52594870727448227d7661615f6164646974696f6e"
      "616c5f65766964656e6365f66f61615f72756e74696d655f6461746178427b227075626b65792d68617368223a"
      "226767465949484c41747777676b6e516154503267776b5a55682f72784d706d474637437131544559716c3175"
      "47414147227d781961615f72756e74696d655f646174615f686173685f616c676f07");
  auto ev = DecodeTngEvidence(cbor);
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->tee_type, "sample");
  EXPECT_EQ(ev->aa_runtime_data,
            R"({"pubkey-hash":"ggFYIHLAtwwgknQaTP2gwkZUh/rxMpmGF7Cq1TEYql1uGAAG"})");
  EXPECT_EQ(ev->aa_runtime_data_hash_algo, crypto::HashAlgorithm::kSha384);
  EXPECT_FALSE(ev->aa_additional_evidence.has_value());
  EXPECT_EQ(std::string(ev->aa_evidence.begin(), ev->aa_evidence.end()),
            R"({"svn":"1","report_data":")"
            "0dgLiWZhHO3iaFZI40WQAMGl27cKXDlUu0j+TamfWuzTBSqOA4BNNnCBZRYHprtH\"}");
  // Our encoder produces the same bytes.
  EXPECT_EQ(EncodeTngEvidence(*ev), cbor);
}

TEST(RatlsCertTest, TngEvidenceErrors) {
  TngEvidence ev;
  ev.tee_type = "tdx";
  ev.aa_evidence = Bytes("q");
  ev.aa_additional_evidence = Bytes("gpu");
  ev.aa_runtime_data = "{}";
  const auto good = EncodeTngEvidence(ev);
  auto back = DecodeTngEvidence(good);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->aa_additional_evidence, Bytes("gpu"));

  auto with = [&](std::string_view key, CborValue value) {
    auto map = *crypto::CborDecode(good);
    std::vector<CborValue::Entry> entries;
    for (const auto& [k, v] : map.entries()) {
      if (k.text() == key) {
        if (!value.is_null() || key == "aa_additional_evidence") entries.emplace_back(k, value);
      } else {
        entries.emplace_back(k, v);
      }
    }
    auto r = DecodeTngEvidence(crypto::CborEncode(CborValue::Map(entries)));
    EXPECT_FALSE(r.ok());
    return std::string(r.status().message());
  };
  EXPECT_EQ(with("tee_type", CborValue::Null()),
            "TNG evidence (tag 0xC0C000): field \"tee_type\" is missing");
  EXPECT_THAT(with("aa_evidence", CborValue::Text("q")),
              HasSubstr("\"aa_evidence\" at offset 26 must be a byte string, found a text string"));
  EXPECT_THAT(with("aa_additional_evidence", CborValue::Unsigned(1)),
              HasSubstr("must be a byte string or null"));
  EXPECT_THAT(with("aa_runtime_data_hash_algo", CborValue::Unsigned(2)),
              HasSubstr("is 2; expected an IANA hash id 1 (SHA-256), 7 (SHA-384) or 8 (SHA-512)"));
  EXPECT_THAT(DecodeTngEvidence(FromHex("80")).status().message(),
              HasSubstr("the evidence at offset 0 must be a map, found a array"));
  EXPECT_THAT(DecodeTngEvidence(FromHex("bf")).status().message(),
              HasSubstr("indefinite-length map at offset 0"));
}

TEST(RatlsCertTest, BuildsTngCertificateThatParsesAndBinds) {
  auto key = NewKey();
  const TaggedEvidence evidence = SampleTngEvidence(key);
  auto der = BuildRatlsCert(key, evidence, Options());
  ASSERT_TRUE(der.ok()) << der.status();
  auto cert = ParseRatlsCert(*der);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->evidence.tag, kTagTngEvidence);
  EXPECT_EQ(cert->evidence.evidence, evidence.evidence);
  EXPECT_TRUE(cert->evidence.claims.empty());
  EXPECT_TRUE(cert->has_endorsement_extension);
  EXPECT_TRUE(cert->endorsement.empty());
  EXPECT_EQ(cert->cert.version(), 3);
  EXPECT_EQ(cert->cert.not_before(), 1767225600);
  EXPECT_EQ(cert->cert.not_after(), 1767225600 + 6 * 3600);
  EXPECT_EQ(cert->cert.signature_algorithm_oid(), "1.2.840.10045.4.3.2");
  EXPECT_EQ(std::vector<uint8_t>(cert->spki_der().begin(), cert->spki_der().end()),
            key.public_spki_der());
  EXPECT_EQ(cert->cert.serial().size(), 16u);
  EXPECT_FALSE(cert->cert.FindExtension(kOidTaggedEvidence)->critical);
  EXPECT_TRUE(cert->cert.FindExtension("2.5.29.15")->critical);  // keyUsage
  EXPECT_TRUE(cert->cert.FindExtension("2.5.29.19")->critical);  // basicConstraints
  EXPECT_TRUE(VerifySelfSigned(*cert).ok()) << VerifySelfSigned(*cert);

  auto binding = CheckTngEvidenceBinding(*cert);
  ASSERT_TRUE(binding.ok()) << binding.status();
  EXPECT_EQ(binding->evidence.tee_type, "sample");
  EXPECT_EQ(binding->runtime_data_hash,
            crypto::Digest(crypto::HashAlgorithm::kSha384, TngClaimsJson(key.public_spki_der())));
  EXPECT_THAT(CheckInteropBinding(*cert).message(), HasSubstr("expected CBOR tag 60000"));

  // The signed part is deterministic for the same inputs (the ECDSA signature is not).
  auto again = crypto::X509Certificate::ParseDer(*BuildRatlsCert(key, evidence, Options()));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(std::ranges::equal(again->tbs_der(), cert->cert.tbs_der()));
  EXPECT_FALSE(std::ranges::equal(again->signature(), cert->cert.signature()));
  // A P-384 key signs with ECDSA-SHA384.
  auto key384 = NewKey(crypto::EcCurve::kP384);
  auto cert384 = ParseRatlsCert(*BuildRatlsCert(key384, evidence, Options()));
  ASSERT_TRUE(cert384.ok()) << cert384.status();
  EXPECT_EQ(cert384->cert.signature_algorithm_oid(), "1.2.840.10045.4.3.3");
  EXPECT_TRUE(VerifySelfSigned(*cert384).ok()) << VerifySelfSigned(*cert384);
}

TEST(RatlsCertTest, TngBindingRejectsForeignKeyAndNonCanonicalRuntimeData) {
  auto key = NewKey();
  auto other = NewKey();
  // Evidence made for another key, presented in a certificate for this one.
  auto stolen = ParseRatlsCert(*BuildRatlsCert(key, SampleTngEvidence(other), Options()));
  ASSERT_TRUE(stolen.ok());
  const auto s = CheckTngEvidenceBinding(*stolen).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("aa_runtime_data \"pubkey-hash\" is \"" +
                                     TngPubkeyHash(other.public_spki_der()) +
                                     "\" but the certificate's key gives \"" +
                                     TngPubkeyHash(key.public_spki_der()) + "\""));

  auto variant = [&](std::string runtime_data) {
    auto ev = *DecodeTngEvidence(SampleTngEvidence(key).evidence);
    ev.aa_runtime_data = std::move(runtime_data);
    auto cert = ParseRatlsCert(*BuildRatlsCert(
        key, TaggedEvidence{kTagTngEvidence, EncodeTngEvidence(ev), {}}, Options()));
    EXPECT_TRUE(cert.ok());
    return CheckTngEvidenceBinding(*cert).status();
  };
  const std::string hash = TngPubkeyHash(key.public_spki_der());
  EXPECT_TRUE(variant(R"({"extra":1,"pubkey-hash":")" + hash + "\"}").ok());
  EXPECT_THAT(variant(R"({ "pubkey-hash": ")" + hash + "\"}").message(),
              HasSubstr("aa_runtime_data is not RFC 8785 canonical JSON"));
  EXPECT_THAT(variant(R"({"nonce":"x"})").message(),
              HasSubstr("aa_runtime_data has no string member \"pubkey-hash\""));
  EXPECT_THAT(variant("not json").message(), HasSubstr("aa_runtime_data: invalid JSON"));

  // The passport form carries a token, not the evidence map.
  auto token = ParseRatlsCert(*BuildRatlsCert(
      key, TaggedEvidence{kTagTngToken, Bytes("eyJhbGciOiJFUzI1NiJ9.e30.sig"), {}}, Options()));
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->evidence.tag, kTagTngToken);
  EXPECT_THAT(CheckTngEvidenceBinding(*token).status().message(),
              HasSubstr("expected CBOR tag 12632064 (0xC0C000), found 12632065 (0xC0C001)"));
}

TEST(RatlsCertTest, RejectsMalformedEvidenceExtensions) {
  auto key = NewKey();
  const auto tagged = EncodeTaggedEvidence(SampleTngEvidence(key));
  auto parse = [&](const std::vector<std::vector<uint8_t>>& exts) {
    return ParseRatlsCert(CertWithExtensions(key, exts));
  };
  // Explicit critical=FALSE is accepted (Gramine's verifier does too); critical=TRUE is not.
  EXPECT_TRUE(parse({EvidenceExtension(tagged, false)}).ok());
  EXPECT_THAT(parse({EvidenceExtension(tagged, true)}).status().message(),
              HasSubstr("is marked critical; it must be non-critical"));
  EXPECT_THAT(
      parse({}).status().message(),
      HasSubstr("certificate carries no RA-TLS evidence: extension 2.23.133.5.4.9 is missing"));
  EXPECT_THAT(
      parse({EvidenceExtension(tagged, std::nullopt), EvidenceExtension(tagged, std::nullopt)})
          .status()
          .message(),
      HasSubstr("duplicate extension 2.23.133.5.4.9"));
  // Indefinite-length array inside the tag.
  EXPECT_THAT(
      parse({EvidenceExtension(FromHex("d9ea609f41014102ff"), std::nullopt)}).status().message(),
      HasSubstr("RA-TLS evidence (2.23.133.5.4.9): indefinite-length array at offset 3"));
  EXPECT_THAT(parse({EvidenceExtension(FromHex("8241014102"), std::nullopt)}).status().message(),
              HasSubstr("the top-level item at offset 0 must be a CBOR tag, found a array"));
  EXPECT_THAT(
      parse({EvidenceExtension(FromHex("d9ea6083410141024103"), std::nullopt)}).status().message(),
      HasSubstr("tag 60000 (0xEA60) must enclose an array of 2 byte strings [evidence, claims]; "
                "found a array of 3 items at offset 3"));
  EXPECT_THAT(
      parse({EvidenceExtension(FromHex("d9ea608241016102"), std::nullopt)}).status().message(),
      HasSubstr("claims at offset 6 must be a byte string, found a text string"));
  EXPECT_THAT(
      parse({EvidenceExtension(FromHex("d9ea6082410141"), std::nullopt)}).status().message(),
      HasSubstr("truncated byte string at offset 6: need 1 bytes, have 0"));
}

TEST(RatlsCertTest, RejectsTruncatedAndOversizedInput) {
  auto key = NewKey();
  auto der = *BuildRatlsCert(key, SampleTngEvidence(key), Options());
  for (size_t len : {size_t{0}, size_t{1}, size_t{4}, der.size() / 2, der.size() - 1}) {
    auto r = ParseRatlsCert(std::span(der).first(len));
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_THAT(r.status().message(), HasSubstr("X.509 certificate: truncated")) << len;
  }
  auto trailing = der;
  trailing.push_back(0);
  EXPECT_THAT(
      ParseRatlsCert(trailing).status().message(),
      HasSubstr("1 trailing bytes at offset " + std::to_string(der.size()) + " after Certificate"));

  const std::vector<uint8_t> big(kMaxTaggedEvidenceSize, 1);
  auto too_big = BuildRatlsCert(key, TaggedEvidence{kTagTngEvidence, big, {}}, Options());
  ASSERT_FALSE(too_big.ok());
  EXPECT_THAT(too_big.status().message(), HasSubstr("exceeds the 65535-byte limit of TNG peers"));
  auto pem = crypto::PemEncode("CERTIFICATE", der);
  pem.resize(pem.size() - 30);
  EXPECT_THAT(ParseRatlsCert(Bytes(pem)).status().message(),
              HasSubstr("PEM block \"CERTIFICATE\""));
}

// Random byte changes to real and built certificates: parsing and the binding checks either
// succeed or fail with a message that says where (or what is missing), never crash.
TEST(RatlsCertTest, MutatedCertificatesFailCleanly) {
  auto key = NewKey();
  const std::vector<std::vector<uint8_t>> bases = {
      RatsTlsCert().cert.der(), *BuildRatlsCert(key, SampleTngEvidence(key), Options())};
  std::mt19937 rng(99);
  int parsed = 0;
  for (int i = 0; i < 4000; ++i) {
    auto input = bases[i % 2];
    // Bias the changes towards the structure at the front and the evidence at the back.
    const size_t window = std::min<size_t>(input.size(), i % 4 < 2 ? 600 : input.size());
    for (int f = 1 + static_cast<int>(rng() % 3); f > 0; --f) {
      input[(i % 4 == 1 ? input.size() - window : 0) + rng() % window] =
          static_cast<uint8_t>(rng());
    }
    auto cert = ParseRatlsCert(input);
    if (!cert.ok()) {
      const std::string message(cert.status().message());
      EXPECT_TRUE(message.find("offset") != std::string::npos ||
                  message.find("missing") != std::string::npos)
          << message;
      continue;
    }
    ++parsed;
    (void)VerifySelfSigned(*cert);
    (void)CheckInteropBinding(*cert);
    (void)CheckTngEvidenceBinding(*cert);
  }
  EXPECT_GT(parsed, 0);
}

// wolfSSL itself (which serves the certificate in the handshake) loads it with its key.
TEST(RatlsCertTest, WolfSslAcceptsBuiltCertificateAndKey) {
  auto key = NewKey();
  auto der = BuildRatlsCert(key, SampleTngEvidence(key), Options());
  ASSERT_TRUE(der.ok());
  auto key_der = key.ToDer();
  ASSERT_TRUE(key_der.ok());
  WOLFSSL_CTX* ctx = wolfSSL_CTX_new(wolfTLSv1_3_server_method());
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(wolfSSL_CTX_use_certificate_buffer(ctx, der->data(), static_cast<long>(der->size()),
                                               WOLFSSL_FILETYPE_ASN1),
            WOLFSSL_SUCCESS);
  EXPECT_EQ(wolfSSL_CTX_use_PrivateKey_buffer(
                ctx, key_der->data(), static_cast<long>(key_der->size()), WOLFSSL_FILETYPE_ASN1),
            WOLFSSL_SUCCESS);
  EXPECT_EQ(wolfSSL_CTX_check_private_key(ctx), WOLFSSL_SUCCESS);
  wolfSSL_CTX_free(ctx);
}

// Runs a shell command; returns its exit status and combined output.
std::pair<int, std::string> RunShell(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), pipe)) > 0;) out.append(buf, n);
  return {pclose(pipe), out};
}

// OpenSSL, an independent implementation, shows both DICE extensions and the TNG subject, and
// verifies the self-signature.
TEST(RatlsCertTest, OpensslShowsBothExtensionsAndVerifiesSignature) {
  auto key = NewKey();
  auto der = BuildRatlsCert(key, SampleTngEvidence(key), Options());
  ASSERT_TRUE(der.ok());
  const std::string dir = ::testing::TempDir() + "ratls_cert_test_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/cert.der", std::ios::binary)
      .write(reinterpret_cast<const char*>(der->data()), static_cast<std::streamsize>(der->size()));
  std::ofstream(dir + "/cert.pem") << crypto::PemEncode("CERTIFICATE", *der);
  auto forged = *der;
  forged[forged.size() - 3] ^= 1;  // inside the signature's s value
  std::ofstream(dir + "/forged.pem") << crypto::PemEncode("CERTIFICATE", forged);

  const auto [text_rc, text] =
      RunShell("openssl x509 -inform DER -in " + dir + "/cert.der -noout -text");
  const auto [verify_rc, verify] = RunShell("openssl verify -check_ss_sig -no_check_time -CAfile " +
                                            dir + "/cert.pem " + dir + "/cert.pem");
  const auto [forged_rc, forged_out] =
      RunShell("openssl verify -check_ss_sig -no_check_time -CAfile " + dir + "/forged.pem " + dir +
               "/forged.pem");
  std::filesystem::remove_all(dir);

  ASSERT_EQ(text_rc, 0) << text;
  EXPECT_THAT(text, HasSubstr("Version: 3 (0x2)"));
  EXPECT_THAT(text, HasSubstr("Signature Algorithm: ecdsa-with-SHA256"));
  EXPECT_THAT(text, HasSubstr("Issuer: O = Inclavare Containers, CN = TNG"));
  EXPECT_THAT(text, HasSubstr("Subject: O = Inclavare Containers, CN = TNG"));
  EXPECT_THAT(text, HasSubstr("Not Before: Jan  1 00:00:00 2026 GMT"));
  EXPECT_THAT(text, HasSubstr("Not After : Jan  1 06:00:00 2026 GMT"));
  EXPECT_THAT(text, HasSubstr("NIST CURVE: P-256"));
  EXPECT_THAT(text, HasSubstr("2.23.133.5.4.9: \n"));
  EXPECT_THAT(text, HasSubstr("2.23.133.5.4.2: \n"));
  EXPECT_THAT(text, HasSubstr("X509v3 Key Usage: critical"));
  EXPECT_THAT(text,
              HasSubstr("Digital Signature, Non Repudiation, Key Encipherment, Key Agreement"));
  EXPECT_THAT(text, HasSubstr("X509v3 Basic Constraints: critical\n                CA:FALSE"));
  EXPECT_THAT(text, HasSubstr("X509v3 Subject Key Identifier"));
  EXPECT_THAT(text, HasSubstr("X509v3 Authority Key Identifier"));

  EXPECT_EQ(verify_rc, 0) << verify;
  EXPECT_THAT(verify, HasSubstr("cert.pem: OK"));
  EXPECT_NE(forged_rc, 0) << forged_out;
  EXPECT_THAT(forged_out, HasSubstr("signature failure"));
}

}  // namespace
}  // namespace tng::attestation
