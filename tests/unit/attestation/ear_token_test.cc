// AS token verification: EAR and older CoCo tokens signed here with crypto/jwt.h, each check
// failing on its own. Certificates come from the reference AS's chain builder.
#include "attestation/ear_token.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "crypto/base64.h"
#include "crypto/jwt.h"
#include "crypto/str_cat.h"
#include "tools/reference_as/cert_chain.h"
#include "tools/reference_as/token_signer.h"

namespace tng::attestation {
namespace {

using crypto::StrCat;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1'760'000'000;
constexpr int64_t kYear = 365 * 86400;
constexpr std::string_view kClaims = R"({"pubkey-hash":"AYIgq83vEjRWeJA="})";

std::span<const uint8_t> Bytes(std::string_view s) {
  return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// An EAR payload as trustee's broker writes it, with the parts the tests vary.
struct Ear {
  std::string status = "affirming";
  std::string policy = "default";
  std::string runtime = std::string(kClaims);
  std::string extra_submod;  // appended inside "submods"
  std::string times = StrCat("\"iat\":", kNow, ",\"exp\":", kNow + 300);
  std::string profile = std::string(kTrusteeEarProfile);

  std::string Json() const {
    return StrCat(
        "{\"eat_profile\":\"", profile, "\",", times,
        ",\"ear.verifier-id\":{\"developer\":\"https://confidentialcontainers.org\","
        "\"build\":\"test\"},\"submods\":{\"cpu0\":{\"ear.status\":\"",
        status,
        "\",\"ear.trustworthiness-vector\":{\"configuration\":2,\"executables\":3,"
        "\"file-system\":2,\"hardware\":2},\"ear.appraisal-policy-id\":\"",
        policy,
        "\",\"ear.veraison.annotated-evidence\":{\"report_data\":\"\",\"runtime_data_claims\":",
        runtime, ",\"sample\":{\"svn\":\"1\"}}}", extra_submod, "}}");
  }
};

class EarTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto chain = reference_as::MakeSigningChain(kNow, kYear);
    ASSERT_TRUE(chain.ok()) << chain.status();
    chain_.emplace(*std::move(chain));
    auto ca = crypto::X509Certificate::ParseDer(chain_->ca_der);
    ASSERT_TRUE(ca.ok()) << ca.status();
    options_.trusted_certs.push_back(*std::move(ca));
    options_.policy_ids = {"default"};
    options_.expected_runtime_data = std::string(kClaims);
    options_.now_unix = kNow;
  }

  // A token over `payload` signed by `key`, its header jwk naming `jwk_spki` with chain `x5c`.
  std::string Sign(std::string_view payload, crypto::EcPrivateKey& key,
                   std::span<const uint8_t> jwk_spki,
                   const std::vector<std::vector<uint8_t>>& x5c) {
    auto jwk = reference_as::MakeEcJwkJson(jwk_spki, x5c);
    EXPECT_TRUE(jwk.ok()) << jwk.status();
    auto token = crypto::SignJws(StrCat("{\"typ\":\"JWT\",\"alg\":\"ES256\",\"jwk\":", *jwk, "}"),
                                 Bytes(payload), crypto::JwsAlgorithm::kEs256, key);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.value_or("");
  }
  std::string Sign(std::string_view payload) {
    return Sign(payload, chain_->signer_key, chain_->signer_key.public_spki_der(),
                {chain_->signer_der, chain_->ca_der});
  }

  std::optional<reference_as::SigningChain> chain_;
  EarTokenOptions options_;
};

TEST_F(EarTokenTest, AcceptsAffirmingEarAndReportsItsClaims) {
  auto verified = VerifyAsToken(Sign(Ear().Json()), options_);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->format, TokenFormat::kEar);
  EXPECT_EQ(verified->tee_type, "sample");
  EXPECT_THAT(verified->policy_ids, ::testing::ElementsAre("default"));
  EXPECT_EQ(verified->issued_at, kNow);
  EXPECT_EQ(verified->expires_at, kNow + 300);
  EXPECT_FALSE(verified->not_before.has_value());
  ASSERT_EQ(verified->submods.size(), 1u);
  EXPECT_EQ(verified->submods[0].name, "cpu0");
  EXPECT_EQ(verified->submods[0].status, "affirming");
  EXPECT_EQ(verified->submods[0].trustworthiness_vector,
            R"({"configuration":2,"executables":3,"file-system":2,"hardware":2})");
  EXPECT_EQ(verified->runtime_data, kClaims);
}

