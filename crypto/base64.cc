#include "crypto/base64.h"

#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "crypto/str_cat.h"

namespace tng::crypto {
namespace {

constexpr char kStandardChars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int DecodeChar(char c, Base64Alphabet alphabet) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  const bool standard = alphabet != Base64Alphabet::kUrl;
  const bool url = alphabet != Base64Alphabet::kStandard;
  if ((c == '+' && standard) || (c == '-' && url)) return 62;
  if ((c == '/' && standard) || (c == '_' && url)) return 63;
  return -1;
}

std::string DescribeChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) return absl::StrFormat("'%c' (0x%02x)", c, u);
  return absl::StrFormat("0x%02x", u);
}

}  // namespace

std::string Base64Encode(std::span<const uint8_t> data, Base64Alphabet alphabet, bool pad) {
  const char* chars = alphabet == Base64Alphabet::kUrl ? kUrlChars : kStandardChars;
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += chars[v >> 18];
    out += chars[(v >> 12) & 63];
    out += chars[(v >> 6) & 63];
    out += chars[v & 63];
  }
  const size_t rest = data.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{data[i]} << 16;
    out += chars[v >> 18];
    out += chars[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out += chars[v >> 18];
    out += chars[(v >> 12) & 63];
    out += chars[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view text, Base64Alphabet alphabet,
                                                  Base64Padding padding) {
  const size_t n = text.size();
  size_t pad_count = 0;
  while (pad_count < n && text[n - 1 - pad_count] == '=') ++pad_count;
  const size_t data_len = n - pad_count;
  if (pad_count > 0) {
    if (padding == Base64Padding::kForbidden) {
      return absl::InvalidArgumentError(
          StrCat("base64 padding '=' at offset ", data_len, " is not allowed here"));
    }
    if (pad_count > 2) {
      return absl::InvalidArgumentError(StrCat("too much base64 padding at offset ", data_len, ": ",
                                               pad_count, " '=' characters, at most 2 allowed"));
    }
    if (n % 4 != 0) {
      return absl::InvalidArgumentError(
          StrCat("padded base64 must be a multiple of 4 characters long, got ", n));
    }
  } else if (padding == Base64Padding::kRequired && n % 4 != 0) {
    return absl::InvalidArgumentError(StrCat(
        "base64 length ", n, " is not a multiple of 4 (padding is required): truncated input?"));
  }
  if (data_len % 4 == 1) {
    return absl::InvalidArgumentError(StrCat("base64 ends with a dangling character at offset ",
                                             data_len - 1,
                                             " (one character encodes no whole byte)"));
  }

  std::vector<uint8_t> out;
  out.reserve(data_len / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  int last_value = 0;
  for (size_t i = 0; i < data_len; ++i) {
    const int v = DecodeChar(text[i], alphabet);
    if (v < 0) {
      if (text[i] == '=') {
        return absl::InvalidArgumentError(
            StrCat("base64 padding '=' at offset ", i, " before the end of the input"));
      }
      return absl::InvalidArgumentError(
          StrCat("invalid base64 character ", DescribeChar(text[i]), " at offset ", i));
    }
    last_value = v;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  // The bits left over after the last whole byte must be zero, otherwise two spellings would
  // decode to the same bytes.
  if (bits > 0 && (last_value & ((1 << bits) - 1)) != 0) {
    return absl::InvalidArgumentError(
        StrCat("non-canonical base64: the unused low bits of the character at offset ",
               data_len - 1, " are not zero"));
  }
  return out;
}

absl::StatusOr<std::vector<PemBlock>> PemDecode(std::string_view text) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  constexpr std::string_view kDashes = "-----";
  std::vector<PemBlock> blocks;
  size_t pos = 0;
  while (true) {
    const size_t begin = text.find(kBegin, pos);
    if (begin == std::string_view::npos) break;
    const size_t label_start = begin + kBegin.size();
    const size_t label_end = text.find(kDashes, label_start);
    const size_t line_end = text.find('\n', label_start);
    if (label_end == std::string_view::npos ||
        (line_end != std::string_view::npos && label_end > line_end)) {
      return absl::InvalidArgumentError(StrCat("PEM: unterminated BEGIN line at offset ", begin));
    }
    PemBlock block;
    block.label = std::string(text.substr(label_start, label_end - label_start));
    const std::string end_line = StrCat("-----END ", block.label, "-----");
    const size_t body_start = label_end + kDashes.size();
    const size_t end = text.find(end_line, body_start);
    if (end == std::string_view::npos) {
      return absl::InvalidArgumentError(StrCat("PEM block \"", block.label, "\" at offset ", begin,
                                               ": no \"", end_line, "\" line (truncated?)"));
    }
    std::string body;
    body.reserve(end - body_start);
    for (size_t i = body_start; i < end; ++i) {
      const char c = text[i];
      if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
      body += c;
    }
    auto der = Base64Decode(body, Base64Alphabet::kStandard, Base64Padding::kRequired);
    if (!der.ok()) {
      return absl::InvalidArgumentError(StrCat("PEM block \"", block.label, "\" at offset ", begin,
                                               ": ", der.status().message(),
                                               " (offsets count the body's base64 characters)"));
    }
    if (der->empty()) {
      return absl::InvalidArgumentError(
          StrCat("PEM block \"", block.label, "\" at offset ", begin, " is empty"));
    }
    block.der = *std::move(der);
    blocks.push_back(std::move(block));
    pos = end + end_line.size();
  }
  return blocks;
}

std::string PemEncode(std::string_view label, std::span<const uint8_t> der) {
  const std::string b64 = Base64Encode(der);
  std::string out = StrCat("-----BEGIN ", label, "-----\n");
  for (size_t i = 0; i < b64.size(); i += 64) {
    out.append(b64, i, 64);
    out += '\n';
  }
  StrAppend(&out, "-----END ", label, "-----\n");
  return out;
}

}  // namespace tng::crypto
