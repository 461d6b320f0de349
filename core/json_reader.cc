#include "core/json_reader.h"

#include <algorithm>
#include <string>

namespace tng::json {

size_t EditDistance(std::string_view a, std::string_view b) {
  // Optimal string alignment: insertions, deletions, substitutions and adjacent transpositions.
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::optional<std::string_view> ClosestMatch(std::string_view word,
                                             std::span<const std::string_view> candidates) {
  size_t limit = word.size() <= 3 ? 1 : word.size() <= 8 ? 2 : 3;
  std::optional<std::string_view> best;
  size_t best_distance = limit + 1;
  for (std::string_view c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

absl::Status Cursor::Error(std::string_view message) const {
  return absl::InvalidArgumentError(
      Cat(doc_->Where(value_->offset()), ": ", path_, path_.empty() ? "" : ": ", message));
}

absl::Status Cursor::TypeError(std::string_view expected) const {
  return Error(Cat("expected ", expected, ", got ", Describe(*value_)));
}

absl::StatusOr<std::string> Cursor::GetString() const {
  if (kind() != Kind::kString) return TypeError("a string");
  return value_->text();
}

absl::StatusOr<std::string> Cursor::GetNonEmptyString() const {
  if (kind() != Kind::kString || value_->text().empty()) return TypeError("a non-empty string");
  return value_->text();
}

absl::StatusOr<bool> Cursor::GetBool() const {
  if (kind() != Kind::kBool) return TypeError("true or false");
  return value_->boolean();
}

absl::StatusOr<uint64_t> Cursor::GetUnsigned(uint64_t min, uint64_t max) const {
  bool ok = kind() == Kind::kNumber && value_->number_kind() == Value::NumberKind::kInteger &&
            (!value_->negative() || value_->magnitude() == 0) && value_->magnitude() >= min &&
            value_->magnitude() <= max;
  if (!ok) return TypeError(Cat("an integer ", min, "-", max));
  return value_->magnitude();
}

absl::StatusOr<uint16_t> Cursor::GetPort() const {
  absl::StatusOr<uint64_t> port = GetUnsigned(1, 65535);
  if (!port.ok()) return port.status();
  return static_cast<uint16_t>(*port);
}

absl::StatusOr<std::vector<Cursor>> Cursor::GetArray() const {
  if (kind() != Kind::kArray) return TypeError("an array");
  std::vector<Cursor> out;
  for (size_t i = 0; i < value_->elements().size(); ++i) {
    out.emplace_back(*doc_, value_->elements()[i], JoinPath(path_, i));
  }
  return out;
}

absl::StatusOr<std::vector<Cursor>> Cursor::GetOneOrMany() const {
  if (kind() == Kind::kArray) return GetArray();
  return std::vector<Cursor>{*this};
}

absl::StatusOr<std::vector<std::string>> Cursor::GetStringArray() const {
  if (kind() != Kind::kArray) return TypeError("an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < value_->elements().size(); ++i) {
    Cursor element(*doc_, value_->elements()[i], JoinPath(path_, i));
    absl::StatusOr<std::string> s = element.GetString();
    if (!s.ok()) return s.status();
    out.push_back(*std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Cursor::GetStringMap() const {
  if (kind() != Kind::kObject) return TypeError("an object of strings");
  std::vector<std::pair<std::string, std::string>> out;
  for (const Member& m : value_->members()) {
    Cursor element(*doc_, m.value, JoinPath(path_, m.key));
    absl::StatusOr<std::string> s = element.GetString();
    if (!s.ok()) return s.status();
    out.emplace_back(m.key, *std::move(s));
  }
  return out;
}

absl::StatusOr<ObjectReader> ObjectReader::Open(const Cursor& cursor) {
  if (cursor.kind() != Kind::kObject) return cursor.TypeError("an object");
  return ObjectReader(cursor);
}

const Member* ObjectReader::FindMember(std::string_view key) const {
  for (const Member& m : cursor_.value().members()) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

void ObjectReader::Known(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.push_back(key);
}

bool ObjectReader::Has(std::string_view key) const {
  const Member* m = FindMember(key);
  return m != nullptr && m->value.kind() != Kind::kNull;
}

std::optional<Cursor> ObjectReader::Optional(std::string_view key) {
  Known(key);
  const Member* m = FindMember(key);
  if (m == nullptr || m->value.kind() == Kind::kNull) return std::nullopt;
  return Cursor(cursor_.doc(), m->value, JoinPath(cursor_.path(), key));
}

absl::StatusOr<Cursor> ObjectReader::Required(std::string_view key) {
  Known(key);
  const Member* m = FindMember(key);
  if (m == nullptr) return MissingError(key);
  return Cursor(cursor_.doc(), m->value, JoinPath(cursor_.path(), key));
}

absl::Status ObjectReader::KeyError(std::string_view key, std::string_view message) const {
  const Member* m = FindMember(key);
  size_t offset = m != nullptr ? m->key_offset : cursor_.value().offset();
  return absl::InvalidArgumentError(
      Cat(cursor_.doc().Where(offset), ": ", JoinPath(cursor_.path(), key), ": ", message));
}

absl::Status ObjectReader::MissingError(std::string_view key) const {
  return absl::InvalidArgumentError(Cat(cursor_.doc().Where(cursor_.value().offset()), ": ",
                                        JoinPath(cursor_.path(), key), ": missing required key \"",
                                        key, "\""));
}

absl::Status ObjectReader::Finish() const {
  for (const Member& m : cursor_.value().members()) {
    if (std::find(known_.begin(), known_.end(), m.key) != known_.end()) continue;
    std::string message = Cat("unknown key \"", m.key, "\"");
    if (std::optional<std::string_view> hint = ClosestMatch(m.key, known_)) {
      message += Cat("; did you mean \"", *hint, "\"?");
    } else if (!known_.empty()) {
      std::string list;
      for (std::string_view k : known_) list += Cat(list.empty() ? "" : ", ", k);
      message += Cat(" (expected one of: ", list, ")");
    }
    return KeyError(m.key, message);
  }
  return absl::OkStatus();
}

}  // namespace tng::json
