// RFC 8785 JSON Canonicalization Scheme (JCS): the byte-exact JSON that TNG and trustee hash to
// bind a TLS key into attestation runtime data (object keys sorted by UTF-16 code units, minimal
// string escaping, numbers in ECMAScript shortest form, no whitespace).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace simdjson::dom {
class element;
}

namespace tng::crypto {

struct CanonicalJsonLimits {
  size_t max_input_size = 1 << 20;
  size_t max_depth = 64;
};

// Parses `json` (RFC 8259, UTF-8) and returns its canonical form. Duplicate object keys are
// rejected, as RFC 8785 requires (I-JSON).
absl::StatusOr<std::string> CanonicalizeJson(std::string_view json,
                                             const CanonicalJsonLimits& limits = {});

// The canonical form of an already parsed simdjson element.
absl::StatusOr<std::string> CanonicalizeJson(const simdjson::dom::element& element);

// Appends `utf8` as an RFC 8785 string literal (quotes included). `utf8` must be valid UTF-8.
void AppendCanonicalJsonString(std::string_view utf8, std::string& out);

// ECMAScript Number.prototype.toString of `value` (RFC 8785 §3.2.2.3); an error for NaN and
// infinities, which JSON cannot carry.
absl::StatusOr<std::string> FormatJsonNumber(double value);

}  // namespace tng::crypto
