// Trustee AS REST bodies and responses: the request bodies byte for byte as TNG's restful
// converter serialises them (serde field order, nulls for absent options, base64url evidence).
#include "attestation/as_protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "crypto/base64.h"
#include "crypto/str_cat.h"
#include "tools/reference_as/cert_chain.h"

namespace tng::attestation {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

AsAttestationInput SampleInput() {
  AsAttestationInput input;
  input.tee = "sample";
  // base64url of this is "eyJzdm4iOiIxIiwicmVwb3J0X2RhdGEiOiJBQT09In0" (no padding).
  input.evidence = Bytes(R"({"svn":"1","report_data":"AA=="})");
  input.runtime_data = R"({"pubkey-hash":"AYIgq83vEjRWeJA="})";
  input.policy_ids = {"default", "strict"};
  return input;
}

TEST(AsProtocolTest, BuildsTheTrustee16Body) {
  auto body = BuildAttestationRequest(SampleInput());
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, R"({"verification_requests":[{"tee":"sample",)"
                   R"("evidence":"eyJzdm4iOiIxIiwicmVwb3J0X2RhdGEiOiJBQT09In0",)"
                   R"("runtime_data":{"structured":{"pubkey-hash":"AYIgq83vEjRWeJA="}},)"
                   R"("init_data":null,"runtime_data_hash_algorithm":"sha384"}],)"
                   R"("policy_ids":["default","strict"]})");
}

TEST(AsProtocolTest, BuildsTheLegacyFlatBody) {
  AsAttestationInput input = SampleInput();
  input.runtime_data_hash = crypto::HashAlgorithm::kSha256;
  input.policy_ids = {};
  auto body = BuildLegacyAttestationRequest(input);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, R"({"tee":"sample","evidence":"eyJzdm4iOiIxIiwicmVwb3J0X2RhdGEiOiJBQT09In0",)"
                   R"("runtime_data":{"structured":{"pubkey-hash":"AYIgq83vEjRWeJA="}},)"
                   R"("init_data":null,"runtime_data_hash_algorithm":"sha256",)"
                   R"("init_data_hash_algorithm":null,"policy_ids":[]})");
}

TEST(AsProtocolTest, SendsRuntimeDataInCanonicalForm) {
  AsAttestationInput input = SampleInput();
  input.runtime_data = "{ \"b\": 1, \"a\": \"test\", \"c\": {\"d\": \"e\"} }";
  auto body = BuildAttestationRequest(input);
  ASSERT_TRUE(body.ok());
  EXPECT_THAT(*body,
              HasSubstr(R"("runtime_data":{"structured":{"a":"test","b":1,"c":{"d":"e"}}})"));
}

TEST(AsProtocolTest, AddsOneRequestPerAdditionalEvidence) {
  AsAttestationInput input = SampleInput();
  input.policy_ids = {"default"};
  input.additional_evidence = R"({"sampledevice":{"svn":"2"},"nvidia":{"x":[1,2]}})";
  auto body = BuildAttestationRequest(input);
  ASSERT_TRUE(body.ok()) << body.status();
  const std::string device1 = crypto::Base64UrlEncode(Bytes(R"({"svn":"2"})"));
  const std::string device2 = crypto::Base64UrlEncode(Bytes(R"({"x":[1,2]})"));
  EXPECT_THAT(
      *body,
      HasSubstr(crypto::StrCat(
          R"("runtime_data_hash_algorithm":"sha384"},{"tee":"sampledevice","evidence":")", device1,
          R"(","runtime_data":null,"init_data":null,"runtime_data_hash_algorithm":null},)",
          R"({"tee":"nvidia","evidence":")", device2,
          R"(","runtime_data":null,"init_data":null,"runtime_data_hash_algorithm":null}],)",
          R"("policy_ids":["default"]})")));
  input.additional_evidence = "[1]";
  EXPECT_THAT(BuildAttestationRequest(input).status().message(),
              HasSubstr("additional evidence must be a JSON object"));
}

