// CBOR (RFC 8949) data items: a strict decoder for untrusted input (definite lengths only, depth,
// size and item-count limits, errors naming the byte offset) and an encoder using preferred
// (shortest) heads. Sized for RA-TLS evidence: TCG DICE tagged evidence and TNG's evidence map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace tng::crypto {

enum class CborType : uint8_t {
  kUnsigned,  // major type 0
  kNegative,  // major type 1: the value is -1 - n
  kBytes,     // major type 2
  kText,      // major type 3 (valid UTF-8)
  kArray,     // major type 4
  kMap,       // major type 5
  kTag,       // major type 6: a tag number and one enclosed item
  kSimple,    // major type 7: false, true, null, undefined
  kFloat,     // major type 7: half, single or double precision, held as double
};

enum class CborSimple : uint8_t { kFalse = 20, kTrue = 21, kNull = 22, kUndefined = 23 };

class CborValue {
 public:
  using Entry = std::pair<CborValue, CborValue>;

  CborValue() : CborValue(CborType::kSimple) { number_ = static_cast<uint64_t>(CborSimple::kNull); }

  static CborValue Unsigned(uint64_t v);
  // The negative integer -1 - n (CBOR's encoding; reaches -2^64).
  static CborValue Negative(uint64_t n);
  static CborValue Int(int64_t v);
  static CborValue Bytes(std::span<const uint8_t> bytes);
  static CborValue Bytes(std::vector<uint8_t>&& bytes);
  static CborValue Text(std::string_view utf8);
  static CborValue Array(std::vector<CborValue> items);
  static CborValue Map(std::vector<Entry> entries);
  static CborValue Tag(uint64_t tag, CborValue content);
  static CborValue Bool(bool b);
  static CborValue Null();
  static CborValue Undefined();
  static CborValue Float(double v);

  CborType type() const { return type_; }
  bool is_unsigned() const { return type_ == CborType::kUnsigned; }
  bool is_bytes() const { return type_ == CborType::kBytes; }
  bool is_text() const { return type_ == CborType::kText; }
  bool is_array() const { return type_ == CborType::kArray; }
  bool is_map() const { return type_ == CborType::kMap; }
  bool is_tag() const { return type_ == CborType::kTag; }
  bool is_null() const { return type_ == CborType::kSimple && number_ == 22; }
  bool is_bool() const { return type_ == CborType::kSimple && (number_ == 20 || number_ == 21); }

  // kUnsigned: the value. kNegative: n of -1 - n. kTag: the tag number. kSimple: the simple value.
  uint64_t number() const { return number_; }
  // Integers that fit; an error naming the offset otherwise.
  absl::StatusOr<int64_t> AsInt64() const;
  bool bool_value() const { return number_ == 21; }
  double float_value() const { return float_; }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  const std::string& text() const { return text_; }
  const std::vector<CborValue>& items() const { return items_; }  // kArray
  const std::vector<Entry>& entries() const { return entries_; }  // kMap
  uint64_t tag() const { return number_; }                        // kTag
  const CborValue& tagged() const { return items_.front(); }      // kTag

  // The value under text key `key` in a map, or nullptr (also when this is not a map).
  const CborValue* Find(std::string_view key) const;

  // Where the item's head starts in the decoded input; 0 for values built in code.
  size_t offset() const { return offset_; }

  // "unsigned integer", "byte string", ... for error messages.
  std::string_view TypeName() const;
  static std::string_view TypeName(CborType type);

  // Structural equality; offsets are ignored.
  friend bool operator==(const CborValue& a, const CborValue& b);

 private:
  friend class CborDecoder;
  explicit CborValue(CborType type) : type_(type) {}

  CborType type_;
  uint64_t number_ = 0;
  double float_ = 0;
  size_t offset_ = 0;
  std::vector<uint8_t> bytes_;
  std::string text_;
  std::vector<CborValue> items_;  // array items, or the single tagged item
  std::vector<Entry> entries_;
};

struct CborLimits {
  size_t max_input_size = 1 << 20;
  size_t max_depth = 16;       // nesting of arrays, maps and tags
  size_t max_items = 1 << 16;  // data items in the whole input
};

// Decodes exactly one data item occupying all of `input`. Indefinite lengths, reserved or
// unassigned simple values, invalid UTF-8 in text strings and duplicate map keys are rejected.
absl::StatusOr<CborValue> CborDecode(std::span<const uint8_t> input, const CborLimits& limits = {});

// Preferred serialisation: shortest heads, definite lengths, floats as double precision.
std::vector<uint8_t> CborEncode(const CborValue& value);

// RFC 8949 §8 diagnostic notation, e.g. 60000([h'0102', h'']), for logs and test failures.
std::string CborDiagnostic(const CborValue& value);

}  // namespace tng::crypto
