#include "crypto/der.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_format.h"

namespace tng::crypto {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> FromHex(std::string_view hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string NextError(std::string_view hex, std::string_view what = "field") {
  const auto bytes = FromHex(hex);
  DerReader r(bytes);
  auto e = r.Next(what);
  EXPECT_FALSE(e.ok()) << hex;
  return e.ok() ? "" : std::string(e.status().message());
}

TEST(DerTest, OidsBothWays) {
  const std::pair<std::string_view, std::string_view> kOids[] = {
      {"2.23.133.5.4.9", "678105050409"},  // tcg-dice-tagged-evidence (ratls.md)
      {"2.23.133.5.4.2", "678105050402"},  // tcg-dice-endorsement-manifest
      {"1.2.840.10045.3.1.7", "2a8648ce3d030107"},
      {"1.2.840.113741.1.13.1", "2a864886f84d010d01"},
      {"1.3.6.1.5.5.7.1.35", "2b06010505070123"},
      {"2.999.3", "883703"},  // first sub-identifier above 127
  };
  for (const auto& [dotted, hex] : kOids) {
    auto bytes = OidFromString(dotted);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(*bytes, FromHex(hex)) << dotted;
    auto text = OidToString(FromHex(hex));
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(*text, dotted);
  }
  // Gramine's legacy quote extension puts a whole TLV inside the OID (ratls.md §2.2); strict
  // parsers show it as 0.6.9.42.840.113741.1337.6, and so do we.
  EXPECT_EQ(*OidToString(FromHex("06092a864886f84d8a3906")), "0.6.9.42.840.113741.1337.6");
  EXPECT_FALSE(OidToString(FromHex("2a86")).ok());    // truncated sub-identifier
  EXPECT_FALSE(OidToString(FromHex("2a8001")).ok());  // non-minimal
  EXPECT_FALSE(OidToString({}).ok());
  for (std::string_view bad : {"", "1", "3.1", "1.40", "1..2", "1.2.x", "1.2."}) {
    EXPECT_FALSE(OidFromString(bad).ok()) << bad;
  }
}

TEST(DerTest, ReaderOffsetsAndStrictness) {
  const auto bytes = FromHex(
      "3006020101040100"
      "0500");
  DerReader top(bytes, 100);
  auto seq = top.Expect(der::kSequence, "outer");
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(seq->offset, 100u);
  DerReader inner = DerReader::Contents(*seq);
  auto integer = inner.Expect(der::kInteger, "n");
  ASSERT_TRUE(integer.ok());
  EXPECT_EQ(integer->offset, 102u);
  auto wrong = inner.Expect(der::kInteger, "second integer");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(),
            "expected INTEGER (tag 0x02) for second integer at offset 105, found tag 0x04");
  auto octets = inner.Next("octets");
  ASSERT_TRUE(octets.ok());
  EXPECT_TRUE(inner.empty());
  EXPECT_EQ(inner.Expect(der::kNull, "tail").status().message(),
            "truncated DER at offset 108: tail (NULL) is missing");
  EXPECT_EQ(top.ExpectEnd("outer").message(),
            "unexpected 2 trailing bytes at offset 108 after outer");

  EXPECT_EQ(NextError("3080", "seq"),
            "indefinite length for seq at offset 0 is not allowed in DER");
  EXPECT_EQ(NextError("04817f00"), "non-minimal DER length of field at offset 0");
  EXPECT_EQ(NextError("0482007f"), "non-minimal DER length of field at offset 0");
  EXPECT_EQ(NextError("04850000000001"),
            "length of field at offset 0 uses 5 bytes; at most 4 supported");
  EXPECT_EQ(NextError("0482ff"),
            "truncated DER length of field at offset 0: need 2 length bytes, have 1");
  EXPECT_EQ(NextError("04050102"), "truncated field at offset 0: need 5 bytes, have 2");
  EXPECT_EQ(NextError("1f0100"),
            "unsupported DER tag 0x1f (high tag number) for field at offset 0");
  EXPECT_EQ(NextError("04"),
            "truncated DER at offset 0: need a tag and length for field, have 1 bytes");
}

TEST(DerTest, IntegersAndBitStrings) {
  EXPECT_EQ(DerSmallInteger(0), FromHex("020100"));
  EXPECT_EQ(DerSmallInteger(127), FromHex("02017f"));
  EXPECT_EQ(DerSmallInteger(128), FromHex("02020080"));
  EXPECT_EQ(DerSmallInteger(65536), FromHex("0203010000"));
  EXPECT_EQ(DerUnsignedIntegerTlv(FromHex("0000ff01")), FromHex("020300ff01"));

  // The magnitude's hex, or the error message.
  auto unsigned_value = [](std::string_view hex) -> std::string {
    const auto bytes = FromHex(hex);
    DerReader r(bytes);
    auto e = r.Next("n");
    auto v = DerUnsignedInteger(*e, "n");
    if (!v.ok()) return std::string(v.status().message());
    std::string out;
    for (uint8_t b : *v) out += absl::StrFormat("%02x", b);
    return out;
  };
  EXPECT_EQ(unsigned_value("020300ff01"), "ff01");
  EXPECT_EQ(unsigned_value("020100"), "00");
  EXPECT_EQ(unsigned_value("0201ff"), "negative INTEGER for n at offset 0");
  EXPECT_EQ(unsigned_value("02020001"), "non-minimal INTEGER for n at offset 0");

  const auto bits = FromHex("03030201ff");
  DerReader r(bits);
  auto e = r.Next("bits");
  EXPECT_THAT(DerBitStringBytes(*e, "key").status().message(),
              HasSubstr("BIT STRING for key at offset 0 has 2 unused bits"));
  EXPECT_EQ(DerBitString(FromHex("abcd")), FromHex("030300abcd"));
}

TEST(DerTest, LongLengthsRoundTrip) {
  for (size_t len :
       {size_t{0}, size_t{127}, size_t{128}, size_t{255}, size_t{256}, size_t{70000}}) {
    const std::vector<uint8_t> content(len, 0x5a);
    const auto tlv = DerOctetString(content);
    DerReader r(tlv);
    auto e = r.Next("octets");
    ASSERT_TRUE(e.ok()) << len << ": " << e.status();
    EXPECT_EQ(e->value.size(), len);
    EXPECT_EQ(e->whole.size(), tlv.size());
    EXPECT_TRUE(r.empty());
  }
  EXPECT_EQ(DerOctetString(std::vector<uint8_t>(200)).size(), 203u);  // 04 81 c8
  EXPECT_EQ(DerOctetString(std::vector<uint8_t>(300)).size(), 304u);  // 04 82 01 2c
}

TEST(DerTest, TimesBothWays) {
  const std::pair<int64_t, std::string_view> kTimes[] = {
      {0, "170d3730303130313030303030305a"},               // 700101000000Z
      {1767225600, "170d3236303130313030303030305a"},      // 260101000000Z
      {951782400, "170d3030303232393030303030305a"},       // 000229000000Z (leap day)
      {2524608000, "180f32303530303130313030303030305a"},  // 20500101000000Z: GeneralizedTime
      {-631152000, "170d3530303130313030303030305a"},      // 500101000000Z: 1950 is UTCTime
  };
  for (const auto& [unix_time, hex] : kTimes) {
    EXPECT_EQ(DerTime(unix_time), FromHex(hex)) << unix_time;
    const auto bytes = FromHex(hex);
    DerReader r(bytes);
    auto e = r.Next("time");
    auto back = DerTimeToUnix(*e, "notBefore");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, unix_time);
  }
  const auto bad = FromHex("170d3236313330313030303030305a");  // month 13
  DerReader r(bad);
  auto e = r.Next("time");
  EXPECT_EQ(DerTimeToUnix(*e, "notAfter").status().message(),
            "malformed UTCTime \"261301000000Z\" for notAfter at offset 0");
}

}  // namespace
}  // namespace tng::crypto
