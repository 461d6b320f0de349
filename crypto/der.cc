#include "crypto/der.h"

#include <algorithm>
#include <charconv>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "crypto/str_cat.h"

namespace tng::crypto {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

void AppendLength(size_t len, std::vector<uint8_t>& out) {
  if (len < 0x80) {
    out.push_back(static_cast<uint8_t>(len));
    return;
  }
  int n = 0;
  for (size_t l = len; l > 0; l >>= 8) ++n;
  out.push_back(static_cast<uint8_t>(0x80 | n));
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(len >> (8 * i)));
}

}  // namespace

std::string_view DerTagName(uint8_t tag) {
  switch (tag) {
    case der::kBoolean:
      return "BOOLEAN";
    case der::kInteger:
      return "INTEGER";
    case der::kBitString:
      return "BIT STRING";
    case der::kOctetString:
      return "OCTET STRING";
    case der::kNull:
      return "NULL";
    case der::kOid:
      return "OBJECT IDENTIFIER";
    case der::kUtf8String:
      return "UTF8String";
    case der::kPrintableString:
      return "PrintableString";
    case der::kUtcTime:
      return "UTCTime";
    case der::kGeneralizedTime:
      return "GeneralizedTime";
    case der::kSequence:
      return "SEQUENCE";
    case der::kSet:
      return "SET";
  }
  if ((tag & 0xe0) == 0xa0) return "[n] constructed";
  if ((tag & 0xe0) == 0x80) return "[n] primitive";
  return "element";
}

DerReader DerReader::Contents(const DerElement& element) {
  const size_t header = element.whole.size() - element.value.size();
  return DerReader(element.value, element.offset + header);
}

absl::StatusOr<DerElement> DerReader::Next(std::string_view what) {
  const size_t start = offset();
  const size_t avail = data_.size() - pos_;
  if (avail < 2) {
    return absl::InvalidArgumentError(StrCat("truncated DER at offset ", start,
                                             ": need a tag and length for ", what, ", have ", avail,
                                             " bytes"));
  }
  const uint8_t tag = data_[pos_];
  if ((tag & 0x1f) == 0x1f) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unsupported DER tag 0x%02x (high tag number) for %s at offset %d", tag, what, start));
  }
  size_t p = pos_ + 1;
  const uint8_t first = data_[p++];
  size_t len = 0;
  if (first < 0x80) {
    len = first;
  } else if (first == 0x80) {
    return absl::InvalidArgumentError(
        StrCat("indefinite length for ", what, " at offset ", start, " is not allowed in DER"));
  } else {
    const size_t n = first & 0x7f;
    if (n > 4) {
      return absl::InvalidArgumentError(StrCat("length of ", what, " at offset ", start, " uses ",
                                               n, " bytes; at most 4 supported"));
    }
    if (data_.size() - p < n) {
      return absl::InvalidArgumentError(StrCat("truncated DER length of ", what, " at offset ",
                                               start, ": need ", n, " length bytes, have ",
                                               data_.size() - p));
    }
    for (size_t i = 0; i < n; ++i) len = (len << 8) | data_[p++];
    if (len < 0x80 || (n > 1 && data_[p - n] == 0)) {
      return absl::InvalidArgumentError(
          StrCat("non-minimal DER length of ", what, " at offset ", start));
    }
  }
  if (data_.size() - p < len) {
    return absl::InvalidArgumentError(StrCat("truncated ", what, " at offset ", start, ": need ",
                                             len, " bytes, have ", data_.size() - p));
  }
  DerElement e;
  e.tag = tag;
  e.offset = start;
  e.value = data_.subspan(p, len);
  e.whole = data_.subspan(pos_, p + len - pos_);
  pos_ = p + len;
  return e;
}

absl::StatusOr<DerElement> DerReader::Expect(uint8_t tag, std::string_view what) {
  if (empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "truncated DER at offset %d: %s (%s) is missing", offset(), what, DerTagName(tag)));
  }
  if (data_[pos_] != tag) {
    return absl::InvalidArgumentError(
        absl::StrFormat("expected %s (tag 0x%02x) for %s at offset %d, found tag 0x%02x",
                        DerTagName(tag), tag, what, offset(), data_[pos_]));
  }
  return Next(what);
}

