#include "core/protobuf_wire.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tng::pb {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Varint(uint64_t v) {
  std::vector<uint8_t> out;
  AppendVarint(out, v);
  return out;
}

// Reads every field, or the first error.
absl::StatusOr<std::vector<Field>> ReadAll(const std::vector<uint8_t>& bytes,
                                           ReaderLimits limits = {}) {
  Reader r(bytes, "TestMessage", 0, limits);
  std::vector<Field> out;
  Field f;
  for (;;) {
    auto more = r.Next(f);
    if (!more.ok()) return more.status();
    if (!*more) return out;
    out.push_back(f);
  }
}

TEST(ProtobufWireTest, VarintVectors) {
  // From the protobuf encoding guide and the two's-complement rule for negative int64.
  EXPECT_EQ(Varint(0), (std::vector<uint8_t>{0x00}));
  EXPECT_EQ(Varint(1), (std::vector<uint8_t>{0x01}));
  EXPECT_EQ(Varint(127), (std::vector<uint8_t>{0x7f}));
  EXPECT_EQ(Varint(128), (std::vector<uint8_t>{0x80, 0x01}));
  EXPECT_EQ(Varint(150), (std::vector<uint8_t>{0x96, 0x01}));
  EXPECT_EQ(Varint(300), (std::vector<uint8_t>{0xac, 0x02}));
  EXPECT_EQ(Varint(UINT64_MAX),
            (std::vector<uint8_t>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
  EXPECT_EQ(VarintSize(0), 1u);
  EXPECT_EQ(VarintSize(300), 2u);
  EXPECT_EQ(VarintSize(UINT64_MAX), 10u);
}

TEST(ProtobufWireTest, WriterMatchesEncodingGuideExamples) {
  Writer w;
  w.Varint(1, 150);        // 08 96 01
  w.String(2, "testing");  // 12 07 74 65 73 74 69 6e 67
  Writer inner;
  inner.Varint(1, 150);
  w.Message(3, inner);               // 1a 03 08 96 01
  w.Fixed32(5, 1);                   // 2d 01 00 00 00
  w.Fixed64(6, 0x0102030405060708);  // 31 08 07 06 05 04 03 02 01
  w.Int64(7, -1);                    // 38 ff x9 01
  const std::vector<uint8_t> want = {
      0x08, 0x96, 0x01, 0x12, 0x07, 't',  'e',  's',  't',  'i',  'n',  'g',  0x1a, 0x03,
      0x08, 0x96, 0x01, 0x2d, 0x01, 0x00, 0x00, 0x00, 0x31, 0x08, 0x07, 0x06, 0x05, 0x04,
      0x03, 0x02, 0x01, 0x38, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  EXPECT_EQ(w.bytes(), want);
}

TEST(ProtobufWireTest, IfSetHelpersLeaveDefaultsOut) {
  Writer w;
  w.VarintIfSet(1, 0);
  w.Int64IfSet(2, 0);
  w.StringIfSet(3, "");
  w.BytesIfSet(4, {});
  EXPECT_TRUE(w.bytes().empty());
  w.Int64IfSet(2, 5);
  EXPECT_EQ(w.bytes(), (std::vector<uint8_t>{0x10, 0x05}));
}

TEST(ProtobufWireTest, ReaderWalksAllWireTypesWithOffsets) {
  Writer w;
  w.Varint(1, 150);
  w.String(2, "testing");
  w.Fixed32(5, 0xdeadbeef);
  w.Fixed64(6, 0x0102030405060708);
  w.Int64(536870911, -2);  // the largest field number
  auto fields = ReadAll(w.bytes());
  ASSERT_TRUE(fields.ok()) << fields.status();
  ASSERT_EQ(fields->size(), 5u);
  const auto& f = *fields;
  EXPECT_EQ(f[0].number, 1u);
  EXPECT_EQ(f[0].type, WireType::kVarint);
  EXPECT_EQ(f[0].value, 150u);
  EXPECT_EQ(f[0].offset, 0u);
  EXPECT_EQ(f[1].number, 2u);
  EXPECT_EQ(f[1].type, WireType::kLengthDelimited);
  EXPECT_EQ(f[1].AsStringView(), "testing");
  EXPECT_EQ(f[1].offset, 3u);
  EXPECT_EQ(f[1].bytes_offset, 5u);
  EXPECT_EQ(f[2].type, WireType::kFixed32);
  EXPECT_EQ(f[2].value, 0xdeadbeefu);
  EXPECT_EQ(f[2].offset, 12u);
  EXPECT_EQ(f[3].type, WireType::kFixed64);
  EXPECT_EQ(f[3].value, 0x0102030405060708u);
  EXPECT_EQ(f[4].number, kMaxFieldNumber);
  EXPECT_EQ(f[4].AsInt64(), -2);
}

TEST(ProtobufWireTest, EmbeddedReaderReportsOffsetsOfTheWholeBuffer) {
  // Field 3 holds a message whose field 1 (tag at absolute offset 2) has its varint value cut
  // short at absolute offset 3.
  const std::vector<uint8_t> bytes = {0x1a, 0x02, 0x08, 0x96};
  Reader outer(bytes, "Outer");
  Field f;
  auto more = outer.Next(f);
  ASSERT_TRUE(more.ok() && *more);
  Reader inner = outer.Embedded(f, "Inner");
  Field g;
  auto bad = inner.Next(g);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("malformed protobuf Inner at offset 3: field 1: varint truncated"));
}

struct BadInput {
  const char* name;
  std::vector<uint8_t> bytes;
  const char* want;
};

TEST(ProtobufWireTest, MalformedInputsNameFieldAndOffset) {
  const std::vector<BadInput> cases = {
      {"truncated varint value",
       {0x08, 0x96},
       "TestMessage at offset 1: field 1: varint truncated"},
      {"truncated tag", {0x08, 0x01, 0x80}, "at offset 2: field tag: varint truncated"},
      {"length past end",
       {0x08, 0x01, 0x12, 0x07, 't'},
       "field 2 at offset 2: length 7 runs past the end of the message (1 bytes left)"},
      {"varint overflow",
       {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
       "field 1: varint overflows 64 bits"},
      {"field number zero", {0x00, 0x00}, "field number 0 is out of range"},
      {"field number too large",
       {0x80, 0x80, 0x80, 0x80, 0x10},  // number 2^29, varint type
       "field number 536870912 is out of range"},
      {"group", {0x0b}, "field 1 at offset 0: groups (wire types 3 and 4) are not supported"},
      {"wire type 6", {0x0e}, "field 1 at offset 0: invalid wire type 6"},
      {"wire type 7", {0x0f, 0x00}, "invalid wire type 7"},
      {"truncated fixed32",
       {0x2d, 0x01, 0x02},
       "field 5 at offset 0: fixed32 value truncated: 2 of 4"},
      {"truncated fixed64", {0x31, 0x01}, "fixed64 value truncated: 1 of 8"},
  };
  for (const auto& c : cases) {
    auto r = ReadAll(c.bytes);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(r.status().message(), HasSubstr(c.want)) << c.name;
  }
}

TEST(ProtobufWireTest, LengthLimitIsEnforced) {
  Writer w;
  w.Bytes(4, std::vector<uint8_t>(100, 0xab));
  EXPECT_TRUE(ReadAll(w.bytes(), {.max_field_length = 100}).ok());
  auto r = ReadAll(w.bytes(), {.max_field_length = 99});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("field 4 at offset 0: length 100 exceeds the limit of 99 bytes"));
  // A length that cannot be honoured at all is caught before any allocation.
  const std::vector<uint8_t> huge = {0x12, 0xff, 0xff, 0xff, 0xff, 0x0f};
  auto h = ReadAll(huge);
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(h.status().message(), HasSubstr("exceeds the limit"));
}

TEST(ProtobufWireTest, ExpectTypeNamesBothTypes) {
  const std::vector<uint8_t> bytes = {0x08, 0x01};
  Reader r(bytes, "GetTeeTypeResponse");
  Field f;
  ASSERT_TRUE(r.Next(f).ok());
  EXPECT_TRUE(r.ExpectType(f, WireType::kVarint).ok());
  absl::Status st = r.ExpectType(f, WireType::kLengthDelimited);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "malformed protobuf GetTeeTypeResponse: field 1 at offset 0: expected wire type "
            "length-delimited, found varint");
}

TEST(ProtobufWireTest, EmptyMessageHasNoFields) {
  auto r = ReadAll({});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

}  // namespace
}  // namespace tng::pb
