// Protocol Buffers wire format (varint, fixed32/64, length-delimited) without schemas: a writer
// that appends tagged fields and a reader that walks them, for the few small messages we speak.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tng::pb {

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,  // deprecated groups: rejected by the reader
  kEndGroup = 4,
  kFixed32 = 5,
};

std::string_view WireTypeName(WireType type);

inline constexpr uint32_t kMaxFieldNumber = (1u << 29) - 1;
inline constexpr size_t kMaxVarintSize = 10;

// Appends `v` as a base-128 varint.
void AppendVarint(std::vector<uint8_t>& out, uint64_t v);
size_t VarintSize(uint64_t v);

// Appends fields in the order they are written. proto3 leaves fields at their default value
// (0, empty) out of the encoding; the *IfSet helpers do that for callers.
class Writer {
 public:
  void Varint(uint32_t field, uint64_t v);
  void Int64(uint32_t field, int64_t v) { Varint(field, static_cast<uint64_t>(v)); }
  // int32 negatives are sign-extended to ten bytes, as protobuf requires.
  void Int32(uint32_t field, int32_t v) { Int64(field, v); }
  void Bool(uint32_t field, bool v) { Varint(field, v ? 1 : 0); }
  void Fixed32(uint32_t field, uint32_t v);
  void Fixed64(uint32_t field, uint64_t v);
  void Bytes(uint32_t field, std::span<const uint8_t> v);
  void String(uint32_t field, std::string_view v);
  // An embedded message: its encoding as a length-delimited field.
  void Message(uint32_t field, const Writer& message) { Bytes(field, message.bytes()); }

  void VarintIfSet(uint32_t field, uint64_t v) {
    if (v != 0) Varint(field, v);
  }
  void Int64IfSet(uint32_t field, int64_t v) {
    if (v != 0) Int64(field, v);
  }
  void BytesIfSet(uint32_t field, std::span<const uint8_t> v) {
    if (!v.empty()) Bytes(field, v);
  }
  void StringIfSet(uint32_t field, std::string_view v) {
    if (!v.empty()) String(field, v);
  }

  const std::vector<uint8_t>& bytes() const { return out_; }
  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  void Tag(uint32_t field, WireType type);
  std::vector<uint8_t> out_;
};

// One field as found on the wire.
struct Field {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  uint64_t value = 0;              // kVarint, kFixed32, kFixed64
  std::span<const uint8_t> bytes;  // kLengthDelimited
  size_t offset = 0;               // of the tag, counted from the start of the outermost message
  size_t bytes_offset = 0;         // of `bytes`, same origin

  std::string_view AsStringView() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  int64_t AsInt64() const { return static_cast<int64_t>(value); }
};

struct ReaderLimits {
  // The longest length-delimited field accepted; protects against absurd lengths.
  size_t max_field_length = 64u << 20;
};

// Walks the fields of one message. Errors name the message (`what`), the field number and the
// byte offset. Unknown fields are returned like any other; callers skip what they do not know.
class Reader {
 public:
  // `base_offset` is where `data` starts inside the outermost message, so that errors in embedded
  // messages report offsets a reader of the whole buffer can find.
  explicit Reader(std::span<const uint8_t> data, std::string_view what = "message",
                  size_t base_offset = 0, ReaderLimits limits = {});

  // Reads the next field into `field`: true, or false at the end of the message.
  absl::StatusOr<bool> Next(Field& field);

  // A reader for the embedded message carried by `field` (which must be length-delimited).
  Reader Embedded(const Field& field, std::string_view what) const {
    return Reader(field.bytes, what, field.bytes_offset, limits_);
  }

  // An error for a field whose wire type is not the one the schema declares.
  absl::Status ExpectType(const Field& field, WireType expected) const;
  // An error about `field` with the message's name, the field number and the offset.
  absl::Status FieldError(const Field& field, std::string_view problem) const;

  const std::string& what() const { return what_; }

 private:
  absl::StatusOr<uint64_t> ReadVarint(size_t& pos, std::string_view item) const;
  absl::Status Error(size_t pos, std::string_view problem) const;

  std::span<const uint8_t> data_;
  std::string what_;
  size_t base_offset_;
  ReaderLimits limits_;
  size_t pos_ = 0;
};

}  // namespace tng::pb
