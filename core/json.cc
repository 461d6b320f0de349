#include "core/json.h"

#include <simdjson.h>

#include <algorithm>
#include <utility>

namespace tng::json {
namespace {

namespace od = simdjson::ondemand;

constexpr int kMaxDepth = 512;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsDelimiter(char c) {
  return IsSpace(c) || c == ',' || c == ':' || c == '{' || c == '}' || c == '[' || c == ']' ||
         c == '"';
}

// Offset just past the string whose opening quote is at `start`, or npos if the string does not
// end on its line (JSON strings cannot contain raw newlines).
size_t SkipString(std::string_view text, size_t start) {
  for (size_t i = start + 1; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      return i + 1;
    } else if (text[i] == '\n') {
      return std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

// At most `n` bytes of `s`, not cutting a UTF-8 sequence in two.
std::string_view Utf8Prefix(std::string_view s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// A short excerpt of the token at `offset`, for "found ..." in messages.
std::string TokenAt(std::string_view text, size_t offset) {
  if (offset >= text.size()) return "end of input";
  if (text[offset] == '"') {
    size_t end = SkipString(text, offset);
    std::string_view s = text.substr(offset, end == std::string_view::npos ? 24 : end - offset);
    if (s.size() > 40) return Cat(Utf8Prefix(s, 37), "...");
    return std::string(s);
  }
  if (IsDelimiter(text[offset])) return Cat("'", text.substr(offset, 1), "'");
  size_t end = offset;
  while (end < text.size() && !IsDelimiter(text[end]) && end - offset < 24) ++end;
  return Cat("'", Utf8Prefix(text.substr(offset), end - offset), "'");
}

size_t FindInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return i;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
    }
    i += n;
  }
  return s.size();
}

// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

bool IsIdentifier(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string Excerpt(std::string_view s) {
  std::string out = "\"";
  for (char c : Utf8Prefix(s, 40)) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  if (s.size() > 40) out += "...";
  return out + "\"";
}

// Line and column of `offset` (used before a Document exists).
Location LocateByScanning(std::string_view text, size_t offset) {
  Location loc;
  loc.offset = offset;
  for (size_t k = 0; k < offset && k < text.size(); ++k) {
    if (text[k] == '\n') {
      ++loc.line;
      loc.column = 1;
    } else if ((static_cast<unsigned char>(text[k]) & 0xC0) != 0x80) {
      ++loc.column;
    }
  }
  return loc;
}

}  // namespace

// Turns simdjson's On Demand walk into a Value tree, naming the place of the first syntax error.
class Builder {
 public:
  Builder(const Document& doc, std::string_view stripped, const char* base, od::document& od_doc)
      : doc_(doc), text_(stripped), base_(base), od_doc_(od_doc) {}

  absl::Status BuildRoot(Value& out) {
    bool scalar = false;
    if (auto err = od_doc_.is_scalar().get(scalar); err) return Fail(0, "", err);
    if (scalar) return BuildScalar(od_doc_, out, "");
    od::value root;
    if (auto err = od_doc_.get_value().get(root); err) return Fail(0, "", err);
    return Build(root, out, "", 0);
  }

 private:
  enum class Step { kFirstMember, kNextMember, kFirstElement, kNextElement };

  absl::Status Error(size_t offset, std::string_view path, std::string_view message) {
    return absl::InvalidArgumentError(
        Cat(doc_.Where(offset), ": ", path, path.empty() ? "" : ": ", message));
  }

  absl::Status Fail(size_t offset, std::string_view path, simdjson::error_code err) {
    return Error(
        offset, path,
        Cat("invalid JSON: ", simdjson::error_message(err), " (at ", TokenAt(text_, offset), ")"));
  }

  size_t CurrentOffset() {
    const char* loc = nullptr;
    if (od_doc_.current_location().get(loc) != simdjson::SUCCESS) return text_.size();
    return std::min<size_t>(loc - base_, text_.size());
  }

  size_t PreviousSignificant(size_t offset) const {
    while (offset > 0 && IsSpace(text_[offset - 1])) --offset;
    return offset == 0 ? std::string_view::npos : offset - 1;
  }

  // Whether the string that ends with the quote at `close` is an object key.
  bool EndsKey(size_t close) const {
    size_t open = close;
    while (open > 0) {
      --open;
      if (text_[open] != '"') continue;
      size_t backslashes = 0;
      while (open - backslashes > 0 && text_[open - backslashes - 1] == '\\') ++backslashes;
      if (backslashes % 2 == 0) break;
    }
    size_t before = PreviousSignificant(open);
    return before != std::string_view::npos && (text_[before] == '{' || text_[before] == ',');
  }

