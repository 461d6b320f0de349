#include "crypto/canonical_json.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "crypto/str_cat.h"

namespace tng::crypto {
namespace {

// simdjson already bounds nesting at parse time; this guards the element overload too.
constexpr size_t kMaxRecursion = 1024;

// UTF-16 code units of a valid UTF-8 string, for RFC 8785 §3.2.3 key ordering.
std::u16string ToUtf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      cp = c, len = 1;
    } else if (c < 0xe0) {
      cp = c & 0x1f, len = 2;
    } else if (c < 0xf0) {
      cp = c & 0x0f, len = 3;
    } else {
      cp = c & 0x07, len = 4;
    }
    for (size_t k = 1; k < len && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3f);
    }
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out += static_cast<char16_t>(0xd800 + (cp >> 10));
      out += static_cast<char16_t>(0xdc00 + (cp & 0x3ff));
    } else {
      out += static_cast<char16_t>(cp);
    }
  }
  return out;
}

absl::Status Serialize(const simdjson::dom::element& e, size_t depth, std::string& out) {
  if (depth > kMaxRecursion) {
    return absl::InvalidArgumentError(StrCat("JSON nested deeper than ", kMaxRecursion, " levels"));
  }
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::NULL_VALUE:
      out += "null";
      return absl::OkStatus();
    case element_type::BOOL:
      out += e.get_bool().value_unsafe() ? "true" : "false";
      return absl::OkStatus();
    case element_type::STRING:
      AppendCanonicalJsonString(e.get_string().value_unsafe(), out);
      return absl::OkStatus();
    case element_type::INT64: {
      const int64_t v = e.get_int64().value_unsafe();
      // Beyond 2^53 an I-JSON number is a double, and JCS prints the double.
      if (v >= -(int64_t{1} << 53) && v <= (int64_t{1} << 53)) {
        StrAppend(&out, v);
        return absl::OkStatus();
      }
      auto s = FormatJsonNumber(static_cast<double>(v));
      if (!s.ok()) return s.status();
      out += *s;
      return absl::OkStatus();
    }
    case element_type::UINT64: {
      const uint64_t v = e.get_uint64().value_unsafe();
      if (v <= (uint64_t{1} << 53)) {
        StrAppend(&out, v);
        return absl::OkStatus();
      }
      auto s = FormatJsonNumber(static_cast<double>(v));
      if (!s.ok()) return s.status();
      out += *s;
      return absl::OkStatus();
    }
    case element_type::DOUBLE: {
      auto s = FormatJsonNumber(e.get_double().value_unsafe());
      if (!s.ok()) return s.status();
      out += *s;
      return absl::OkStatus();
    }
    case element_type::ARRAY: {
      out += '[';
      bool first = true;
      const simdjson::dom::array array = e.get_array().value_unsafe();
      for (simdjson::dom::element item : array) {
        if (!first) out += ',';
        first = false;
        if (auto s = Serialize(item, depth + 1, out); !s.ok()) return s;
      }
      out += ']';
      return absl::OkStatus();
    }
    case element_type::OBJECT: {
      struct Member {
        std::u16string sort_key;
        std::string_view key;
        simdjson::dom::element value;
      };
      std::vector<Member> members;
      const simdjson::dom::object object = e.get_object().value_unsafe();
      for (simdjson::dom::key_value_pair field : object) {
        members.push_back({ToUtf16(field.key), field.key, field.value});
      }
      std::sort(members.begin(), members.end(),
                [](const Member& a, const Member& b) { return a.sort_key < b.sort_key; });
      for (size_t i = 1; i < members.size(); ++i) {
        if (members[i].key == members[i - 1].key) {
          std::string quoted;
          AppendCanonicalJsonString(members[i].key, quoted);
          return absl::InvalidArgumentError(
              StrCat("duplicate JSON object key ", quoted, " (RFC 8785 forbids them)"));
        }
      }
      out += '{';
      for (size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out += ',';
        AppendCanonicalJsonString(members[i].key, out);
        out += ':';
        if (auto s = Serialize(members[i].value, depth + 1, out); !s.ok()) return s;
      }
      out += '}';
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown simdjson element type");
}

}  // namespace

void AppendCanonicalJsonString(std::string_view utf8, std::string& out) {
  out += '"';
  for (char c : utf8) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
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
        if (u < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", u);
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

absl::StatusOr<std::string> FormatJsonNumber(double value) {
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError("NaN and Infinity cannot be represented in JSON");
  }
  if (value == 0) return std::string("0");  // both +0 and -0
  // Shortest round-trip digits, as "d[.ddd]e[+-]x"; then laid out per ECMAScript
  // Number::toString with n = exponent + 1 and k = number of digits.
  char buf[64];
  const auto result =
      std::to_chars(buf, buf + sizeof(buf), std::fabs(value), std::chars_format::scientific);
  const std::string_view sci(buf, result.ptr - buf);
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits += c;
  }
  int exponent = 0;
  std::string_view exp_text = sci.substr(e_pos + 1);
  if (!exp_text.empty() && exp_text.front() == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);

  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  std::string out = value < 0 ? "-" : "";
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<size_t>(n));
    out += '.';
    out += digits.substr(static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out += digits.substr(1);
    }
    StrAppend(&out, "e", n - 1 >= 0 ? "+" : "-", std::abs(n - 1));
  }
  return out;
}

absl::StatusOr<std::string> CanonicalizeJson(const simdjson::dom::element& element) {
  std::string out;
  if (auto s = Serialize(element, 0, out); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::string> CanonicalizeJson(std::string_view json,
                                             const CanonicalJsonLimits& limits) {
  if (json.size() > limits.max_input_size) {
    return absl::InvalidArgumentError(StrCat("JSON input of ", json.size(),
                                             " bytes exceeds the limit of ", limits.max_input_size,
                                             " bytes"));
  }
  simdjson::dom::parser parser;
  if (auto err = parser.allocate(std::max<size_t>(json.size(), 64), limits.max_depth);
      err != simdjson::SUCCESS) {
    return absl::ResourceExhaustedError(
        StrCat("JSON parser allocation failed: ", simdjson::error_message(err)));
  }
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root); err != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(StrCat("invalid JSON: ", simdjson::error_message(err)));
  }
  return CanonicalizeJson(root);
}

}  // namespace tng::crypto