TEST(AsProtocolTest, RejectsBadInput) {
  AsAttestationInput input = SampleInput();
  input.runtime_data = "[1,2]";
  EXPECT_THAT(BuildAttestationRequest(input).status().message(),
              HasSubstr("runtime data must be a JSON object"));
  input.runtime_data = "{\"a\":";
  EXPECT_THAT(BuildLegacyAttestationRequest(input).status().message(),
              HasSubstr("runtime data is not valid JSON"));
  input = SampleInput();
  input.tee = "";
  EXPECT_FALSE(BuildAttestationRequest(input).ok());
}

TEST(AsProtocolTest, RecognisesTheOldAsRejection) {
  EXPECT_TRUE(
      IsLegacyAsRejection(400, "Json deserialize error: missing field `tee` at line 1 column 412"));
  EXPECT_FALSE(IsLegacyAsRejection(400, "Json deserialize error: missing field `policy_ids`"));
  EXPECT_FALSE(IsLegacyAsRejection(200, "missing field `tee`"));
}

TEST(AsProtocolTest, ReadsAttestationResponses) {
  auto token = ParseAttestationResponse(200, "eyJh.eyJi.c2ln\n");
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "eyJh.eyJi.c2ln");

  auto rejected = ParseAttestationResponse(
      500, "An internal error occured: \n0: attestation report evaluate\n1: Policy `x` not found");
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(rejected.status().message(),
              HasSubstr("AS /attestation answered HTTP 500: An internal error occured"));
  EXPECT_EQ(ParseAttestationResponse(503, "").status().code(), absl::StatusCode::kUnavailable);

  EXPECT_THAT(ParseAttestationResponse(200, "<html>proxy</html>").status().message(),
              HasSubstr("not a JWT"));
  EXPECT_THAT(ParseAttestationResponse(200, "a.b").status().message(),
              HasSubstr("2 dot-separated parts"));
  const std::string huge(10000, 'x');
  EXPECT_THAT(ParseAttestationResponse(500, huge).status().message(), HasSubstr("(10000 bytes)"));
}

TEST(AsProtocolTest, ReadsChallengeResponses) {
  auto challenge =
      ParseChallengeResponse(200, R"({"nonce":"bm9uY2U=","extra-params":{"jwt":"h.p.s"}})");
  ASSERT_TRUE(challenge.ok()) << challenge.status();
  ASSERT_TRUE(challenge->has_value());
  EXPECT_EQ((*challenge)->nonce, "bm9uY2U=");
  EXPECT_EQ((*challenge)->token, "h.p.s");

  challenge = ParseChallengeResponse(200, R"({"nonce":"n","extra_params":{"jwt":"a.b.c"}})");
  ASSERT_TRUE(challenge.ok());
  EXPECT_EQ((*challenge)->token, "a.b.c");

  challenge =
      ParseChallengeResponse(500, "An internal error occured: \n0: Failed to get inner tee");
  ASSERT_TRUE(challenge.ok());
  EXPECT_FALSE(challenge->has_value());

  EXPECT_THAT(ParseChallengeResponse(200, R"({"nonce":"n"})").status().message(),
              HasSubstr("\"extra-params\" is missing"));
  EXPECT_THAT(ParseChallengeResponse(200, R"({"nonce":"n","extra-params":{}})").status().message(),
              HasSubstr("extra-params.jwt"));
  EXPECT_EQ(ParseChallengeResponse(404, "").status().code(), absl::StatusCode::kUnavailable);
}

TEST(AsProtocolTest, ReadsTheCertificateChain) {
  auto chain = reference_as::MakeSigningChain(1'760'000'000, 86400);
  ASSERT_TRUE(chain.ok());
  const std::string pem = crypto::PemEncode("CERTIFICATE", chain->signer_der) +
                          crypto::PemEncode("CERTIFICATE", chain->ca_der);
  auto certs = ParseCertificateResponse(200, pem);
  ASSERT_TRUE(certs.ok()) << certs.status();
  EXPECT_EQ(certs->size(), 2u);
  EXPECT_THAT(ParseCertificateResponse(404, "no route").status().message(),
              HasSubstr("AS /certificate answered HTTP 404: no route"));
  EXPECT_THAT(ParseCertificateResponse(200, "{}").status().message(),
              HasSubstr("AS /certificate response: no CERTIFICATE found"));
}

}  // namespace
}  // namespace tng::attestation
