// The reference AS's request handling, driven with the bodies TNG's verifier sends (built by
// attestation/as_protocol) and its tokens checked by attestation/ear_token.
#include "tools/reference_as/service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "attestation/as_protocol.h"
#include "attestation/ear_token.h"
#include "crypto/base64.h"
#include "crypto/canonical_json.h"
#include "crypto/digest.h"
#include "crypto/str_cat.h"

namespace tng::reference_as {
namespace {

using crypto::StrCat;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1'760'000'000;
constexpr std::string_view kRuntime = R"({"pubkey-hash":"AYIgq83vEjRWeJA="})";

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

// What the sample AA answers for `runtime_data`: report data = SHA-384 of its canonical JSON.
attestation::AsAttestationInput SampleEvidence(std::string_view runtime_data,
                                               std::vector<std::string> policies = {"default"}) {
  auto canonical = crypto::CanonicalizeJson(runtime_data);
  EXPECT_TRUE(canonical.ok());
  const auto report = crypto::Digest(crypto::HashAlgorithm::kSha384, *canonical);
  attestation::AsAttestationInput input;
  input.tee = "sample";
  input.evidence =
      Bytes(StrCat(R"({"svn":"1","report_data":")", crypto::Base64Encode(report), "\"}"));
  input.runtime_data = std::string(runtime_data);
  input.policy_ids = std::move(policies);
  return input;
}

class ServiceTest : public ::testing::Test {
 protected:
  Service Make(ServiceOptions options = {}, bool untrusted_key = false) {
    auto signer = TokenSigner::Create(kNow, untrusted_key);
    EXPECT_TRUE(signer.ok()) << signer.status();
    return Service(*std::move(signer), std::move(options));
  }

  // POSTs `input` as TNG does and returns the response.
  Response Attest(Service& service, const attestation::AsAttestationInput& input,
                  int64_t now = kNow) {
    auto body = attestation::BuildAttestationRequest(input);
    EXPECT_TRUE(body.ok()) << body.status();
    return service.Handle("POST", "/attestation", *body, now);
  }

  // Verifies a token against the chain the service publishes at /certificate.
  absl::StatusOr<attestation::VerifiedToken> Verify(Service& service, std::string_view token,
                                                    int64_t now = kNow,
                                                    std::vector<std::string> policies = {
                                                        "default"}) {
    Response certs = service.Handle("GET", "/certificate", "", now);
    auto trusted = attestation::ParseCertificateResponse(certs.status, certs.body);
    EXPECT_TRUE(trusted.ok()) << trusted.status();
    attestation::EarTokenOptions options{.trusted_certs = *std::move(trusted),
                                         .policy_ids = std::move(policies),
                                         .expected_runtime_data = std::string(kRuntime),
                                         .now_unix = now};
    return attestation::VerifyAsToken(token, options);
  }
};

TEST_F(ServiceTest, IssuesAnEarThatTheVerifierAccepts) {
  Service service = Make();
  Response response = Attest(service, SampleEvidence(kRuntime));
  ASSERT_EQ(response.status, 200) << response.body;
  auto token = attestation::ParseAttestationResponse(response.status, response.body);
  ASSERT_TRUE(token.ok()) << token.status();
  auto verified = Verify(service, *token);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->tee_type, "sample");
  EXPECT_EQ(verified->issued_at, kNow);
  EXPECT_EQ(verified->expires_at, kNow + 300);
  EXPECT_EQ(verified->runtime_data, kRuntime);
  EXPECT_THAT(verified->policy_ids, ::testing::ElementsAre("default"));
}

TEST_F(ServiceTest, BindsReportDataAsTrusteeDoes) {
  // Trustee's parse_runtime_data test vector: SHA-384 of the canonical form of this object.
  constexpr std::string_view kRuntimeData = R"({"b": 1, "a": "test", "c": {"d": "e"}})";
  std::vector<uint8_t> expected(48);
  constexpr std::string_view kHex =
      "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78"
      "870c3";
  for (size_t i = 0; i < expected.size(); ++i) {
    expected[i] = static_cast<uint8_t>(std::stoi(std::string(kHex.substr(2 * i, 2)), nullptr, 16));
  }
  attestation::AsAttestationInput input = SampleEvidence(kRuntimeData);
  input.evidence =
      Bytes(StrCat(R"({"svn":"1","report_data":")", crypto::Base64Encode(expected), "\"}"));
  Service service = Make();
  EXPECT_EQ(Attest(service, input).status, 200);

  expected[0] ^= 1;
  input.evidence =
      Bytes(StrCat(R"({"svn":"1","report_data":")", crypto::Base64Encode(expected), "\"}"));
  Response response = Attest(service, input);
  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(response.body, HasSubstr("REPORT_DATA is different from that in Sample Quote"));
}

