// The decoding half of crypto/cbor.h: everything that reads untrusted bytes (the fuzz target).
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "crypto/cbor.h"
#include "crypto/str_cat.h"

namespace tng::crypto {
namespace {

constexpr std::string_view kMajorNames[] = {
    "unsigned integer",
    "negative integer",
    "byte string",
    "text string",
    "array",
    "map",
    "tag",
    "simple value or float",
};

// Returns the offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code
// points above U+10FFFF included), or npos.
size_t FindInvalidUtf8(std::span<const uint8_t> s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (s.size() - i < len) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return i + k;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

double HalfToDouble(uint16_t h) {
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  double v;
  if (exp == 0) {
    v = std::ldexp(mant, -24);
  } else if (exp != 31) {
    v = std::ldexp(mant + 1024, exp - 25);
  } else {
    v = mant == 0 ? std::numeric_limits<double>::infinity()
                  : std::numeric_limits<double>::quiet_NaN();
  }
  return (h & 0x8000) ? -v : v;
}

}  // namespace

// ---- decoder --------------------------------------------------------------------------------

class CborDecoder {
 public:
  CborDecoder(std::span<const uint8_t> in, const CborLimits& limits) : in_(in), limits_(limits) {}

  absl::StatusOr<CborValue> DecodeDocument() {
    if (in_.size() > limits_.max_input_size) {
      return absl::InvalidArgumentError(StrCat("CBOR input of ", in_.size(),
                                               " bytes exceeds the limit of ",
                                               limits_.max_input_size, " bytes"));
    }
    auto value = DecodeItem(0);
    if (!value.ok()) return value.status();
    if (pos_ != in_.size()) {
      return absl::InvalidArgumentError(StrCat("trailing bytes at offset ", pos_, ": ",
                                               in_.size() - pos_,
                                               " bytes follow the top-level data item"));
    }
    return value;
  }

 private:
  struct Head {
    uint8_t major;
    uint8_t info;
    uint64_t arg;
    size_t offset;
  };

  size_t remaining() const { return in_.size() - pos_; }

  static absl::Status Error(std::string_view what, size_t offset, std::string_view detail) {
    return absl::InvalidArgumentError(StrCat(what, " at offset ", offset, ": ", detail));
  }

  absl::StatusOr<Head> ReadHead() {
    Head h{0, 0, 0, pos_};
    if (pos_ >= in_.size()) {
      return Error("truncated input", pos_, "expected a data item, have 0 bytes");
    }
    const uint8_t ib = in_[pos_++];
    h.major = ib >> 5;
    h.info = ib & 31;
    const std::string_view name = kMajorNames[h.major];
    if (h.info < 24) {
      h.arg = h.info;
    } else if (h.info <= 27) {
      const size_t n = size_t{1} << (h.info - 24);
      if (remaining() < n) {
        return Error(StrCat("truncated ", name, " head"), h.offset,
                     StrCat("need ", n, " more bytes, have ", remaining()));
      }
      for (size_t i = 0; i < n; ++i) h.arg = (h.arg << 8) | in_[pos_++];
    } else if (h.info <= 30) {
      return Error(absl::StrFormat("reserved initial byte 0x%02x", ib), h.offset,
                   StrCat("additional information ", h.info, " is reserved"));
    } else if (h.major >= 2 && h.major <= 5) {
      return Error(StrCat("indefinite-length ", name), h.offset,
                   "not supported, only definite lengths are accepted");
    } else if (h.major == 7) {
      return Error("unexpected break code 0xff", h.offset, "no indefinite-length item is open");
    } else {
      return Error(absl::StrFormat("invalid initial byte 0x%02x", ib), h.offset,
                   StrCat("a ", name, " cannot have an indefinite length"));
    }
    return h;
  }

  absl::Status CountItem(size_t offset, uint64_t more = 1) {
    if (more > limits_.max_items || items_ > limits_.max_items - more) {
      return Error("too many data items", offset,
                   StrCat("the limit is ", limits_.max_items, " items per input"));
    }
    items_ += more;
    return absl::OkStatus();
  }

