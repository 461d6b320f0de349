#include "attestation/aa_protocol.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tng::attestation::aa {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(AaProtocolTest, EvidenceRequestAndResponseBytes) {
  // GetEvidenceRequest{RuntimeData: 01 02 03} = 0a 03 01 02 03.
  const std::vector<uint8_t> rd = {1, 2, 3};
  EXPECT_EQ(EncodeEvidenceRequest(rd), (std::vector<uint8_t>{0x0a, 0x03, 1, 2, 3}));
  auto decoded = DecodeEvidenceRequest(EncodeEvidenceRequest(rd));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, rd);
  // Empty runtime data is the empty message (proto3 default), and decodes back to empty.
  EXPECT_TRUE(EncodeEvidenceRequest({}).empty());
  auto empty = DecodeEvidenceRequest({});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  auto evidence = DecodeEvidenceResponse(EncodeEvidenceResponse(Bytes("{\"svn\":\"1\"}")));
  ASSERT_TRUE(evidence.ok());
  EXPECT_EQ(*evidence, Bytes("{\"svn\":\"1\"}"));
}

TEST(AaProtocolTest, UnknownFieldsAreSkippedAndLastValueWins) {
  // field 2 varint (unknown), field 1 "a", field 5 fixed32 (unknown), field 1 "bc"
  const std::vector<uint8_t> bytes = {0x10, 0x07, 0x0a, 0x01, 'a',  0x2d, 0,
                                      0,    0,    0,    0x0a, 0x02, 'b',  'c'};
  auto tee = DecodeTeeTypeResponse(bytes);
  ASSERT_TRUE(tee.ok()) << tee.status();
  EXPECT_EQ(*tee, "bc");
}

TEST(AaProtocolTest, TeeTypeAndAdditionalTees) {
  // GetTeeTypeResponse{tee: "sample"} = 0a 06 "sample".
  EXPECT_EQ(EncodeTeeTypeResponse("sample"),
            (std::vector<uint8_t>{0x0a, 0x06, 's', 'a', 'm', 'p', 'l', 'e'}));
  auto tees = DecodeAdditionalTeesResponse(EncodeAdditionalTeesResponse({"nvidia", "tpm"}));
  ASSERT_TRUE(tees.ok());
  EXPECT_EQ(*tees, (std::vector<std::string>{"nvidia", "tpm"}));
}

TEST(AaProtocolTest, MalformedResponsesNameTheMessage) {
  auto bad = DecodeEvidenceResponse(std::vector<uint8_t>{0x08, 0x01});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("GetEvidenceResponse: field 1 at offset 0: expected wire type "
                        "length-delimited, found varint"));
  auto cut = DecodeTeeTypeResponse(std::vector<uint8_t>{0x0a, 0x06, 's'});
  ASSERT_FALSE(cut.ok());
  EXPECT_THAT(cut.status().message(), HasSubstr("GetTeeTypeResponse: field 1 at offset 0"));
}

TEST(AaProtocolTest, SampleEvidenceMatchesTheSampleAttester) {
  // guest-components' sample attester: serde_json of {svn: "1", report_data: base64(data)}.
  EXPECT_EQ(SampleEvidence(Bytes("tng-runtime-data")),
            R"({"svn":"1","report_data":"dG5nLXJ1bnRpbWUtZGF0YQ=="})");
  EXPECT_EQ(SampleEvidence(std::vector<uint8_t>{0x00, 0xff}),
            R"({"svn":"1","report_data":"AP8="})");
  EXPECT_EQ(SampleEvidence({}), R"({"svn":"1","report_data":""})");
}

}  // namespace
}  // namespace tng::attestation::aa
