#include "crypto/digest.h"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
// clang-format on

#include <cstdlib>

namespace tng::crypto {

size_t DigestSize(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha256:
      return 32;
    case HashAlgorithm::kSha384:
      return 48;
    case HashAlgorithm::kSha512:
      return 64;
  }
  return 0;
}

std::string_view HashName(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha256:
      return "sha256";
    case HashAlgorithm::kSha384:
      return "sha384";
    case HashAlgorithm::kSha512:
      return "sha512";
  }
  return "unknown";
}

uint64_t IanaHashId(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha256:
      return 1;
    case HashAlgorithm::kSha384:
      return 7;
    case HashAlgorithm::kSha512:
      return 8;
  }
  return 0;
}

std::optional<HashAlgorithm> HashFromIanaId(uint64_t id) {
  switch (id) {
    case 1:
      return HashAlgorithm::kSha256;
    case 7:
      return HashAlgorithm::kSha384;
    case 8:
      return HashAlgorithm::kSha512;
  }
  return std::nullopt;
}

std::vector<uint8_t> Digest(HashAlgorithm algorithm, std::span<const uint8_t> data) {
  std::vector<uint8_t> out(DigestSize(algorithm));
  const auto len = static_cast<word32>(data.size());
  int rc = -1;
  switch (algorithm) {
    case HashAlgorithm::kSha256:
      rc = wc_Sha256Hash(data.data(), len, out.data());
      break;
    case HashAlgorithm::kSha384:
      rc = wc_Sha384Hash(data.data(), len, out.data());
      break;
    case HashAlgorithm::kSha512:
      rc = wc_Sha512Hash(data.data(), len, out.data());
      break;
  }
  // One-shot hashing of memory only fails on allocation failure or a broken build.
  if (rc != 0) std::abort();
  return out;
}

std::vector<uint8_t> Sha1ForKeyId(std::span<const uint8_t> data) {
  std::vector<uint8_t> out(20);
  if (wc_ShaHash(data.data(), static_cast<word32>(data.size()), out.data()) != 0) std::abort();
  return out;
}

}  // namespace tng::crypto