  absl::StatusOr<CborValue> DecodeItem(size_t depth) {
    auto head = ReadHead();
    if (!head.ok()) return head.status();
    const Head h = *head;
    if (auto s = CountItem(h.offset); !s.ok()) return s;
    CborValue v(CborType::kSimple);
    v.offset_ = h.offset;
    switch (h.major) {
      case 0:
        v.type_ = CborType::kUnsigned;
        v.number_ = h.arg;
        return v;
      case 1:
        v.type_ = CborType::kNegative;
        v.number_ = h.arg;
        return v;
      case 2:
      case 3: {
        const bool text = h.major == 3;
        if (h.arg > remaining()) {
          return Error(StrCat("truncated ", kMajorNames[h.major]), h.offset,
                       StrCat("need ", h.arg, " bytes, have ", remaining()));
        }
        const auto content = in_.subspan(pos_, static_cast<size_t>(h.arg));
        const size_t content_offset = pos_;
        pos_ += content.size();
        if (!text) {
          v.type_ = CborType::kBytes;
          v.bytes_.assign(content.begin(), content.end());
          return v;
        }
        if (const size_t bad = FindInvalidUtf8(content); bad != std::string_view::npos) {
          return Error(
              "invalid UTF-8 in text string", h.offset,
              absl::StrFormat("byte 0x%02x at offset %d", content[bad], content_offset + bad));
        }
        v.type_ = CborType::kText;
        v.text_.assign(reinterpret_cast<const char*>(content.data()), content.size());
        return v;
      }
      case 4:
      case 5: {
        const bool map = h.major == 5;
        if (depth >= limits_.max_depth) {
          return Error(StrCat(kMajorNames[h.major], " nested too deeply"), h.offset,
                       StrCat("the limit is ", limits_.max_depth, " levels"));
        }
        // Each item takes at least one byte: reject absurd counts before allocating.
        const uint64_t per = map ? 2 : 1;
        if (h.arg > remaining() / per) {
          return Error(StrCat("truncated ", kMajorNames[h.major]), h.offset,
                       StrCat("declares ", h.arg, map ? " entries" : " items", " but only ",
                              remaining(), " bytes remain"));
        }
        if (h.arg * per > limits_.max_items - items_) {
          return Error(
              "too many data items", h.offset,
              StrCat(kMajorNames[h.major], " declares ", h.arg, map ? " entries" : " items",
                     ", the limit is ", limits_.max_items, " items per input"));
        }
        if (!map) {
          v.type_ = CborType::kArray;
          v.items_.reserve(static_cast<size_t>(h.arg));
          for (uint64_t i = 0; i < h.arg; ++i) {
            auto item = DecodeItem(depth + 1);
            if (!item.ok()) return item.status();
            v.items_.push_back(*std::move(item));
          }
          return v;
        }
        v.type_ = CborType::kMap;
        v.entries_.reserve(static_cast<size_t>(h.arg));
        std::vector<std::span<const uint8_t>> keys;
        keys.reserve(static_cast<size_t>(h.arg));
        for (uint64_t i = 0; i < h.arg; ++i) {
          const size_t key_start = pos_;
          auto key = DecodeItem(depth + 1);
          if (!key.ok()) return key.status();
          keys.push_back(in_.subspan(key_start, pos_ - key_start));
          auto value = DecodeItem(depth + 1);
          if (!value.ok()) return value.status();
          v.entries_.emplace_back(*std::move(key), *std::move(value));
        }
        return CheckDuplicateKeys(std::move(v), keys);
      }
      case 6: {
        if (depth >= limits_.max_depth) {
          return Error("tag nested too deeply", h.offset,
                       StrCat("the limit is ", limits_.max_depth, " levels"));
        }
        auto content = DecodeItem(depth + 1);
        if (!content.ok()) return content.status();
        v.type_ = CborType::kTag;
        v.number_ = h.arg;
        v.items_.push_back(*std::move(content));
        return v;
      }
      default:
        return DecodeSimple(h, std::move(v));
    }
  }

  absl::StatusOr<CborValue> DecodeSimple(const Head& h, CborValue v) {
    switch (h.info) {
      case 20:
      case 21:
      case 22:
      case 23:
        v.type_ = CborType::kSimple;
        v.number_ = h.info;
        return v;
      case 24:
        if (h.arg < 32) {
          return Error("invalid simple value", h.offset,
                       StrCat("the two-byte form cannot hold value ", h.arg));
        }
        return Error("unsupported simple value", h.offset,
                     StrCat("value ", h.arg, " is unassigned"));
      case 25:
        v.type_ = CborType::kFloat;
        v.float_ = HalfToDouble(static_cast<uint16_t>(h.arg));
        return v;
      case 26:
        v.type_ = CborType::kFloat;
        v.float_ = std::bit_cast<float>(static_cast<uint32_t>(h.arg));
        return v;
      case 27:
        v.type_ = CborType::kFloat;
        v.float_ = std::bit_cast<double>(h.arg);
        return v;
      default:
        return Error("unsupported simple value", h.offset,
                     StrCat("value ", h.info, " is unassigned"));
    }
  }

  // Keys are compared by their encoded bytes: with definite lengths, equal encodings are the
  // only duplicates a producer of preferred serialisation can emit.
  absl::StatusOr<CborValue> CheckDuplicateKeys(CborValue map,
                                               std::vector<std::span<const uint8_t>>& keys) {
    if (keys.size() < 2) return map;
    std::vector<size_t> order(keys.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto less = [&](size_t a, size_t b) {
      return std::lexicographical_compare(keys[a].begin(), keys[a].end(), keys[b].begin(),
                                          keys[b].end());
    };
    std::sort(order.begin(), order.end(), less);
    for (size_t i = 1; i < order.size(); ++i) {
      const auto& a = keys[order[i - 1]];
      const auto& b = keys[order[i]];
      if (std::equal(a.begin(), a.end(), b.begin(), b.end())) {
        const size_t later = std::max(order[i - 1], order[i]);
        const CborValue& key = map.entries_[later].first;
        return Error(
            "duplicate map key", key.offset_,
            StrCat(CborDiagnostic(key), " already appears in the map at offset ", map.offset_));
      }
    }
    return map;
  }

  std::span<const uint8_t> in_;
  const CborLimits& limits_;
  size_t pos_ = 0;
  size_t items_ = 0;
};

absl::StatusOr<CborValue> CborDecode(std::span<const uint8_t> input, const CborLimits& limits) {
  return CborDecoder(input, limits).DecodeDocument();
}

}  // namespace tng::crypto
