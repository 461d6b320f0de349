#include "crypto/canonical_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <string>

namespace tng::crypto {
namespace {

using ::testing::HasSubstr;

std::string Canonical(std::string_view json) {
  auto r = CanonicalizeJson(json);
  EXPECT_TRUE(r.ok()) << json << ": " << r.status();
  return r.ok() ? *r : "";
}

std::string Error(std::string_view json, const CanonicalJsonLimits& limits = {}) {
  auto r = CanonicalizeJson(json, limits);
  EXPECT_FALSE(r.ok()) << json << " canonicalised as " << (r.ok() ? *r : "");
  return r.ok() ? "" : std::string(r.status().message());
}

// RFC 8785 §3.2.2 example, input and output as printed there.
TEST(CanonicalJsonTest, Rfc8785Example) {
  const std::string input = R"({
    "numbers": [333333333.33333329, 1E30, 4.50,
                2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })";
  EXPECT_EQ(Canonical(input),
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
            "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

// RFC 8785 §3.2.3: keys sort by UTF-16 code units, so U+1F600 (surrogates D83D DE00) sorts
// before U+FB33 although its UTF-8 bytes sort after.
TEST(CanonicalJsonTest, Rfc8785KeyOrderIsUtf16) {
  const std::string input = R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })";
  EXPECT_EQ(Canonical(input),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
            "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
            "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
            "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

// RFC 8785 Appendix B: IEEE 754 bit patterns and their ECMAScript serialisation.
TEST(CanonicalJsonTest, Rfc8785AppendixBNumbers) {
  const std::pair<uint64_t, std::string_view> kVectors[] = {
      {0x0000000000000000, "0"},
      {0x8000000000000000, "0"},
      {0x0000000000000001, "5e-324"},
      {0x8000000000000001, "-5e-324"},
      {0x7fefffffffffffff, "1.7976931348623157e+308"},
      {0xffefffffffffffff, "-1.7976931348623157e+308"},
      {0x4340000000000000, "9007199254740992"},
      {0xc340000000000000, "-9007199254740992"},
      {0x4430000000000000, "295147905179352830000"},
      {0x44b52d02c7e14af5, "9.999999999999997e+22"},
      {0x44b52d02c7e14af6, "1e+23"},
      {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
      {0x444b1ae4d6e2ef4e, "999999999999999700000"},
      {0x444b1ae4d6e2ef4f, "999999999999999900000"},
      {0x444b1ae4d6e2ef50, "1e+21"},
      {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
      {0x3eb0c6f7a0b5ed8d, "0.000001"},
      {0x41b3de4355555553, "333333333.3333332"},
      {0x41b3de4355555554, "333333333.33333325"},
      {0x41b3de4355555555, "333333333.3333333"},
      {0x41b3de4355555556, "333333333.3333334"},
      {0x41b3de4355555557, "333333333.33333343"},
      {0xbecbf647612f3696, "-0.0000033333333333333333"},
      {0x43143ff3c1cb0959, "1424953923781206.2"},
  };
  for (const auto& [bits, want] : kVectors) {
    auto s = FormatJsonNumber(std::bit_cast<double>(bits));
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(*s, want) << std::hex << bits;
  }
  EXPECT_FALSE(FormatJsonNumber(std::numeric_limits<double>::quiet_NaN()).ok());
  EXPECT_FALSE(FormatJsonNumber(-std::numeric_limits<double>::infinity()).ok());
}

TEST(CanonicalJsonTest, NumbersFromText) {
  EXPECT_EQ(Canonical("[1.0, -0, 100, 1e2, -1.5e-7, 12345678901234567890, 9007199254740993]"),
            "[1,0,100,100,-1.5e-7,12345678901234567000,9007199254740992]");
  EXPECT_EQ(Canonical("[-9007199254740992,9007199254740992,-9223372036854775808]"),
            "[-9007199254740992,9007199254740992,-9223372036854776000]");
}

TEST(CanonicalJsonTest, StringEscapes) {
  EXPECT_EQ(Canonical(R"(["\u0000\u0001\b\t\n\f\r\u001f", "\/", "\u00e9", " \"\\ "])"),
            "[\"\\u0000\\u0001\\b\\t\\n\\f\\r\\u001f\",\"/\",\"\xc3\xa9\",\" \\\"\\\\ \"]");
  std::string out;
  AppendCanonicalJsonString("a\x7f\xe2\x82\xac\"", out);
  EXPECT_EQ(out, "\"a\x7f\xe2\x82\xac\\\"\"");
}

TEST(CanonicalJsonTest, NestedStructuresAndWhitespace) {
  EXPECT_EQ(Canonical(" { \"b\" : [ { \"z\":1 , \"a\" : { } } , [ ] ] , \"a\" : \"x\" } "),
            "{\"a\":\"x\",\"b\":[{\"a\":{},\"z\":1},[]]}");
  EXPECT_EQ(Canonical("\"top-level string\""), "\"top-level string\"");
  EXPECT_EQ(Canonical("true"), "true");
  // TNG's runtime-data claims.
  EXPECT_EQ(Canonical(R"({ "pubkey-hash" : "gQFYIA==" })"), R"({"pubkey-hash":"gQFYIA=="})");
}

TEST(CanonicalJsonTest, RejectsWhatJcsForbids) {
  EXPECT_THAT(Error(R"({"a":1,"b":2,"a":3})"), HasSubstr("duplicate JSON object key \"a\""));
  EXPECT_THAT(Error("[1E400]"), HasSubstr("invalid JSON"));
  EXPECT_THAT(Error("{\"a\":}"), HasSubstr("invalid JSON"));
  EXPECT_THAT(Error("[\"\xff\"]"), HasSubstr("invalid JSON"));  // not UTF-8
  EXPECT_THAT(Error("{} {}"), HasSubstr("invalid JSON"));
}

TEST(CanonicalJsonTest, EnforcesLimits) {
  CanonicalJsonLimits small;
  small.max_input_size = 8;
  EXPECT_EQ(Error("[1,2,3,4,5]", small), "JSON input of 11 bytes exceeds the limit of 8 bytes");
  CanonicalJsonLimits shallow;
  shallow.max_depth = 4;
  EXPECT_EQ(Canonical("[[[1]]]"), "[[[1]]]");
  EXPECT_THAT(Error("[[[[[[1]]]]]]", shallow), HasSubstr("invalid JSON"));
}

}  // namespace
}  // namespace tng::crypto