TEST_F(EarTokenTest, AcceptsX5cInEitherBase64Spelling) {
  // Upstream trustee writes x5c in standard base64 (RFC 7517), openanolis trustee in base64url.
  for (auto encoding :
       {reference_as::X5cEncoding::kBase64, reference_as::X5cEncoding::kBase64Url}) {
    auto jwk =
        reference_as::MakeEcJwkJson(chain_->signer_key.public_spki_der(),
                                    std::vector{chain_->signer_der, chain_->ca_der}, encoding);
    ASSERT_TRUE(jwk.ok());
    auto token =
        crypto::SignJws(StrCat(R"({"typ":"JWT","alg":"ES256","jwk":)", *jwk, "}"),
                        Bytes(Ear().Json()), crypto::JwsAlgorithm::kEs256, chain_->signer_key);
    ASSERT_TRUE(token.ok());
    EXPECT_TRUE(VerifyAsToken(*token, options_).ok());
  }
}

TEST_F(EarTokenTest, ExpectedClaimsNeedOnlyBeASubset) {
  Ear ear;
  ear.runtime = R"({"challenge_token":"x","pubkey-hash":"AYIgq83vEjRWeJA=","n":[1,{"a":null}]})";
  EXPECT_TRUE(VerifyAsToken(Sign(ear.Json()), options_).ok());
  options_.expected_runtime_data = R"({"n":[1,{"a":null}],"pubkey-hash":"AYIgq83vEjRWeJA="})";
  EXPECT_TRUE(VerifyAsToken(Sign(ear.Json()), options_).ok());
}

TEST_F(EarTokenTest, RejectsExpiredTokenBeyondTheSkew) {
  Ear ear;
  ear.times = StrCat("\"iat\":", kNow - 400, ",\"exp\":", kNow - 61);
  auto verified = VerifyAsToken(Sign(ear.Json()), options_);
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(verified.status().message(), HasSubstr("AS token expiry: expired at"));
  ear.times = StrCat("\"iat\":", kNow - 400, ",\"exp\":", kNow - 59);
  EXPECT_TRUE(VerifyAsToken(Sign(ear.Json()), options_).ok());
}

TEST_F(EarTokenTest, RejectsTokenWithoutExp) {
  Ear ear;
  ear.times = StrCat("\"iat\":", kNow);
  auto verified = VerifyAsToken(Sign(ear.Json()), options_);
  EXPECT_THAT(verified.status().message(), HasSubstr("\"exp\" is missing"));
}

TEST_F(EarTokenTest, RejectsNotBeforeInTheFuture) {
  Ear ear;
  ear.times = StrCat("\"iat\":", kNow, ",\"nbf\":", kNow + 120, ",\"exp\":", kNow + 300);
  auto verified = VerifyAsToken(Sign(ear.Json()), options_);
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(verified.status().message(), HasSubstr("AS token not-before"));
}

TEST_F(EarTokenTest, RejectsChainThatDoesNotEndAtATrustedCert) {
  auto other = reference_as::MakeSigningChain(kNow, kYear);
  ASSERT_TRUE(other.ok());
  options_.trusted_certs.clear();
  options_.trusted_certs.push_back(*crypto::X509Certificate::ParseDer(other->ca_der));
  auto verified = VerifyAsToken(Sign(Ear().Json()), options_);
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(verified.status().message(), HasSubstr("does not end at a trusted certificate"));
}

TEST_F(EarTokenTest, RejectsLeafThatOnlyClaimsTheTrustedIssuer) {
  auto forged = reference_as::MakeForgedSigner(kNow, kYear);
  ASSERT_TRUE(forged.ok());
  const std::string token = Sign(Ear().Json(), forged->key, forged->key.public_spki_der(),
                                 {forged->cert_der, chain_->ca_der});
  auto verified = VerifyAsToken(token, options_);
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(verified.status().message(), HasSubstr("x5c[0] is not signed by x5c[1]"));
}

TEST_F(EarTokenTest, RejectsJwkThatIsNotTheLeafKey) {
  auto rogue = crypto::EcPrivateKey::Generate(crypto::EcCurve::kP256);
  ASSERT_TRUE(rogue.ok());
  // Signed by the rogue key and naming it in the jwk, but presenting the genuine chain.
  const std::string token =
      Sign(Ear().Json(), *rogue, rogue->public_spki_der(), {chain_->signer_der, chain_->ca_der});
  auto verified = VerifyAsToken(token, options_);
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(verified.status().message(), HasSubstr("jwk public key differs from the key of the"));
}

