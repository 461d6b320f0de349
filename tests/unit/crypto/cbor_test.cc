#include "crypto/cbor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

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

std::string ToHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::string DecodeError(std::string_view hex, const CborLimits& limits = {}) {
  auto r = CborDecode(FromHex(hex), limits);
  EXPECT_FALSE(r.ok()) << hex << " decoded as " << (r.ok() ? CborDiagnostic(*r) : "");
  return r.ok() ? "" : std::string(r.status().message());
}

std::vector<uint8_t> Utf8(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// RFC 8949 Appendix A: each value encodes to exactly these bytes and decodes back.
TEST(CborTest, Rfc8949AppendixAVectors) {
  std::vector<CborValue> twenty_five;
  for (uint64_t i = 1; i <= 25; ++i) twenty_five.push_back(CborValue::Unsigned(i));
  const std::pair<CborValue, std::string_view> kVectors[] = {
      {CborValue::Unsigned(0), "00"},
      {CborValue::Unsigned(1), "01"},
      {CborValue::Unsigned(10), "0a"},
      {CborValue::Unsigned(23), "17"},
      {CborValue::Unsigned(24), "1818"},
      {CborValue::Unsigned(25), "1819"},
      {CborValue::Unsigned(100), "1864"},
      {CborValue::Unsigned(1000), "1903e8"},
      {CborValue::Unsigned(1000000), "1a000f4240"},
      {CborValue::Unsigned(1000000000000), "1b000000e8d4a51000"},
      {CborValue::Unsigned(18446744073709551615u), "1bffffffffffffffff"},
      {CborValue::Negative(18446744073709551615u), "3bffffffffffffffff"},
      {CborValue::Int(-1), "20"},
      {CborValue::Int(-10), "29"},
      {CborValue::Int(-100), "3863"},
      {CborValue::Int(-1000), "3903e7"},
      {CborValue::Bytes(std::vector<uint8_t>{}), "40"},
      {CborValue::Bytes(FromHex("01020304")), "4401020304"},
      {CborValue::Text(""), "60"},
      {CborValue::Text("a"), "6161"},
      {CborValue::Text("IETF"), "6449455446"},
      {CborValue::Text("\"\\"), "62225c"},
      {CborValue::Text("\xc3\xbc"), "62c3bc"},
      {CborValue::Text("\xe6\xb0\xb4"), "63e6b0b4"},
      {CborValue::Text("\xf0\x90\x85\x91"), "64f0908591"},
      {CborValue::Array({}), "80"},
      {CborValue::Array({CborValue::Unsigned(1), CborValue::Unsigned(2), CborValue::Unsigned(3)}),
       "83010203"},
      {CborValue::Array({CborValue::Unsigned(1),
                         CborValue::Array({CborValue::Unsigned(2), CborValue::Unsigned(3)}),
                         CborValue::Array({CborValue::Unsigned(4), CborValue::Unsigned(5)})}),
       "8301820203820405"},
      {CborValue::Array(twenty_five), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"},
      {CborValue::Map({}), "a0"},
      {CborValue::Map({{CborValue::Unsigned(1), CborValue::Unsigned(2)},
                       {CborValue::Unsigned(3), CborValue::Unsigned(4)}}),
       "a201020304"},
      {CborValue::Map({{CborValue::Text("a"), CborValue::Unsigned(1)},
                       {CborValue::Text("b"),
                        CborValue::Array({CborValue::Unsigned(2), CborValue::Unsigned(3)})}}),
       "a26161016162820203"},
      {CborValue::Bool(false), "f4"},
      {CborValue::Bool(true), "f5"},
      {CborValue::Null(), "f6"},
      {CborValue::Undefined(), "f7"},
      {CborValue::Tag(1, CborValue::Unsigned(1363896240)), "c11a514b67b0"},
      {CborValue::Tag(32, CborValue::Text("http://www.example.com")),
       "d82076687474703a2f2f7777772e6578616d706c652e636f6d"},
      {CborValue::Float(1.1), "fb3ff199999999999a"},
  };
  for (const auto& [value, hex] : kVectors) {
    EXPECT_EQ(ToHex(CborEncode(value)), hex) << CborDiagnostic(value);
    auto decoded = CborDecode(FromHex(hex));
    ASSERT_TRUE(decoded.ok()) << hex << ": " << decoded.status();
    EXPECT_EQ(*decoded, value) << hex << " decoded as " << CborDiagnostic(*decoded);
  }
}

TEST(CborTest, DecodesHalfAndSinglePrecisionFloats) {
  const std::pair<std::string_view, double> kVectors[] = {
      {"f90000", 0.0},     {"f93c00", 1.0},          {"f93e00", 1.5},
      {"f97bff", 65504.0}, {"fa47c35000", 100000.0}, {"f90001", 5.960464477539063e-8},
      {"f9c400", -4.0},
  };
  for (const auto& [hex, want] : kVectors) {
    auto v = CborDecode(FromHex(hex));
    ASSERT_TRUE(v.ok()) << hex << ": " << v.status();
    ASSERT_EQ(v->type(), CborType::kFloat);
    EXPECT_EQ(v->float_value(), want) << hex;
  }
  auto neg_zero = CborDecode(FromHex("f98000"));
  ASSERT_TRUE(neg_zero.ok());
  EXPECT_TRUE(std::signbit(neg_zero->float_value()));
  auto inf = CborDecode(FromHex("f97c00"));
  ASSERT_TRUE(inf.ok());
  EXPECT_TRUE(std::isinf(inf->float_value()));
  auto nan = CborDecode(FromHex("f97e00"));
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isnan(nan->float_value()));
}

// rats-rs unit vectors (cbor_unit_vectors in ratls_sample_certs.json), typed in.
TEST(CborTest, RatsRsVectors) {
  const CborValue tagged =
      CborValue::Tag(60000, CborValue::Array({CborValue::Bytes(FromHex("01020304")),
                                              CborValue::Bytes(FromHex("05060708"))}));
  EXPECT_EQ(ToHex(CborEncode(tagged)), "d9ea608244010203044405060708");
  EXPECT_EQ(CborDiagnostic(tagged), "60000([h'01020304', h'05060708'])");

  auto claims = CborDecode(FromHex("a2646b6579314676616c756531646b6579324676616c756532"));
  ASSERT_TRUE(claims.ok()) << claims.status();
  ASSERT_NE(claims->Find("key2"), nullptr);
  EXPECT_EQ(claims->Find("key2")->bytes(), Utf8("value2"));
  EXPECT_EQ(claims->Find("key3"), nullptr);
  EXPECT_EQ(claims->Find("key2")->offset(), 18u);

  const CborValue entry =
      CborValue::Array({CborValue::Unsigned(1), CborValue::Bytes(FromHex("00010203"))});
  EXPECT_EQ(ToHex(CborEncode(entry)), "82014400010203");
}

TEST(CborTest, TngTagsUseFourByteHeads) {
  for (uint64_t tag : {uint64_t{0xC0C000}, uint64_t{0xC0C001}}) {
    const CborValue v = CborValue::Tag(
        tag,
        CborValue::Array({CborValue::Bytes(Utf8("ev")), CborValue::Bytes(std::vector<uint8_t>{})}));
    const auto bytes = CborEncode(v);
    EXPECT_EQ(ToHex(std::span(bytes).first(5)), tag == 0xC0C000 ? "da00c0c000" : "da00c0c001");
    auto back = CborDecode(bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(back->is_tag());
    EXPECT_EQ(back->tag(), tag);
    EXPECT_EQ(back->tagged().items()[0].bytes(), Utf8("ev"));
  }
}

TEST(CborTest, Int64Conversions) {
  for (int64_t v : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    auto back = CborDecode(CborEncode(CborValue::Int(v)));
    ASSERT_TRUE(back.ok());
    auto i = back->AsInt64();
    ASSERT_TRUE(i.ok()) << i.status();
    EXPECT_EQ(*i, v);
  }
  auto too_small = CborValue::Negative(std::numeric_limits<uint64_t>::max()).AsInt64();
  ASSERT_FALSE(too_small.ok());
  EXPECT_THAT(too_small.status().message(), HasSubstr("-18446744073709551616"));
  auto not_int = CborValue::Text("x").AsInt64();
  ASSERT_FALSE(not_int.ok());
  EXPECT_THAT(not_int.status().message(), HasSubstr("found a text string"));
}

TEST(CborTest, TruncationNamesOffsetAndShortfall) {
  EXPECT_EQ(DecodeError("82015820aabbccddee"),
            "truncated byte string at offset 2: need 32 bytes, have 5");
  EXPECT_EQ(DecodeError("1901"),
            "truncated unsigned integer head at offset 0: need 2 more bytes, have 1");
  EXPECT_EQ(DecodeError(""), "truncated input at offset 0: expected a data item, have 0 bytes");
  EXPECT_EQ(DecodeError("8301"),
            "truncated array at offset 0: declares 3 items but only 1 bytes remain");
  EXPECT_EQ(DecodeError("82010203"),
            "trailing bytes at offset 3: 1 bytes follow the top-level data item");
  EXPECT_THAT(DecodeError("9bffffffffffffffff"), HasSubstr("declares 18446744073709551615 items"));
  EXPECT_THAT(DecodeError("a2616101"), HasSubstr("truncated map at offset 0"));
  EXPECT_EQ(DecodeError("65616263"), "truncated text string at offset 0: need 5 bytes, have 3");
}

TEST(CborTest, EveryPrefixOfAValidItemIsRejected) {
  const auto full = CborEncode(CborValue::Map(
      {{CborValue::Text("tee_type"), CborValue::Text("sample")},
       {CborValue::Text("aa_evidence"), CborValue::Bytes(std::vector<uint8_t>(300, 7))},
       {CborValue::Text("n"), CborValue::Tag(0xC0C000, CborValue::Int(-70000))}}));
  ASSERT_TRUE(CborDecode(full).ok());
  for (size_t len = 0; len < full.size(); ++len) {
    auto r = CborDecode(std::span(full).first(len));
    ASSERT_FALSE(r.ok()) << "prefix of " << len << " bytes decoded";
    EXPECT_THAT(r.status().message(), HasSubstr("truncated")) << len;
  }
}

TEST(CborTest, RejectsIndefiniteLengths) {
  EXPECT_EQ(DecodeError("5f42010243030405ff"),
            "indefinite-length byte string at offset 0: not supported, only definite lengths are "
            "accepted");
  EXPECT_THAT(DecodeError("7f657374726561646d696e67ff"),
              HasSubstr("indefinite-length text string at offset 0"));
  EXPECT_THAT(DecodeError("829f0102ff03"), HasSubstr("indefinite-length array at offset 1"));
  EXPECT_THAT(DecodeError("bf61610161629f0203ffff"),
              HasSubstr("indefinite-length map at offset 0"));
  EXPECT_THAT(DecodeError("ff"), HasSubstr("unexpected break code 0xff at offset 0"));
  EXPECT_THAT(DecodeError("1f"), HasSubstr("invalid initial byte 0x1f at offset 0"));
}

TEST(CborTest, RejectsReservedAndUnassignedValues) {
  EXPECT_THAT(DecodeError("1c"), HasSubstr("reserved initial byte 0x1c at offset 0"));
  EXPECT_THAT(DecodeError("8201fe"), HasSubstr("reserved initial byte 0xfe at offset 2"));
  EXPECT_THAT(DecodeError("f810"), HasSubstr("invalid simple value at offset 0"));
  EXPECT_THAT(DecodeError("f820"), HasSubstr("unsupported simple value at offset 0"));
  EXPECT_THAT(DecodeError("f0"), HasSubstr("unsupported simple value at offset 0: value 16"));
}

TEST(CborTest, RejectsInvalidUtf8) {
  EXPECT_EQ(DecodeError("62c328"),
            "invalid UTF-8 in text string at offset 0: byte 0x28 at offset 2");
  EXPECT_THAT(DecodeError("63eda080"), HasSubstr("byte 0xed at offset 1"));    // surrogate
  EXPECT_THAT(DecodeError("62c0af"), HasSubstr("byte 0xc0 at offset 1"));      // overlong
  EXPECT_THAT(DecodeError("64f4908080"), HasSubstr("byte 0xf4 at offset 1"));  // > U+10FFFF
  EXPECT_THAT(DecodeError("8261616261ff"), HasSubstr("text string at offset 3"));
}

TEST(CborTest, RejectsDuplicateMapKeys) {
  EXPECT_EQ(DecodeError("a2616101616102"),
            "duplicate map key at offset 4: \"a\" already appears in the map at offset 0");
  EXPECT_THAT(DecodeError("a3010203040105"), HasSubstr("duplicate map key at offset 5: 1"));
  // Equal values spelled differently are different encodings, but 1 and "1" are distinct keys.
  EXPECT_TRUE(CborDecode(FromHex("a201026131f6")).ok());
}

TEST(CborTest, EnforcesDepthItemAndSizeLimits) {
  CborLimits limits;
  limits.max_depth = 4;
  EXPECT_TRUE(CborDecode(FromHex("8181818100"), limits).ok());
  EXPECT_EQ(DecodeError("818181818100", limits),
            "array nested too deeply at offset 4: the limit is 4 levels");
  EXPECT_THAT(DecodeError("c1c1c1c1c100", limits), HasSubstr("tag nested too deeply at offset 4"));
  EXPECT_THAT(DecodeError("a101a101a101a101a10101", limits), HasSubstr("map nested too deeply"));

  CborLimits few;
  few.max_items = 4;
  EXPECT_TRUE(CborDecode(FromHex("83010203"), few).ok());
  EXPECT_EQ(DecodeError("8401020304", few),
            "too many data items at offset 0: array declares 4 items, the limit is 4 items per "
            "input");
  EXPECT_THAT(DecodeError("82820102820304", few), HasSubstr("too many data items"));

  CborLimits small;
  small.max_input_size = 4;
  EXPECT_EQ(DecodeError("4401020304", small), "CBOR input of 5 bytes exceeds the limit of 4 bytes");

  // The default depth limit holds against deep nesting without exhausting the stack.
  std::vector<uint8_t> deep(100000, 0x81);
  deep.push_back(0x00);
  auto r = CborDecode(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("nested too deeply at offset 16"));
}

// Random mutations of a valid document: every input either fails cleanly or decodes to a value
// whose encoding decodes to the same value again.
TEST(CborTest, MutatedInputsFailCleanlyOrRoundTrip) {
  const auto base = CborEncode(CborValue::Tag(
      60000,
      CborValue::Array({CborValue::Bytes(std::vector<uint8_t>(40, 1)),
                        CborValue::Bytes(CborEncode(CborValue::Map(
                            {{CborValue::Text("pubkey-hash"),
                              CborValue::Array({CborValue::Unsigned(1),
                                                CborValue::Bytes(std::vector<uint8_t>(32, 2))})},
                             {CborValue::Text("f"), CborValue::Float(-2.5)}})))})));
  std::mt19937 rng(7);
  size_t decoded = 0;
  for (int i = 0; i < 3000; ++i) {
    auto input = base;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) input[rng() % input.size()] = static_cast<uint8_t>(rng());
    auto v = CborDecode(input);
    if (!v.ok()) {
      EXPECT_THAT(v.status().message(), HasSubstr("at offset")) << v.status();
      continue;
    }
    ++decoded;
    auto again = CborDecode(CborEncode(*v));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(CborEncode(*again), CborEncode(*v));  // bytes, so that a NaN compares equal
  }
  EXPECT_GT(decoded, 0u);
}

TEST(CborTest, Diagnostics) {
  const CborValue v = CborValue::Map(
      {{CborValue::Text("a\"b"), CborValue::Array({CborValue::Int(-5), CborValue::Null(),
                                                   CborValue::Bool(true), CborValue::Float(0.5)})},
       {CborValue::Unsigned(7), CborValue::Tag(0xC0C001, CborValue::Bytes(FromHex("ff00")))}});
  EXPECT_EQ(CborDiagnostic(v), "{\"a\\\"b\": [-5, null, true, 0.5], 7: 12632065(h'ff00')}");
  EXPECT_EQ(CborDiagnostic(CborValue::Negative(std::numeric_limits<uint64_t>::max())),
            "-18446744073709551616");
}

}  // namespace
}  // namespace tng::crypto