TEST_F(ServiceTest, FailsOnUnknownPolicyAsTrusteeDoes) {
  Service service = Make();
  Response response = Attest(service, SampleEvidence(kRuntime, {"nope"}));
  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(response.body, HasSubstr("Policy `nope_cpu.rego` not found"));
  EXPECT_FALSE(attestation::ParseAttestationResponse(response.status, response.body).ok());
}

TEST_F(ServiceTest, DenyAndWarnPoliciesGiveNonAffirmingTokens) {
  Service service =
      Make({.policies = {{"strict", PolicyVerdict::kDeny}, {"lenient", PolicyVerdict::kWarn}}});
  for (auto [policy, status] :
       {std::pair{"strict", "contraindicated"}, std::pair{"lenient", "warning"}}) {
    Response response = Attest(service, SampleEvidence(kRuntime, {policy}));
    ASSERT_EQ(response.status, 200) << response.body;
    auto verified = Verify(service, response.body, kNow, {policy});
    EXPECT_EQ(verified.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(verified.status().message(), HasSubstr(StrCat("ear.status is \"", status, "\"")));
  }
}

TEST_F(ServiceTest, TokensExpireAfterTheTtl) {
  Service service = Make({.policies = {}, .token_ttl_seconds = 10});
  Response response = Attest(service, SampleEvidence(kRuntime));
  ASSERT_EQ(response.status, 200);
  EXPECT_TRUE(Verify(service, response.body, kNow + 10).ok());
  EXPECT_THAT(Verify(service, response.body, kNow + 10 + 61).status().message(),
              HasSubstr("AS token expiry"));
}

TEST_F(ServiceTest, UntrustedKeyTokensFailTheChainCheck) {
  Service service = Make({}, /*untrusted_key=*/true);
  Response response = Attest(service, SampleEvidence(kRuntime));
  ASSERT_EQ(response.status, 200) << response.body;
  auto verified = Verify(service, response.body);
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(verified.status().message(), HasSubstr("AS token x5c chain"));
}

TEST_F(ServiceTest, LegacyApiRejectsTheNewBodyTheWayOldTrusteeDoes) {
  Service service = Make({.policies = {}, .legacy_api = true});
  Response response = Attest(service, SampleEvidence(kRuntime));
  EXPECT_EQ(response.status, 400);
  EXPECT_TRUE(attestation::IsLegacyAsRejection(response.status, response.body)) << response.body;

  auto legacy = attestation::BuildLegacyAttestationRequest(SampleEvidence(kRuntime));
  ASSERT_TRUE(legacy.ok());
  response = service.Handle("POST", "/attestation", *legacy, kNow);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_TRUE(Verify(service, response.body).ok());
}

TEST_F(ServiceTest, NewApiRejectsTheFlatBody) {
  Service service = Make();
  auto legacy = attestation::BuildLegacyAttestationRequest(SampleEvidence(kRuntime));
  Response response = service.Handle("POST", "/attestation", *legacy, kNow);
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.body, HasSubstr("missing field `verification_requests`"));
  EXPECT_FALSE(attestation::IsLegacyAsRejection(response.status, response.body));
}

TEST_F(ServiceTest, ChallengeTokensRoundTrip) {
  Service service = Make();
  Response response = service.Handle("POST", "/challenge", "{}", kNow);
  ASSERT_EQ(response.status, 200) << response.body;
  auto challenge = attestation::ParseChallengeResponse(response.status, response.body);
  ASSERT_TRUE(challenge.ok() && challenge->has_value()) << response.body;
  const std::string runtime = StrCat(R"({"challenge_token":")", (*challenge)->token,
                                     R"(","pubkey-hash":"AYIgq83vEjRWeJA="})");
  EXPECT_EQ(Attest(service, SampleEvidence(runtime)).status, 200);

  Response late = Attest(service, SampleEvidence(runtime), kNow + 301);
  EXPECT_EQ(late.status, 500);
  EXPECT_THAT(late.body, HasSubstr("the challenge token has expired"));

  Service other = Make();
  Response foreign = Attest(other, SampleEvidence(runtime));
  EXPECT_EQ(foreign.status, 500);
  EXPECT_THAT(foreign.body, HasSubstr("verify challenge token"));
}

