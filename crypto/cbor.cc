#include "crypto/cbor.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <limits>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "crypto/str_cat.h"

namespace tng::crypto {

// ---- CborValue ------------------------------------------------------------------------------

CborValue CborValue::Unsigned(uint64_t v) {
  CborValue x(CborType::kUnsigned);
  x.number_ = v;
  return x;
}

CborValue CborValue::Negative(uint64_t n) {
  CborValue x(CborType::kNegative);
  x.number_ = n;
  return x;
}

CborValue CborValue::Int(int64_t v) {
  if (v >= 0) return Unsigned(static_cast<uint64_t>(v));
  return Negative(static_cast<uint64_t>(-(v + 1)));
}

CborValue CborValue::Bytes(std::span<const uint8_t> bytes) {
  CborValue x(CborType::kBytes);
  x.bytes_.assign(bytes.begin(), bytes.end());
  return x;
}

CborValue CborValue::Bytes(std::vector<uint8_t>&& bytes) {
  CborValue x(CborType::kBytes);
  x.bytes_ = std::move(bytes);
  return x;
}

CborValue CborValue::Text(std::string_view utf8) {
  CborValue x(CborType::kText);
  x.text_ = std::string(utf8);
  return x;
}

CborValue CborValue::Array(std::vector<CborValue> items) {
  CborValue x(CborType::kArray);
  x.items_ = std::move(items);
  return x;
}

CborValue CborValue::Map(std::vector<Entry> entries) {
  CborValue x(CborType::kMap);
  x.entries_ = std::move(entries);
  return x;
}

CborValue CborValue::Tag(uint64_t tag, CborValue content) {
  CborValue x(CborType::kTag);
  x.number_ = tag;
  x.items_.push_back(std::move(content));
  return x;
}

CborValue CborValue::Bool(bool b) {
  CborValue x(CborType::kSimple);
  x.number_ = static_cast<uint64_t>(b ? CborSimple::kTrue : CborSimple::kFalse);
  return x;
}

CborValue CborValue::Null() { return CborValue(); }

CborValue CborValue::Undefined() {
  CborValue x(CborType::kSimple);
  x.number_ = static_cast<uint64_t>(CborSimple::kUndefined);
  return x;
}

CborValue CborValue::Float(double v) {
  CborValue x(CborType::kFloat);
  x.float_ = v;
  return x;
}

absl::StatusOr<int64_t> CborValue::AsInt64() const {
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (type_ == CborType::kUnsigned && number_ <= kMax) return static_cast<int64_t>(number_);
  if (type_ == CborType::kNegative && number_ <= kMax) return -1 - static_cast<int64_t>(number_);
  if (type_ == CborType::kUnsigned || type_ == CborType::kNegative) {
    return absl::OutOfRangeError(StrCat("integer at offset ", offset_, " (", CborDiagnostic(*this),
                                        ") does not fit in a 64-bit signed integer"));
  }
  return absl::InvalidArgumentError(
      StrCat("expected an integer at offset ", offset_, ", found a ", TypeName()));
}

const CborValue* CborValue::Find(std::string_view key) const {
  if (type_ != CborType::kMap) return nullptr;
  for (const auto& [k, v] : entries_) {
    if (k.type_ == CborType::kText && k.text_ == key) return &v;
  }
  return nullptr;
}

std::string_view CborValue::TypeName(CborType type) {
  switch (type) {
    case CborType::kUnsigned:
      return "unsigned integer";
    case CborType::kNegative:
      return "negative integer";
    case CborType::kBytes:
      return "byte string";
    case CborType::kText:
      return "text string";
    case CborType::kArray:
      return "array";
    case CborType::kMap:
      return "map";
    case CborType::kTag:
      return "tag";
    case CborType::kSimple:
      return "simple value";
    case CborType::kFloat:
      return "float";
  }
  return "unknown";
}

std::string_view CborValue::TypeName() const {
  if (type_ == CborType::kSimple) {
    switch (number_) {
      case 20:
      case 21:
        return "boolean";
      case 22:
        return "null";
      case 23:
        return "undefined";
    }
  }
  return TypeName(type_);
}

bool operator==(const CborValue& a, const CborValue& b) {
  return a.type_ == b.type_ && a.number_ == b.number_ && a.float_ == b.float_ &&
         a.bytes_ == b.bytes_ && a.text_ == b.text_ && a.items_ == b.items_ &&
         a.entries_ == b.entries_;
}

// ---- encoder --------------------------------------------------------------------------------

namespace {

void EncodeHead(uint8_t major, uint64_t arg, std::vector<uint8_t>& out) {
  const uint8_t m = static_cast<uint8_t>(major << 5);
  if (arg < 24) {
    out.push_back(m | static_cast<uint8_t>(arg));
    return;
  }
  int n;
  uint8_t info;
  if (arg <= 0xff) {
    n = 1, info = 24;
  } else if (arg <= 0xffff) {
    n = 2, info = 25;
  } else if (arg <= 0xffffffff) {
    n = 4, info = 26;
  } else {
    n = 8, info = 27;
  }
  out.push_back(m | info);
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(arg >> (8 * i)));
}

void Encode(const CborValue& v, std::vector<uint8_t>& out) {
  switch (v.type()) {
    case CborType::kUnsigned:
      EncodeHead(0, v.number(), out);
      return;
    case CborType::kNegative:
      EncodeHead(1, v.number(), out);
      return;
    case CborType::kBytes:
      EncodeHead(2, v.bytes().size(), out);
      out.insert(out.end(), v.bytes().begin(), v.bytes().end());
      return;
    case CborType::kText:
      EncodeHead(3, v.text().size(), out);
      out.insert(out.end(), v.text().begin(), v.text().end());
      return;
    case CborType::kArray:
      EncodeHead(4, v.items().size(), out);
      for (const auto& item : v.items()) Encode(item, out);
      return;
    case CborType::kMap:
      EncodeHead(5, v.entries().size(), out);
      for (const auto& [key, value] : v.entries()) {
        Encode(key, out);
        Encode(value, out);
      }
      return;
    case CborType::kTag:
      EncodeHead(6, v.tag(), out);
      Encode(v.tagged(), out);
      return;
    case CborType::kSimple:
      EncodeHead(7, v.number(), out);
      return;
    case CborType::kFloat: {
      out.push_back(0xfb);
      const auto bits = std::bit_cast<uint64_t>(v.float_value());
      for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
      return;
    }
  }
}

void AppendDiagnostic(const CborValue& v, std::string& out) {
  switch (v.type()) {
    case CborType::kUnsigned:
      StrAppend(&out, v.number());
      return;
    case CborType::kNegative:
      absl::StrAppendFormat(&out, "-%d", absl::uint128(v.number()) + 1);
      return;
    case CborType::kBytes:
      out += "h'";
      for (uint8_t b : v.bytes()) absl::StrAppendFormat(&out, "%02x", b);
      out += "'";
      return;
    case CborType::kText:
      out += '"';
      for (char c : v.text()) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
          out += '\\';
          out += c;
        } else if (u < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", u);
        } else {
          out += c;
        }
      }
      out += '"';
      return;
    case CborType::kArray: {
      out += '[';
      const char* sep = "";
      for (const auto& item : v.items()) {
        out += sep;
        AppendDiagnostic(item, out);
        sep = ", ";
      }
      out += ']';
      return;
    }
    case CborType::kMap: {
      out += '{';
      const char* sep = "";
      for (const auto& [key, value] : v.entries()) {
        out += sep;
        AppendDiagnostic(key, out);
        out += ": ";
        AppendDiagnostic(value, out);
        sep = ", ";
      }
      out += '}';
      return;
    }
    case CborType::kTag:
      StrAppend(&out, v.tag(), "(");
      AppendDiagnostic(v.tagged(), out);
      out += ')';
      return;
    case CborType::kSimple:
      out += v.TypeName() == "boolean" ? (v.bool_value() ? "true" : "false") : v.TypeName();
      return;
    case CborType::kFloat: {
      const double d = v.float_value();
      if (std::isnan(d)) {
        out += "NaN";
      } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
      } else {
        char buf[32];
        const auto result = std::to_chars(buf, buf + sizeof(buf), d);
        out.append(buf, result.ptr);
      }
      return;
    }
  }
}

}  // namespace

std::vector<uint8_t> CborEncode(const CborValue& value) {
  std::vector<uint8_t> out;
  Encode(value, out);
  return out;
}

std::string CborDiagnostic(const CborValue& value) {
  std::string out;
  AppendDiagnostic(value, out);
  return out;
}

}  // namespace tng::crypto