TEST_F(EarTokenTest, RejectsTamperedPayload) {
  const std::string token = Sign(Ear().Json());
  const size_t dot1 = token.find('.');
  const size_t dot2 = token.find('.', dot1 + 1);
  Ear forged;
  forged.policy = "production";
  const std::string tampered = StrCat(
      token.substr(0, dot1 + 1), crypto::Base64UrlEncode(Bytes(forged.Json())), token.substr(dot2));
  options_.policy_ids = {"production"};
  auto verified = VerifyAsToken(tampered, options_);
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(verified.status().message(), HasSubstr("AS token signature"));
}

TEST_F(EarTokenTest, RejectsWarningAndContraindicatedStatus) {
  for (std::string status : {"warning", "contraindicated", "none"}) {
    Ear ear;
    ear.status = status;
    auto verified = VerifyAsToken(Sign(ear.Json()), options_);
    EXPECT_EQ(verified.status().code(), absl::StatusCode::kPermissionDenied) << status;
    EXPECT_THAT(verified.status().message(),
                HasSubstr(StrCat("submods.cpu0.ear.status is \"", status, "\"")));
  }
}

TEST_F(EarTokenTest, RejectsNonAffirmingSecondSubmod) {
  Ear ear;
  ear.extra_submod =
      R"(,"gpu0":{"ear.status":"warning","ear.trustworthiness-vector":{"hardware":32},)"
      R"("ear.appraisal-policy-id":"default","ear.veraison.annotated-evidence":{}})";
  auto verified = VerifyAsToken(Sign(ear.Json()), options_);
  EXPECT_THAT(verified.status().message(), HasSubstr("submods.gpu0.ear.status is \"warning\""));
}

TEST_F(EarTokenTest, RejectsMissingPolicy) {
  options_.policy_ids = {"default", "strict"};
  auto verified = VerifyAsToken(Sign(Ear().Json()), options_);
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(verified.status().message(),
              HasSubstr("policy id \"strict\" was not applied (the token was appraised against: "
                        "default)"));
}

TEST_F(EarTokenTest, RejectsSubmodsAppraisedAgainstDifferentPolicies) {
  Ear ear;
  ear.extra_submod =
      R"(,"gpu0":{"ear.status":"affirming","ear.trustworthiness-vector":{"hardware":2},)"
      R"("ear.appraisal-policy-id":"other","ear.veraison.annotated-evidence":{}})";
  auto verified = VerifyAsToken(Sign(ear.Json()), options_);
  EXPECT_THAT(verified.status().message(), HasSubstr("different policies"));
}

TEST_F(EarTokenTest, RejectsRuntimeDataMismatch) {
  options_.expected_runtime_data = R"({"pubkey-hash":"AYIgAAAAAAAAAAA="})";
  auto verified = VerifyAsToken(Sign(Ear().Json()), options_);
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(verified.status().message(),
              HasSubstr("runtime_data_claims.pubkey-hash is \"AYIgq83vEjRWeJA=\", expected "
                        "\"AYIgAAAAAAAAAAA=\""));

  options_.expected_runtime_data = R"({"nonce":"abc"})";
  verified = VerifyAsToken(Sign(Ear().Json()), options_);
  EXPECT_THAT(verified.status().message(), HasSubstr("lacks claim \"nonce\""));

  // serde_json tells integers from floats: 1 is not 1.0.
  Ear ear;
  ear.runtime = R"({"n":1.0})";
  options_.expected_runtime_data = R"({"n":1})";
  EXPECT_FALSE(VerifyAsToken(Sign(ear.Json()), options_).ok());

  ear.runtime = "null";
  verified = VerifyAsToken(Sign(ear.Json()), options_);
  EXPECT_THAT(verified.status().message(), HasSubstr("is not an object but null"));
}

TEST_F(EarTokenTest, RejectsForeignProfile) {
  Ear ear;
  ear.profile = "tag:github.com,2023:veraison/ear";
  auto verified = VerifyAsToken(Sign(ear.Json()), options_);
  EXPECT_THAT(verified.status().message(), HasSubstr("AS token profile"));
}

TEST_F(EarTokenTest, NeedsTrustAnchorsUnlessCertVerifyIsSkipped) {
  options_.trusted_certs.clear();
  auto verified = VerifyAsToken(Sign(Ear().Json()), options_);
  EXPECT_THAT(verified.status().message(), HasSubstr("no trusted certificates"));
  options_.skip_cert_verify = true;
  EXPECT_TRUE(VerifyAsToken(Sign(Ear().Json()), options_).ok());
  // Skipping the chain never skips the signature.
  auto rogue = crypto::EcPrivateKey::Generate(crypto::EcCurve::kP256);
  const std::string token =
      Sign(Ear().Json(), *rogue, chain_->signer_key.public_spki_der(), {chain_->signer_der});
  EXPECT_THAT(VerifyAsToken(token, options_).status().message(), HasSubstr("AS token signature"));
}