  // simdjson says "improper structure"; look at the neighbourhood to say what was expected.
  absl::Status Structure(Step step, std::string_view path, std::string_view last_key) {
    size_t at = CurrentOffset();
    size_t prev = PreviousSignificant(at);
    char p = prev == std::string_view::npos ? '\0' : text_[prev];
    char c = at < text_.size() ? text_[at] : '\0';
    std::string found = TokenAt(text_, at);
    std::string message;
    if (step == Step::kFirstMember || step == Step::kNextMember) {
      if (p == '"' && EndsKey(prev)) {
        message = Cat("expected ':' after the key, found ", found);
      } else if (p == ',' && c == '}') {
        message = "trailing comma before '}' (JSON does not allow it)";
      } else if (p == ',' || p == '{') {
        message = Cat("expected a key in double quotes, found ", found);
      } else {
        message = Cat("expected ',' or '}' after the value of \"", last_key, "\", found ", found,
                      c == '"' ? " (missing comma?)" : "");
      }
    } else if (p == ',' && c == ']') {
      message = "trailing comma before ']' (JSON does not allow it)";
    } else if (p == ',' || p == '[') {
      message = Cat("expected a value, found ", found);
    } else {
      message = Cat("expected ',' or ']' after the array element, found ", found,
                    c == '"' || c == '{' ? " (missing comma?)" : "");
    }
    return Error(at, path, Cat("syntax error: ", message));
  }

  absl::Status MissingValue(size_t at, std::string_view path) {
    size_t prev = PreviousSignificant(at);
    if (prev != std::string_view::npos && text_[prev] == ',' && at < text_.size() &&
        (text_[at] == ']' || text_[at] == '}')) {
      return Error(at, path,
                   Cat("syntax error: trailing comma before '", text_.substr(at, 1),
                       "' (JSON does not allow it)"));
    }
    return Error(at, path, Cat("syntax error: expected a value, found ", TokenAt(text_, at)));
  }

  template <typename V>
  absl::Status BuildScalar(V& v, Value& out, std::string_view path) {
    std::string_view token;
    if constexpr (std::is_same_v<V, od::document>) {
      if (auto err = v.raw_json_token().get(token); err) return Fail(CurrentOffset(), path, err);
    } else {
      token = v.raw_json_token();
    }
    while (!token.empty() && IsSpace(token.back())) token.remove_suffix(1);
    out.offset_ = token.data() - base_;
    od::json_type type;
    if (v.type().get(type) != simdjson::SUCCESS) return MissingValue(out.offset_, path);
    auto bad_literal = [&] {
      return Error(out.offset_, path,
                   Cat("syntax error: invalid literal ", TokenAt(text_, out.offset_),
                       " (expected true, false or null)"));
    };
    switch (type) {
      case od::json_type::string: {
        std::string_view s;
        if (v.get_string().get(s) != simdjson::SUCCESS) {
          return Error(out.offset_, path,
                       "syntax error: invalid string (bad escape sequence or control character)");
        }
        out.kind_ = Kind::kString;
        out.text_ = std::string(s);
        return absl::OkStatus();
      }
      case od::json_type::number: {
        out.kind_ = Kind::kNumber;
        out.text_ = std::string(token);
        if (!IsJsonNumber(token)) {
          return Error(out.offset_, path,
                       Cat("syntax error: invalid number ", TokenAt(text_, out.offset_)));
        }
        od::number n;
        if (v.get_number().get(n) != simdjson::SUCCESS) {
          out.number_kind_ = Value::NumberKind::kOutOfRange;  // grammatical, but too large
          return absl::OkStatus();
        }
        if (n.is_double()) {
          out.number_kind_ = Value::NumberKind::kFloat;
        } else if (n.is_uint64()) {
          out.magnitude_ = n.get_uint64();
        } else {
          int64_t i = n.get_int64();
          out.negative_ = i < 0;
          out.magnitude_ =
              i < 0 ? uint64_t{0} - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
        }
        return absl::OkStatus();
      }
      case od::json_type::boolean: {
        bool b = false;
        if (v.get_bool().get(b) != simdjson::SUCCESS) return bad_literal();
        out.kind_ = Kind::kBool;
        out.boolean_ = b;
        out.text_ = b ? "true" : "false";
        return absl::OkStatus();
      }
      case od::json_type::null: {
        bool is_null = false;
        if (v.is_null().get(is_null) != simdjson::SUCCESS || !is_null || token != "null") {
          return bad_literal();
        }
        out.kind_ = Kind::kNull;
        out.text_ = "null";
        return absl::OkStatus();
      }
      default:
        return MissingValue(out.offset_, path);
    }
  }

