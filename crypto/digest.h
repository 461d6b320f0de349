// One-shot SHA-2 digests on wolfCrypt, and the IANA "Named Information" hash ids (RFC 6920) that
// RA-TLS uses to say which hash bound a key (1 = SHA-256, 7 = SHA-384, 8 = SHA-512).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace tng::crypto {

enum class HashAlgorithm { kSha256, kSha384, kSha512 };

size_t DigestSize(HashAlgorithm algorithm);
std::string_view HashName(HashAlgorithm algorithm);  // "sha256", as trustee spells it
uint64_t IanaHashId(HashAlgorithm algorithm);
std::optional<HashAlgorithm> HashFromIanaId(uint64_t id);

std::vector<uint8_t> Digest(HashAlgorithm algorithm, std::span<const uint8_t> data);
inline std::vector<uint8_t> Digest(HashAlgorithm algorithm, std::string_view data) {
  return Digest(algorithm, std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}
// SHA-1, only for X.509 key identifiers (RFC 5280 §4.2.1.2 method 1), never for signatures.
std::vector<uint8_t> Sha1ForKeyId(std::span<const uint8_t> data);

}  // namespace tng::crypto
