// ASN.1 DER (X.690) reading and writing for the X.509 pieces RA-TLS needs. The reader is strict
// (definite, minimal lengths; low tag numbers only) and its errors name the absolute byte offset
// and what was being read; the writer builds TLVs from already-encoded parts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tng::crypto {

namespace der {
inline constexpr uint8_t kBoolean = 0x01;
inline constexpr uint8_t kInteger = 0x02;
inline constexpr uint8_t kBitString = 0x03;
inline constexpr uint8_t kOctetString = 0x04;
inline constexpr uint8_t kNull = 0x05;
inline constexpr uint8_t kOid = 0x06;
inline constexpr uint8_t kUtf8String = 0x0c;
inline constexpr uint8_t kPrintableString = 0x13;
inline constexpr uint8_t kUtcTime = 0x17;
inline constexpr uint8_t kGeneralizedTime = 0x18;
inline constexpr uint8_t kSequence = 0x30;
inline constexpr uint8_t kSet = 0x31;
// Context-specific tags: [n] constructed (EXPLICIT) and primitive (IMPLICIT).
constexpr uint8_t ContextConstructed(uint8_t n) { return static_cast<uint8_t>(0xa0 | n); }
constexpr uint8_t ContextPrimitive(uint8_t n) { return static_cast<uint8_t>(0x80 | n); }
}  // namespace der

struct DerElement {
  uint8_t tag = 0;
  size_t offset = 0;               // absolute offset of the tag byte
  std::span<const uint8_t> value;  // the contents
  std::span<const uint8_t> whole;  // tag, length and contents
};

// Reads consecutive TLVs from a buffer. Offsets in errors are absolute: `base_offset` is where
// `data` starts within the outermost input.
class DerReader {
 public:
  explicit DerReader(std::span<const uint8_t> data, size_t base_offset = 0)
      : data_(data), base_(base_offset) {}
  // Reads the contents of `element` (a constructed type) with correct absolute offsets.
  static DerReader Contents(const DerElement& element);

  bool empty() const { return pos_ == data_.size(); }
  size_t offset() const { return base_ + pos_; }
  bool PeekTag(uint8_t tag) const { return !empty() && data_[pos_] == tag; }

  // `what` names the field for errors: "expected SEQUENCE for tbsCertificate at offset 4, ...".
  absl::StatusOr<DerElement> Next(std::string_view what);
  absl::StatusOr<DerElement> Expect(uint8_t tag, std::string_view what);
  // An error unless every byte was consumed.
  absl::Status ExpectEnd(std::string_view what) const;

 private:
  std::span<const uint8_t> data_;
  size_t base_;
  size_t pos_ = 0;
};

std::string_view DerTagName(uint8_t tag);

// OID contents (no tag/length) to dotted form, e.g. "2.23.133.5.4.9"; error on bad encoding.
absl::StatusOr<std::string> OidToString(std::span<const uint8_t> contents);
// Dotted form to OID contents; error on malformed text.
absl::StatusOr<std::vector<uint8_t>> OidFromString(std::string_view dotted);

// Unsigned big-endian INTEGER contents without the sign padding; error if negative or malformed.
absl::StatusOr<std::span<const uint8_t>> DerUnsignedInteger(const DerElement& element,
                                                            std::string_view what);
// BIT STRING contents without the unused-bits byte; error unless the unused bit count is 0.
absl::StatusOr<std::span<const uint8_t>> DerBitStringBytes(const DerElement& element,
                                                           std::string_view what);
// UTCTime or GeneralizedTime ("...Z" forms only) as seconds since the Unix epoch.
absl::StatusOr<int64_t> DerTimeToUnix(const DerElement& element, std::string_view what);

// ---- writer: each function returns one complete TLV ----------------------------------------

std::vector<uint8_t> DerTlv(uint8_t tag, std::span<const uint8_t> contents);
// A constructed TLV whose contents are the concatenation of `parts`.
std::vector<uint8_t> DerConstructed(uint8_t tag,
                                    std::initializer_list<std::span<const uint8_t>> parts);
std::vector<uint8_t> DerSequence(std::initializer_list<std::span<const uint8_t>> parts);
std::vector<uint8_t> DerOid(std::span<const uint8_t> contents);
std::vector<uint8_t> DerSmallInteger(uint64_t value);
// `magnitude` is an unsigned big-endian number; leading zeros are dropped and a sign byte added.
std::vector<uint8_t> DerUnsignedIntegerTlv(std::span<const uint8_t> magnitude);
std::vector<uint8_t> DerBoolean(bool value);
std::vector<uint8_t> DerNull();
std::vector<uint8_t> DerOctetString(std::span<const uint8_t> bytes);
std::vector<uint8_t> DerBitString(std::span<const uint8_t> bytes);  // no unused bits
std::vector<uint8_t> DerUtf8String(std::string_view text);
// UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5).
std::vector<uint8_t> DerTime(int64_t unix_seconds);

}  // namespace tng::crypto