TEST_F(ServiceTest, AppraisesEveryVerificationRequest) {
  Service service = Make();
  auto body = attestation::BuildAttestationRequest(SampleEvidence(kRuntime));
  ASSERT_TRUE(body.ok());
  // Two copies of the same request: two cpu submods, as trustee names them per TEE class.
  const std::string request = body->substr(body->find('[') + 1, body->find("}]") - body->find('['));
  const std::string twice =
      StrCat(R"({"verification_requests":[)", request, ",", request, R"(],"policy_ids":[]})");
  Response response = service.Handle("POST", "/attestation", twice, kNow);
  ASSERT_EQ(response.status, 200) << response.body;
  auto verified = Verify(service, response.body);
  ASSERT_TRUE(verified.ok()) << verified.status();
  ASSERT_EQ(verified->submods.size(), 2u);
  EXPECT_EQ(verified->submods[1].name, "cpu1");
}

TEST_F(ServiceTest, RejectsEvidenceItCannotVerify) {
  Service service = Make();
  attestation::AsAttestationInput input = SampleEvidence(kRuntime);
  input.tee = "tdx";
  EXPECT_THAT(Attest(service, input).body, HasSubstr("verifies only `sample` evidence"));
  input.tee = "foo";
  EXPECT_THAT(Attest(service, input).body, HasSubstr("tee `foo not supported`"));
  input = SampleEvidence(kRuntime);
  input.evidence = Bytes("not json");
  EXPECT_THAT(Attest(service, input).body, HasSubstr("failed to parse evidence as JSON"));
  input.evidence = Bytes(R"({"report_data":""})");
  EXPECT_THAT(Attest(service, input).body, HasSubstr("needs a string \"svn\""));
  Response garbage = service.Handle("POST", "/attestation", "{", kNow);
  EXPECT_EQ(garbage.status, 400);
  EXPECT_THAT(garbage.body, HasSubstr("Json deserialize error"));
}

TEST_F(ServiceTest, RoutesLikeTrustee) {
  Service service = Make();
  EXPECT_EQ(service.Handle("GET", "/attestation", "", kNow).status, 405);
  EXPECT_EQ(service.Handle("POST", "/certificate", "", kNow).status, 405);
  EXPECT_EQ(service.Handle("GET", "/nope", "", kNow).status, 404);
  EXPECT_EQ(service.Handle("GET", "/healthz", "", kNow).status, 200);
  Response jwks = service.Handle("GET", "/.well-known/jwks.json", "", kNow);
  EXPECT_EQ(jwks.status, 200);
  EXPECT_THAT(jwks.body, HasSubstr(R"({"keys":[{"kty":"EC","crv":"P-256","alg":"ES256")"));
  Response certs = service.Handle("GET", "/certificate?x=1", "", kNow);
  EXPECT_EQ(certs.status, 200);
  EXPECT_THAT(certs.body, HasSubstr("-----BEGIN CERTIFICATE-----"));
}

TEST(PolicyFlagTest, ParsesNameAndVerdict) {
  auto allow = ParsePolicyFlag("default=allow");
  ASSERT_TRUE(allow.ok());
  EXPECT_EQ(allow->first, "default");
  EXPECT_EQ(allow->second, PolicyVerdict::kAllow);
  EXPECT_EQ(ParsePolicyFlag("a=b=deny").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParsePolicyFlag("x=warn")->second, PolicyVerdict::kWarn);
  EXPECT_EQ(ParsePolicyFlag("x=deny")->second, PolicyVerdict::kDeny);
  EXPECT_THAT(ParsePolicyFlag("x").status().message(), HasSubstr("expected NAME=allow"));
  EXPECT_THAT(ParsePolicyFlag("=allow").status().message(), HasSubstr("expected NAME=allow"));
}

}  // namespace
}  // namespace tng::reference_as
