#include "attestation/aa_protocol.h"

#include "core/protobuf_wire.h"
#include "crypto/base64.h"

namespace tng::attestation::aa {
namespace {

// Every length-delimited occurrence of field 1 (the only field of each message here), in order.
// Unknown fields are skipped, as protobuf requires.
absl::StatusOr<std::vector<std::span<const uint8_t>>> Field1(std::span<const uint8_t> bytes,
                                                             std::string_view what) {
  std::vector<std::span<const uint8_t>> out;
  pb::Reader r(bytes, what);
  pb::Field f;
  for (;;) {
    auto more = r.Next(f);
    if (!more.ok()) return more.status();
    if (!*more) return out;
    if (f.number != 1) continue;
    if (auto st = r.ExpectType(f, pb::WireType::kLengthDelimited); !st.ok()) return st;
    out.push_back(f.bytes);
  }
}

std::vector<uint8_t> Bytes1(std::span<const uint8_t> v) {
  pb::Writer w;
  w.BytesIfSet(1, v);
  return w.Take();
}

// A singular bytes field: the last occurrence wins; absent means empty.
absl::StatusOr<std::vector<uint8_t>> LastBytes1(std::span<const uint8_t> bytes,
                                                std::string_view what) {
  auto all = Field1(bytes, what);
  if (!all.ok()) return all.status();
  if (all->empty()) return std::vector<uint8_t>();
  return std::vector<uint8_t>(all->back().begin(), all->back().end());
}

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

std::vector<uint8_t> EncodeEvidenceRequest(std::span<const uint8_t> runtime_data) {
  return Bytes1(runtime_data);
}

absl::StatusOr<std::vector<uint8_t>> DecodeEvidenceRequest(std::span<const uint8_t> bytes) {
  return LastBytes1(bytes, "GetEvidenceRequest");
}

std::vector<uint8_t> EncodeEvidenceResponse(std::span<const uint8_t> evidence) {
  return Bytes1(evidence);
}

absl::StatusOr<std::vector<uint8_t>> DecodeEvidenceResponse(std::span<const uint8_t> bytes) {
  return LastBytes1(bytes, "GetEvidenceResponse");
}

std::vector<uint8_t> EncodeTeeTypeResponse(std::string_view tee) { return Bytes1(AsBytes(tee)); }

absl::StatusOr<std::string> DecodeTeeTypeResponse(std::span<const uint8_t> bytes) {
  auto v = LastBytes1(bytes, "GetTeeTypeResponse");
  if (!v.ok()) return v.status();
  return std::string(v->begin(), v->end());
}

std::vector<uint8_t> EncodeAdditionalTeesResponse(const std::vector<std::string>& tees) {
  pb::Writer w;
  for (const std::string& t : tees) w.String(1, t);  // repeated: empty strings are kept
  return w.Take();
}

absl::StatusOr<std::vector<std::string>> DecodeAdditionalTeesResponse(
    std::span<const uint8_t> bytes) {
  auto all = Field1(bytes, "GetAdditionalTeesResponse");
  if (!all.ok()) return all.status();
  std::vector<std::string> out;
  for (auto s : *all) out.emplace_back(s.begin(), s.end());
  return out;
}

std::string SampleEvidence(std::span<const uint8_t> report_data) {
  // Base64 output needs no JSON escaping.
  return "{\"svn\":\"1\",\"report_data\":\"" + crypto::Base64Encode(report_data) + "\"}";
}

}  // namespace tng::attestation::aa