  absl::Status Build(od::value v, Value& out, const std::string& path, int depth) {
    if (depth > kMaxDepth) return Error(CurrentOffset(), path, "nesting is too deep");
    od::json_type type;
    if (v.type().get(type) != simdjson::SUCCESS) return BuildScalar(v, out, path);
    if (type == od::json_type::object) {
      out.kind_ = Kind::kObject;
      out.offset_ = v.raw_json_token().data() - base_;
      od::object object;
      if (auto err = v.get_object().get(object); err) return Fail(out.offset_, path, err);
      std::string last_key;
      for (auto field_result : object) {
        od::field field;
        if (std::move(field_result).get(field) != simdjson::SUCCESS) {
          return Structure(out.members_.empty() ? Step::kFirstMember : Step::kNextMember, path,
                           last_key);
        }
        size_t key_offset = field.key().raw() - base_ - 1;
        std::string_view key;
        if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
          return Error(key_offset, path, "syntax error: invalid key string");
        }
        for (const Member& m : out.members_) {
          if (m.key == key) {
            return Error(key_offset, JoinPath(path, key),
                         Cat("duplicate key \"", key, "\" (first defined at line ",
                             doc_.Locate(m.key_offset).line, ", column ",
                             doc_.Locate(m.key_offset).column, ")"));
          }
        }
        Member& member = out.members_.emplace_back();
        member.key = std::string(key);
        member.key_offset = key_offset;
        last_key = member.key;
        if (auto s = Build(field.value(), member.value, JoinPath(path, key), depth + 1); !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    }
    if (type == od::json_type::array) {
      out.kind_ = Kind::kArray;
      out.offset_ = v.raw_json_token().data() - base_;
      od::array array;
      if (auto err = v.get_array().get(array); err) return Fail(out.offset_, path, err);
      for (auto element_result : array) {
        od::value element;
        if (std::move(element_result).get(element) != simdjson::SUCCESS) {
          return Structure(out.elements_.empty() ? Step::kFirstElement : Step::kNextElement, path,
                           "");
        }
        Value& child = out.elements_.emplace_back();
        if (auto s = Build(element, child, JoinPath(path, out.elements_.size() - 1), depth + 1);
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    }
    return BuildScalar(v, out, path);
  }

  const Document& doc_;
  std::string_view text_;
  const char* base_;
  od::document& od_doc_;
};

namespace {

// Checks what simdjson reports poorly or not at all: unterminated strings, unbalanced or
// mismatched brackets, an empty document and content after the document's end.
absl::Status CheckStructure(const Document& doc, std::string_view text) {
  std::vector<std::pair<char, size_t>> open;
  bool complete = false;
  bool root_is_string = false;
  size_t i = 0;
  auto error = [&](size_t at, std::string_view message) {
    return absl::InvalidArgumentError(Cat(doc.Where(at), ": syntax error: ", message));
  };
  while (i < text.size()) {
    char c = text[i];
    if (IsSpace(c)) {
      ++i;
      continue;
    }
    if (complete && c == ':' && root_is_string) {
      return error(i,
                   "this is a fragment of an object (a key and its value), not a JSON "
                   "document; wrap it in { }");
    }
    if (complete) {
      return error(i, Cat("unexpected ", TokenAt(text, i), " after the end of the JSON document"));
    }
    if (c == '"') {
      size_t end = SkipString(text, i);
      if (end == std::string_view::npos) {
        return error(i, "unterminated string (a string must end with '\"' on the same line)");
      }
      i = end;
      root_is_string = open.empty();
      complete = open.empty();
    } else if (c == '{' || c == '[') {
      open.emplace_back(c, i);
      ++i;
    } else if (c == '}' || c == ']') {
      if (open.empty()) return error(i, Cat("unexpected '", std::string(1, c), "'"));
      char want = open.back().first == '{' ? '}' : ']';
      if (c != want) {
        Location o = doc.Locate(open.back().second);
        return error(i, Cat("'", std::string(1, c), "' does not close '",
                            std::string(1, open.back().first), "' opened at line ", o.line,
                            ", column ", o.column, " (expected '", std::string(1, want), "')"));
      }
      open.pop_back();
      ++i;
      complete = open.empty();
    } else {
      while (i < text.size() && !IsDelimiter(text[i])) ++i;
      if (c != ',' && c != ':') complete = open.empty();
      if (c == ',' || c == ':') ++i;
    }
  }
  if (!open.empty()) {
    Location o = doc.Locate(open.back().second);
    return error(text.size(),
                 Cat("unexpected end of input: '", std::string(1, open.back().first),
                     "' opened at line ", o.line, ", column ", o.column, " is never closed"));
  }
  if (!complete) return error(text.size(), "the document is empty");
  return absl::OkStatus();
}

}  // namespace

const Value* Value::Find(std::string_view key) const {
  for (const Member& m : members_) {
    if (m.key == key) return &m.value;
  }
  return nullptr;
}

std::string Describe(const Value& value) {
  switch (value.kind()) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return value.boolean() ? "true" : "false";
    case Kind::kNumber:
      return Cat("number ", value.text());
    case Kind::kString:
      return Cat("string ", Excerpt(value.text()));
    case Kind::kArray:
      return "an array";
    case Kind::kObject:
      return "an object";
  }
  return "?";
}

absl::StatusOr<std::string> StripComments(std::string_view text, std::string_view source_name) {
  std::string out(text);
  size_t i = 0;
  while (i < out.size()) {
    char c = out[i];
    if (c == '"') {
      size_t end = SkipString(out, i);
      i = end == std::string_view::npos ? out.find('\n', i) : end;
      if (i == std::string_view::npos) break;
    } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '/') {
      while (i < out.size() && out[i] != '\n') out[i++] = ' ';
    } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '*') {
      size_t end = out.find("*/", i + 2);
      if (end == std::string::npos) {
        Location at = LocateByScanning(text, i);
        return absl::InvalidArgumentError(Cat(source_name, ":", at.line, ":", at.column,
                                              ": syntax error: unterminated /* comment"));
      }
      for (size_t k = i; k < end + 2; ++k) {
        if (out[k] != '\n') out[k] = ' ';
      }
      i = end + 2;
    } else {
      ++i;
    }
  }
  return out;
}

absl::StatusOr<Document> Document::Parse(std::string_view text, std::string_view source_name) {
  Document doc;
  doc.text_ = std::string(text);
  doc.source_name_ = std::string(source_name);
  doc.line_starts_.push_back(0);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') doc.line_starts_.push_back(i + 1);
  }
  if (size_t bad = FindInvalidUtf8(text); bad < text.size()) {
    return absl::InvalidArgumentError(Cat(doc.Where(bad), ": the text is not valid UTF-8"));
  }
  absl::StatusOr<std::string> stripped = StripComments(text, source_name);
  if (!stripped.ok()) return stripped.status();
  // A UTF-8 byte order mark is not JSON; blank it like a comment.
  if (stripped->starts_with("\xEF\xBB\xBF")) stripped->replace(0, 3, "   ");
  if (absl::Status s = CheckStructure(doc, *stripped); !s.ok()) return s;

