// Base64 (RFC 4648 §4) and base64url (§5) with strict decoding, plus PEM armor (RFC 7468), which
// is labelled base64. Decoders reject anything non-canonical and name the offending offset.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tng::crypto {

enum class Base64Alphabet {
  kStandard,  // A-Z a-z 0-9 + /
  kUrl,       // A-Z a-z 0-9 - _
  // Either alphabet (even mixed). Only for inputs that producers are known to get wrong, such as
  // the x5c certificates some attestation services encode as base64url instead of base64.
  kEither,
};

enum class Base64Padding {
  kRequired,   // length must be a multiple of 4, with '=' filling the last group
  kForbidden,  // no '=' at all (JWS, base64url in URLs)
  kOptional,   // either form, but padding, when present, must be complete
};

std::string Base64Encode(std::span<const uint8_t> data,
                         Base64Alphabet alphabet = Base64Alphabet::kStandard, bool pad = true);
inline std::string Base64Encode(std::string_view data) {
  return Base64Encode(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}
// base64url without padding, as JWS and JOSE use it.
inline std::string Base64UrlEncode(std::span<const uint8_t> data) {
  return Base64Encode(data, Base64Alphabet::kUrl, /*pad=*/false);
}

// Rejects characters outside the alphabet, misplaced or missing padding, a dangling single
// character, and non-zero unused bits in the last character (so every input has exactly one
// accepted spelling). Whitespace is not skipped.
absl::StatusOr<std::vector<uint8_t>> Base64Decode(
    std::string_view text, Base64Alphabet alphabet = Base64Alphabet::kStandard,
    Base64Padding padding = Base64Padding::kRequired);
inline absl::StatusOr<std::vector<uint8_t>> Base64UrlDecode(std::string_view text) {
  return Base64Decode(text, Base64Alphabet::kUrl, Base64Padding::kForbidden);
}

struct PemBlock {
  std::string label;  // e.g. "CERTIFICATE"
  std::vector<uint8_t> der;
};

// All PEM blocks in `text`, in order. Text outside blocks is ignored (OpenSSL prints a
// human-readable dump before the block); inside a block only base64 and line breaks may appear.
absl::StatusOr<std::vector<PemBlock>> PemDecode(std::string_view text);
// `der` as a PEM block with 64-character lines and a trailing newline.
std::string PemEncode(std::string_view label, std::span<const uint8_t> der);

}  // namespace tng::crypto
