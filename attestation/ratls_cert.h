// RA-TLS certificates: the evidence a peer carries in X.509 extension 2.23.133.5.4.9 (TCG DICE
// tagged evidence, CBOR `tag([evidence bstr, claims bstr])`), read from a certificate and built
// into a fresh self-signed one, plus the checks that bind the certificate's key to that evidence
// for TNG (tags 0xC0C000/0xC0C001) and Interoperable RA-TLS (tag 60000).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/digest.h"
#include "crypto/signature.h"
#include "crypto/x509.h"

namespace tng::attestation {

inline constexpr std::string_view kOidTaggedEvidence = "2.23.133.5.4.9";
inline constexpr std::string_view kOidEndorsementManifest = "2.23.133.5.4.2";

inline constexpr uint64_t kTagTngEvidence = 0xC0C000;  // CoCo AA evidence (background check)
inline constexpr uint64_t kTagTngToken = 0xC0C001;     // CoCo AS token, a JWT (passport)
inline constexpr uint64_t kTagIntelTeeQuote = 60000;   // Interoperable RA-TLS: SGX/TDX quote

// The CBOR of 2.23.133.5.4.9: tag(tag_number)([evidence bstr, claims bstr]).
struct TaggedEvidence {
  uint64_t tag = 0;
  std::vector<uint8_t> evidence;
  std::vector<uint8_t> claims;  // empty for TNG (deprecated there)
};
absl::StatusOr<TaggedEvidence> DecodeTaggedEvidence(std::span<const uint8_t> cbor);
std::vector<uint8_t> EncodeTaggedEvidence(const TaggedEvidence& evidence);

struct RatlsCert {
  crypto::X509Certificate cert;
  TaggedEvidence evidence;
  // 2.23.133.5.4.2: TNG and rats-rs add it empty; Interoperable RA-TLS may carry endorsements.
  bool has_endorsement_extension = false;
  std::vector<uint8_t> endorsement;

  std::span<const uint8_t> spki_der() const { return cert.spki_der(); }
};

// Parses a DER or PEM certificate carrying RA-TLS evidence. Fails if the evidence extension is
// missing, critical (OpenSSL and mbedTLS peers reject unknown critical extensions), or not a
// tagged two-element array of byte strings. The certificate signature is not checked here.
absl::StatusOr<RatlsCert> ParseRatlsCert(std::span<const uint8_t> der_or_pem);

// Checks the self-signature, as TNG's verifier does before looking at the evidence.
absl::Status VerifySelfSigned(const RatlsCert& cert);

// ---- TNG binding (tags 0xC0C000 and 0xC0C001) -------------------------------------------------

// {"pubkey-hash": base64(CBOR [1, SHA-256(SPKI DER)])} in RFC 8785 form: the claims whose hash
// the attester hands the AA as RuntimeData, and which a token's runtime data must contain.
std::string TngClaimsJson(std::span<const uint8_t> spki_der);
// The "pubkey-hash" value alone (base64 of the CBOR hash entry).
std::string TngPubkeyHash(std::span<const uint8_t> spki_der);

// The CBOR map inside a 0xC0C000 evidence bstr, as TNG's CoCo attester writes it.
struct TngEvidence {
  std::string tee_type;  // "sample", "tdx", ...
  std::vector<uint8_t> aa_evidence;
  std::optional<std::vector<uint8_t>> aa_additional_evidence;
  std::string aa_runtime_data;  // canonical JSON of the claims
  crypto::HashAlgorithm aa_runtime_data_hash_algo = crypto::HashAlgorithm::kSha384;
};
absl::StatusOr<TngEvidence> DecodeTngEvidence(std::span<const uint8_t> cbor);
std::vector<uint8_t> EncodeTngEvidence(const TngEvidence& evidence);

struct TngEvidenceBinding {
  TngEvidence evidence;
  // hash(aa_runtime_data): what the TEE evidence's report data must carry, checked by the AS.
  std::vector<uint8_t> runtime_data_hash;
};
// For a 0xC0C000 certificate: decodes the evidence map and checks that aa_runtime_data is
// canonical JSON whose "pubkey-hash" is that of the certificate's own key.
absl::StatusOr<TngEvidenceBinding> CheckTngEvidenceBinding(const RatlsCert& cert);

// ---- Interoperable RA-TLS binding (tag 60000) -------------------------------------------------

struct InteropClaims {
  crypto::HashAlgorithm pubkey_hash_algorithm = crypto::HashAlgorithm::kSha256;
  std::vector<uint8_t> pubkey_hash;
  std::optional<std::vector<uint8_t>> nonce;
};
// claims-buffer = { "pubkey-hash": bstr .cbor [alg, hash], ? "nonce": bstr, * text => any }.
absl::StatusOr<InteropClaims> DecodeInteropClaims(std::span<const uint8_t> claims_buffer);

// The 64-byte report data of an SGX (v3, v4) or TDX (v4, v5) ECDSA quote.
struct QuoteReportData {
  std::span<const uint8_t> report_data;
  bool tdx = false;
};
absl::StatusOr<QuoteReportData> FindQuoteReportData(std::span<const uint8_t> quote);

// For a 60000 certificate: pubkey-hash == H(SPKI DER), and the quote's report data ==
// SHA-256(claims) || 0^32 (TDX also SHA-384(claims) || 0^16, as Intel's TDX build emits). The
// quote's own signature and TCB are the verifier's business.
absl::Status CheckInteropBinding(const RatlsCert& cert);

// ---- building TNG's certificate ---------------------------------------------------------------

struct RatlsCertOptions {
  std::string common_name = "TNG";
  std::string organization = "Inclavare Containers";
  int64_t not_before_unix = 0;
  int64_t validity_seconds = 6 * 3600;
  // Big-endian. Empty: 16 bytes derived from the key and evidence (unique, as the key is fresh).
  std::vector<uint8_t> serial;
};

// Largest tagged-evidence CBOR TNG peers accept: rats-cert writes the extension length as u16.
inline constexpr size_t kMaxTaggedEvidenceSize = 65535;

// A self-signed X.509 v3 certificate for `key` with the tagged evidence as non-critical
// 2.23.133.5.4.9 and an empty 2.23.133.5.4.2, as TNG presents it (DER). The key may be P-256
// (signed ECDSA-SHA256) or P-384 (ECDSA-SHA384).
absl::StatusOr<std::vector<uint8_t>> BuildRatlsCert(crypto::EcPrivateKey& key,
                                                    const TaggedEvidence& evidence,
                                                    const RatlsCertOptions& options);

}  // namespace tng::attestation
