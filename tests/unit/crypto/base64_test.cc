#include "crypto/base64.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace tng::crypto {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::string ErrorOf(std::string_view text, Base64Alphabet alphabet = Base64Alphabet::kStandard,
                    Base64Padding padding = Base64Padding::kRequired) {
  auto r = Base64Decode(text, alphabet, padding);
  EXPECT_FALSE(r.ok()) << "\"" << text << "\" decoded unexpectedly";
  return r.ok() ? "" : std::string(r.status().message());
}

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> kVectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : kVectors) {
    EXPECT_EQ(Base64Encode(Bytes(plain)), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, Bytes(plain));
  }
}

TEST(Base64Test, UrlAlphabetAndUnpadded) {
  const std::vector<uint8_t> data = {0xfb, 0xff, 0xbf, 0xfe};
  EXPECT_EQ(Base64Encode(data), "+/+//g==");
  EXPECT_EQ(Base64UrlEncode(data), "-_-__g");
  EXPECT_EQ(Base64Encode(data, Base64Alphabet::kUrl, true), "-_-__g==");
  auto decoded = Base64UrlDecode("-_-__g");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, data);
  // Each alphabet rejects the other's characters, naming where.
  EXPECT_EQ(ErrorOf("-_-__g==", Base64Alphabet::kStandard),
            "invalid base64 character '-' (0x2d) at offset 0");
  EXPECT_THAT(ErrorOf("+/+//g", Base64Alphabet::kUrl, Base64Padding::kForbidden),
              HasSubstr("'+' (0x2b) at offset 0"));
  // kEither takes both, even mixed.
  auto mixed = Base64Decode("-/+__g", Base64Alphabet::kEither, Base64Padding::kOptional);
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_EQ(*mixed, data);
}

TEST(Base64Test, PaddingRules) {
  EXPECT_THAT(ErrorOf("Zg"), HasSubstr("not a multiple of 4 (padding is required)"));
  EXPECT_TRUE(Base64Decode("Zg", Base64Alphabet::kStandard, Base64Padding::kOptional).ok());
  EXPECT_TRUE(Base64Decode("Zg==", Base64Alphabet::kStandard, Base64Padding::kOptional).ok());
  EXPECT_EQ(ErrorOf("Zg==", Base64Alphabet::kUrl, Base64Padding::kForbidden),
            "base64 padding '=' at offset 2 is not allowed here");
  EXPECT_THAT(ErrorOf("Zg=", Base64Alphabet::kStandard, Base64Padding::kOptional),
              HasSubstr("multiple of 4"));
  EXPECT_THAT(ErrorOf("Z==="), HasSubstr("too much base64 padding at offset 1"));
  EXPECT_EQ(ErrorOf("Zg==Zg=="), "base64 padding '=' at offset 2 before the end of the input");
}

TEST(Base64Test, RejectsBadCharactersWithOffset) {
  EXPECT_EQ(ErrorOf("Zm9v!A=="), "invalid base64 character '!' (0x21) at offset 4");
  EXPECT_EQ(ErrorOf("Zm9v\nZm9v"),
            "base64 length 9 is not a multiple of 4 (padding is required): "
            "truncated input?");
  EXPECT_EQ(ErrorOf("Zm9\nZm9v"), "invalid base64 character 0x0a at offset 3");
  EXPECT_EQ(ErrorOf("Zm9vY", Base64Alphabet::kStandard, Base64Padding::kOptional),
            "base64 ends with a dangling character at offset 4 (one character encodes no whole "
            "byte)");
}

TEST(Base64Test, RejectsNonCanonicalTrailingBits) {
  // "Zg==" is 'f'; "Zh==" sets an unused low bit and must not also decode to 'f'.
  EXPECT_THAT(ErrorOf("Zh=="), HasSubstr("unused low bits of the character at offset 1"));
  EXPECT_THAT(ErrorOf("Zm9=", Base64Alphabet::kStandard), HasSubstr("at offset 2"));
  EXPECT_TRUE(Base64Decode("Zm8=").ok());
}

TEST(Base64Test, RoundTripsEveryLengthAndMode) {
  std::mt19937 rng(20240521);
  for (size_t len = 0; len < 200; ++len) {
    std::vector<uint8_t> data(len);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    for (auto alphabet : {Base64Alphabet::kStandard, Base64Alphabet::kUrl}) {
      for (bool pad : {true, false}) {
        const std::string text = Base64Encode(data, alphabet, pad);
        EXPECT_EQ(text.size(), pad ? (len + 2) / 3 * 4 : (len * 4 + 2) / 3);
        auto back = Base64Decode(text, alphabet,
                                 pad ? Base64Padding::kRequired : Base64Padding::kForbidden);
        ASSERT_TRUE(back.ok()) << back.status();
        EXPECT_EQ(*back, data);
      }
    }
  }
}

TEST(Base64Test, PemRoundTripAndSurroundingText) {
  std::vector<uint8_t> der(300);
  for (size_t i = 0; i < der.size(); ++i) der[i] = static_cast<uint8_t>(i * 7);
  const std::string pem = PemEncode("CERTIFICATE", der);
  EXPECT_EQ(pem.find("-----BEGIN CERTIFICATE-----\n"), 0u);
  EXPECT_NE(pem.find("\n-----END CERTIFICATE-----\n"), std::string::npos);
  const std::string text =
      "Certificate:\n  dump...\n" + pem + "junk\n" + PemEncode("KEY", {der.data(), 5});
  auto blocks = PemDecode(text);
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  ASSERT_EQ(blocks->size(), 2u);
  EXPECT_EQ((*blocks)[0].label, "CERTIFICATE");
  EXPECT_EQ((*blocks)[0].der, der);
  EXPECT_EQ((*blocks)[1].label, "KEY");
  EXPECT_EQ((*blocks)[1].der, std::vector<uint8_t>(der.begin(), der.begin() + 5));
  // CRLF line endings are fine.
  std::string crlf;
  for (char c : pem) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  auto crlf_blocks = PemDecode(crlf);
  ASSERT_TRUE(crlf_blocks.ok()) << crlf_blocks.status();
  EXPECT_EQ((*crlf_blocks)[0].der, der);
}

TEST(Base64Test, PemErrorsNameTheBlock) {
  const std::string pem = PemEncode("CERTIFICATE", std::vector<uint8_t>(60, 1));
  auto truncated = PemDecode(pem.substr(0, pem.size() - 20));
  ASSERT_FALSE(truncated.ok());
  EXPECT_THAT(truncated.status().message(),
              HasSubstr("PEM block \"CERTIFICATE\" at offset 0: no \"-----END CERTIFICATE-----\""));
  std::string bad = pem;
  bad[30] = '*';
  auto corrupt = PemDecode(bad);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_THAT(corrupt.status().message(),
              HasSubstr("PEM block \"CERTIFICATE\" at offset 0: invalid base64 character '*'"));
  auto empty = PemDecode("-----BEGIN X-----\n-----END X-----\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("is empty"));
  auto none = PemDecode("no pem here");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace tng::crypto
