// Reading a parsed JSON document with messages that name where a value is: the JSON path (like
// `add_ingress[0].mapping.in.port`), the line and the column, and what was expected instead.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/json.h"

namespace tng::json {

// Levenshtein distance, and the candidate close enough to `word` to be a likely typo (if any).
size_t EditDistance(std::string_view a, std::string_view b);
std::optional<std::string_view> ClosestMatch(std::string_view word,
                                             std::span<const std::string_view> candidates);

// A value being read, together with the JSON path that led to it, for error messages of the form
// "<source>:<line>:<column>: <path>: <message>".
class Cursor {
 public:
  Cursor(const Document& doc, const Value& value, std::string path)
      : doc_(&doc), value_(&value), path_(std::move(path)) {}

  const Document& doc() const { return *doc_; }
  const Value& value() const { return *value_; }
  const std::string& path() const { return path_; }
  Kind kind() const { return value_->kind(); }
  bool is_null() const { return value_->kind() == Kind::kNull; }
  Location location() const { return doc_->Locate(value_->offset()); }

  absl::Status Error(std::string_view message) const;
  // "expected <expected>, got <what the value is>"
  absl::Status TypeError(std::string_view expected) const;

  absl::StatusOr<std::string> GetString() const;
  absl::StatusOr<std::string> GetNonEmptyString() const;
  absl::StatusOr<bool> GetBool() const;
  // An integer in [min, max]; floats, strings and out of range numbers are rejected.
  absl::StatusOr<uint64_t> GetUnsigned(uint64_t min, uint64_t max) const;
  absl::StatusOr<uint16_t> GetPort() const;  // 1-65535
  absl::StatusOr<std::vector<Cursor>> GetArray() const;
  // An array, or a single value standing for an array of one (TNG's "one or many" fields).
  absl::StatusOr<std::vector<Cursor>> GetOneOrMany() const;
  absl::StatusOr<std::vector<std::string>> GetStringArray() const;
  // An object of string values, in document order.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> GetStringMap() const;

 private:
  const Document* doc_;
  const Value* value_;
  std::string path_;
};

// Reads an object's members by name. Every name asked for is "known"; Finish() rejects the members
// nobody asked for, suggesting the closest known name. An explicit `null` reads as absent.
class ObjectReader {
 public:
  static absl::StatusOr<ObjectReader> Open(const Cursor& cursor);

  const Cursor& cursor() const { return cursor_; }

  std::optional<Cursor> Optional(std::string_view key);
  absl::StatusOr<Cursor> Required(std::string_view key);
  bool Has(std::string_view key) const;  // present and not null; does not mark it known
  // Declares names as known without reading them (so they take part in "did you mean").
  void Known(std::string_view key);
  // The member's own location, for messages about a key (for example a conflict between two keys).
  absl::Status KeyError(std::string_view key, std::string_view message) const;
  absl::Status MissingError(std::string_view key) const;

  absl::Status Finish() const;

 private:
  explicit ObjectReader(const Cursor& cursor) : cursor_(cursor) {}
  const Member* FindMember(std::string_view key) const;

  Cursor cursor_;
  std::vector<std::string_view> known_;
};

}  // namespace tng::json