  simdjson::padded_string padded(*stripped);
  od::parser parser;
  od::document od_doc;
  if (auto err = parser.iterate(padded).get(od_doc); err) {
    return absl::InvalidArgumentError(
        Cat(doc.Where(0), ": invalid JSON: ", simdjson::error_message(err)));
  }
  Builder builder(doc, *stripped, padded.data(), od_doc);
  if (absl::Status s = builder.BuildRoot(doc.root_); !s.ok()) return s;
  const char* rest = nullptr;
  if (od_doc.current_location().get(rest) == simdjson::SUCCESS) {
    size_t at = rest - padded.data();
    return absl::InvalidArgumentError(Cat(doc.Where(at), ": syntax error: unexpected ",
                                          TokenAt(*stripped, at),
                                          " after the end of the JSON document"));
  }
  return doc;
}

Location Document::Locate(size_t offset) const {
  offset = std::min(offset, text_.size());
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  size_t line_index = (it - line_starts_.begin()) - 1;
  Location loc;
  loc.offset = offset;
  loc.line = static_cast<int>(line_index) + 1;
  loc.column = 1;
  for (size_t k = line_starts_[line_index]; k < offset; ++k) {
    if ((static_cast<unsigned char>(text_[k]) & 0xC0) != 0x80) ++loc.column;
  }
  return loc;
}

std::string Document::Where(size_t offset) const {
  Location loc = Locate(offset);
  return Cat(source_name_, ":", loc.line, ":", loc.column);
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xF];
          out += kHex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string ToJson(const Value& value) {
  switch (value.kind()) {
    case Kind::kString:
      return Quote(value.text());
    case Kind::kArray: {
      std::string out = "[";
      for (const Value& e : value.elements()) out += Cat(out.size() > 1 ? "," : "", ToJson(e));
      return out + "]";
    }
    case Kind::kObject: {
      std::string out = "{";
      for (const Member& m : value.members()) {
        out += Cat(out.size() > 1 ? "," : "", Quote(m.key), ":", ToJson(m.value));
      }
      return out + "}";
    }
    default:
      return value.text();
  }
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (!IsIdentifier(key)) return Cat(parent, "[", Excerpt(key), "]");
  if (parent.empty()) return std::string(key);
  return Cat(parent, ".", key);
}

std::string JoinPath(std::string_view parent, size_t index) { return Cat(parent, "[", index, "]"); }

}  // namespace tng::json