absl::Status DerReader::ExpectEnd(std::string_view what) const {
  if (empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(StrCat(
      "unexpected ", data_.size() - pos_, " trailing bytes at offset ", offset(), " after ", what));
}

absl::StatusOr<std::string> OidToString(std::span<const uint8_t> contents) {
  if (contents.empty()) return absl::InvalidArgumentError("empty OBJECT IDENTIFIER");
  std::string out;
  uint64_t arc = 0;
  bool first = true;
  bool in_arc = false;
  for (uint8_t b : contents) {
    if (!in_arc && b == 0x80) {
      return absl::InvalidArgumentError("non-minimal OBJECT IDENTIFIER sub-identifier");
    }
    if (arc > (UINT64_MAX >> 7)) {
      return absl::InvalidArgumentError("OBJECT IDENTIFIER sub-identifier exceeds 64 bits");
    }
    arc = (arc << 7) | (b & 0x7f);
    in_arc = (b & 0x80) != 0;
    if (in_arc) continue;
    if (first) {
      const uint64_t top = arc < 40 ? 0 : arc < 80 ? 1 : 2;
      StrAppend(&out, top, ".", arc - 40 * top);
      first = false;
    } else {
      StrAppend(&out, ".", arc);
    }
    arc = 0;
  }
  if (in_arc) return absl::InvalidArgumentError("truncated OBJECT IDENTIFIER sub-identifier");
  return out;
}

absl::StatusOr<std::vector<uint8_t>> OidFromString(std::string_view dotted) {
  std::vector<uint64_t> arcs;
  size_t start = 0;
  while (true) {
    const size_t dot = std::min(dotted.find('.', start), dotted.size());
    const std::string_view part = dotted.substr(start, dot - start);
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size()) {
      return absl::InvalidArgumentError(StrCat("malformed OID \"", dotted, "\""));
    }
    arcs.push_back(v);
    if (dot == dotted.size()) break;
    start = dot + 1;
  }
  if (arcs.size() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) ||
      arcs[1] > UINT64_MAX - 80) {
    return absl::InvalidArgumentError(StrCat("malformed OID \"", dotted, "\""));
  }
  std::vector<uint8_t> out;
  auto append = [&out](uint64_t v) {
    uint8_t tmp[10];
    int n = 0;
    do {
      tmp[n++] = static_cast<uint8_t>(v & 0x7f);
      v >>= 7;
    } while (v > 0);
    for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(tmp[i] | (i ? 0x80 : 0)));
  };
  append(arcs[0] * 40 + arcs[1]);
  for (size_t i = 2; i < arcs.size(); ++i) append(arcs[i]);
  return out;
}

absl::StatusOr<std::span<const uint8_t>> DerUnsignedInteger(const DerElement& element,
                                                            std::string_view what) {
  auto v = element.value;
  if (element.tag != der::kInteger || v.empty()) {
    return absl::InvalidArgumentError(
        StrCat("malformed INTEGER for ", what, " at offset ", element.offset));
  }
  if (v[0] & 0x80) {
    return absl::InvalidArgumentError(
        StrCat("negative INTEGER for ", what, " at offset ", element.offset));
  }
  if (v.size() > 1 && v[0] == 0 && !(v[1] & 0x80)) {
    return absl::InvalidArgumentError(
        StrCat("non-minimal INTEGER for ", what, " at offset ", element.offset));
  }
  if (v.size() > 1 && v[0] == 0) v = v.subspan(1);
  return v;
}

absl::StatusOr<std::span<const uint8_t>> DerBitStringBytes(const DerElement& element,
                                                           std::string_view what) {
  if (element.tag != der::kBitString || element.value.empty()) {
    return absl::InvalidArgumentError(
        StrCat("malformed BIT STRING for ", what, " at offset ", element.offset));
  }
  if (element.value[0] != 0) {
    return absl::InvalidArgumentError(StrCat("BIT STRING for ", what, " at offset ", element.offset,
                                             " has ", element.value[0],
                                             " unused bits; whole bytes expected"));
  }
  return element.value.subspan(1);
}