TEST_F(EarTokenTest, AcceptsPinnedSignerCertificate) {
  options_.trusted_certs.clear();
  options_.trusted_certs.push_back(*crypto::X509Certificate::ParseDer(chain_->signer_der));
  EXPECT_TRUE(VerifyAsToken(Sign(Ear().Json()), options_).ok());
}

TEST_F(EarTokenTest, RejectsExpiredSigningCertificate) {
  auto old = reference_as::MakeSigningChain(kNow - 3 * kYear, kYear);
  ASSERT_TRUE(old.ok());
  options_.trusted_certs.push_back(*crypto::X509Certificate::ParseDer(old->ca_der));
  const std::string token = Sign(Ear().Json(), old->signer_key, old->signer_key.public_spki_der(),
                                 {old->signer_der, old->ca_der});
  EXPECT_THAT(VerifyAsToken(token, options_).status().message(),
              HasSubstr("certificate x5c[0] expired at"));
}

TEST_F(EarTokenTest, RejectsHeaderWithoutJwk) {
  auto token = crypto::SignJws(R"({"alg":"ES256","typ":"JWT"})", Bytes(Ear().Json()),
                               crypto::JwsAlgorithm::kEs256, chain_->signer_key);
  ASSERT_TRUE(token.ok());
  EXPECT_THAT(VerifyAsToken(*token, options_).status().message(),
              HasSubstr("the header carries no jwk"));
}

TEST_F(EarTokenTest, AcceptsOlderCocoTokens) {
  const std::string simple = StrCat(
      R"({"customized_claims":{"init_data":null,"runtime_data":)", kClaims,
      R"(},"evaluation-reports":[{"policy-hash":"f5ab","policy-id":"default"}],"exp":)", kNow + 300,
      ",\"iat\":", kNow, ",\"iss\":\"CoCo-Attestation-Service\",\"nbf\":", kNow, "}");
  auto verified = VerifyAsToken(Sign(simple), options_);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->format, TokenFormat::kCocoSimple);
  EXPECT_EQ(verified->not_before, kNow);
  EXPECT_EQ(verified->runtime_data, kClaims);
  options_.policy_ids = {"other"};
  EXPECT_THAT(VerifyAsToken(Sign(simple), options_).status().message(),
              HasSubstr("policy id \"other\" was not applied"));
}

TEST_F(EarTokenTest, RejectsMalformedTokens) {
  EXPECT_EQ(VerifyAsToken("not a token", options_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(VerifyAsToken(Sign(R"({"exp":1})"), options_).status().message(),
              HasSubstr("AS token expiry"));
  EXPECT_THAT(VerifyAsToken(Sign(StrCat(R"({"exp":)", kNow, "}")), options_).status().message(),
              HasSubstr("neither an EAR"));
  EXPECT_THAT(VerifyAsToken(Sign(StrCat(R"({"exp":)", kNow, R"(,"eat_profile":")",
                                        kTrusteeEarProfile, R"(","submods":{}})")),
                            options_)
                  .status()
                  .message(),
              HasSubstr("\"submods\" must be a non-empty object"));
  EXPECT_THAT(VerifyAsToken(Sign(R"({"exp":"soon"})"), options_).status().message(),
              HasSubstr("\"exp\" must be a non-negative integer"));
}

TEST(CertificateListTest, ReadsEveryCertificateOfAPemChain) {
  auto chain = reference_as::MakeSigningChain(kNow, kYear);
  ASSERT_TRUE(chain.ok());
  const std::string pem =
      StrCat("issuer dump text\n", crypto::PemEncode("CERTIFICATE", chain->signer_der),
             crypto::PemEncode("CERTIFICATE", chain->ca_der));
  auto certs = ParseCertificateList(Bytes(pem), "as-ca.pem");
  ASSERT_TRUE(certs.ok()) << certs.status();
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ((*certs)[1].der(), chain->ca_der);
  auto der = ParseCertificateList(chain->ca_der, "ca.der");
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(der->size(), 1u);
  EXPECT_THAT(ParseCertificateList(Bytes("hello"), "x.pem").status().message(),
              HasSubstr("x.pem: no CERTIFICATE found"));
}

}  // namespace
}  // namespace tng::attestation
