// JSON documents that remember where every value came from: parsed with simdjson (On Demand) into a
// small tree, with `//` and `/* */` comments allowed (see core/json_reader.h for reading them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tng::json {

// Message assembly. absl::StrCat does not take std::string_view with Debian's Abseil (where
// absl::string_view is a type of its own), and messages here are built from string_views.
inline void AppendTo(std::string& out, std::string_view s) { out.append(s); }
// Integers as decimal numbers; char and bool are left out so that they cannot print as numbers.
template <typename T>
concept DecimalNumber =
    std::is_integral_v<T> && !std::is_same_v<T, char> && !std::is_same_v<T, bool>;
template <DecimalNumber T>
void AppendTo(std::string& out, T v) {
  out += std::to_string(v);
}
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (AppendTo(out, args), ...);
  return out;
}

// A position in the original text. line and column are 1-based; column counts Unicode code points.
struct Location {
  size_t offset = 0;
  int line = 1;
  int column = 1;
};

enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

struct Member;

// One JSON value. Object members keep their order; duplicate keys are rejected when parsing.
class Value {
 public:
  enum class NumberKind { kInteger, kFloat, kOutOfRange };

  Kind kind() const { return kind_; }
  size_t offset() const { return offset_; }  // of the value's first byte

  bool boolean() const { return boolean_; }
  // Strings: the unescaped text. Numbers and literals: the source token, as written.
  const std::string& text() const { return text_; }
  NumberKind number_kind() const { return number_kind_; }
  // Only for NumberKind::kInteger; `negative` tells which one holds the value.
  bool negative() const { return negative_; }
  uint64_t magnitude() const { return magnitude_; }  // |value|

  const std::vector<Value>& elements() const { return elements_; }
  const std::vector<Member>& members() const { return members_; }
  const Value* Find(std::string_view key) const;

 private:
  friend class Builder;
  Kind kind_ = Kind::kNull;
  size_t offset_ = 0;
  bool boolean_ = false;
  std::string text_;
  NumberKind number_kind_ = NumberKind::kInteger;
  bool negative_ = false;
  uint64_t magnitude_ = 0;
  std::vector<Value> elements_;
  std::vector<Member> members_;
};

struct Member {
  std::string key;
  size_t key_offset = 0;  // of the opening quote
  Value value;
};

// "string \"abc\"", "number 70000", "object", "array", "true", "null": what a value is, for
// "expected ..., got ..." messages.
std::string Describe(const Value& value);

// `s` as a JSON string literal, with the escapes JSON requires.
std::string Quote(std::string_view s);
// `value` as compact JSON (numbers as written in the source).
std::string ToJson(const Value& value);

// A parsed text plus what is needed to point into it.
class Document {
 public:
  // Comments are blanked out before simdjson sees the text, byte for byte, so every offset in the
  // tree is an offset into `text`. Syntax errors name the line and column of the offending token.
  static absl::StatusOr<Document> Parse(std::string_view text, std::string_view source_name);

  const Value& root() const { return root_; }
  const std::string& source_name() const { return source_name_; }
  const std::string& text() const { return text_; }
  Location Locate(size_t offset) const;
  // "<source>:<line>:<column>"
  std::string Where(size_t offset) const;

 private:
  std::string text_;
  std::string source_name_;
  std::vector<size_t> line_starts_;
  Value root_;
};

// Replaces `//` and `/* */` comments outside strings with spaces (newlines kept), so the result has
// the same length and line structure as the input. Fails on an unterminated `/*` comment.
absl::StatusOr<std::string> StripComments(std::string_view text, std::string_view source_name);

// "add_ingress[0].mapping" + "in" -> "add_ingress[0].mapping.in"; keys that are not identifiers are
// quoted: `as_headers["X-Token"]`.
std::string JoinPath(std::string_view parent, std::string_view key);
std::string JoinPath(std::string_view parent, size_t index);

}  // namespace tng::json