absl::StatusOr<int64_t> DerTimeToUnix(const DerElement& element, std::string_view what) {
  const std::string_view s(reinterpret_cast<const char*>(element.value.data()),
                           element.value.size());
  const bool utc = element.tag == der::kUtcTime;
  const size_t want = utc ? 13 : 15;
  auto bad = [&] {
    return absl::InvalidArgumentError(StrCat("malformed ", DerTagName(element.tag), " \"", s,
                                             "\" for ", what, " at offset ", element.offset));
  };
  if ((!utc && element.tag != der::kGeneralizedTime) || s.size() != want || s.back() != 'Z') {
    return bad();
  }
  for (size_t i = 0; i + 1 < want; ++i) {
    if (s[i] < '0' || s[i] > '9') return bad();
  }
  auto num = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t i = 0; i < n; ++i) v = v * 10 + (s[at + i] - '0');
    return v;
  };
  size_t p = 0;
  int64_t year;
  if (utc) {
    year = num(0, 2);
    year += year < 50 ? 2000 : 1900;
    p = 2;
  } else {
    year = num(0, 4);
    p = 4;
  }
  const int month = num(p, 2), day = num(p + 2, 2), hour = num(p + 4, 2), minute = num(p + 6, 2),
            second = num(p + 8, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    return bad();
  }
  return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
         hour * 3600 + minute * 60 + second;
}

std::vector<uint8_t> DerTlv(uint8_t tag, std::span<const uint8_t> contents) {
  std::vector<uint8_t> out;
  out.reserve(contents.size() + 6);
  out.push_back(tag);
  AppendLength(contents.size(), out);
  out.insert(out.end(), contents.begin(), contents.end());
  return out;
}

std::vector<uint8_t> DerConstructed(uint8_t tag,
                                    std::initializer_list<std::span<const uint8_t>> parts) {
  size_t total = 0;
  for (auto p : parts) total += p.size();
  std::vector<uint8_t> out;
  out.reserve(total + 6);
  out.push_back(tag);
  AppendLength(total, out);
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<uint8_t> DerSequence(std::initializer_list<std::span<const uint8_t>> parts) {
  return DerConstructed(der::kSequence, parts);
}

std::vector<uint8_t> DerOid(std::span<const uint8_t> contents) {
  return DerTlv(der::kOid, contents);
}

std::vector<uint8_t> DerSmallInteger(uint64_t value) {
  uint8_t bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * (7 - i)));
  return DerUnsignedIntegerTlv(bytes);
}

std::vector<uint8_t> DerUnsignedIntegerTlv(std::span<const uint8_t> magnitude) {
  while (!magnitude.empty() && magnitude[0] == 0) magnitude = magnitude.subspan(1);
  std::vector<uint8_t> contents;
  if (magnitude.empty() || (magnitude[0] & 0x80)) contents.push_back(0);
  contents.insert(contents.end(), magnitude.begin(), magnitude.end());
  return DerTlv(der::kInteger, contents);
}

std::vector<uint8_t> DerBoolean(bool value) {
  const uint8_t v = value ? 0xff : 0x00;
  return DerTlv(der::kBoolean, std::span(&v, 1));
}

std::vector<uint8_t> DerNull() { return {der::kNull, 0x00}; }

std::vector<uint8_t> DerOctetString(std::span<const uint8_t> bytes) {
  return DerTlv(der::kOctetString, bytes);
}

std::vector<uint8_t> DerBitString(std::span<const uint8_t> bytes) {
  std::vector<uint8_t> contents;
  contents.reserve(bytes.size() + 1);
  contents.push_back(0);
  contents.insert(contents.end(), bytes.begin(), bytes.end());
  return DerTlv(der::kBitString, contents);
}

std::vector<uint8_t> DerUtf8String(std::string_view text) {
  return DerTlv(der::kUtf8String,
                std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::vector<uint8_t> DerTime(int64_t unix_seconds) {
  int64_t days = unix_seconds / 86400;
  int64_t rem = unix_seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  const int hh = static_cast<int>(rem / 3600), mm = static_cast<int>(rem / 60 % 60),
            ss = static_cast<int>(rem % 60);
  std::string text;
  uint8_t tag;
  if (y >= 1950 && y < 2050) {
    text = absl::StrFormat("%02d%02d%02d%02d%02d%02dZ", y % 100, m, d, hh, mm, ss);
    tag = der::kUtcTime;
  } else {
    text = absl::StrFormat("%04d%02d%02d%02d%02d%02dZ", y, m, d, hh, mm, ss);
    tag = der::kGeneralizedTime;
  }
  return DerTlv(tag, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace tng::crypto
