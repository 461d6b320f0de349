// The CoCo Attestation Agent's ttrpc API (guest-components, protos/attestation-agent.proto): the
// service and method names and the request/response messages TNG uses, shared by the client and
// the reference AA.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tng::attestation::aa {

inline constexpr std::string_view kService = "attestation_agent.AttestationAgentService";
inline constexpr std::string_view kGetEvidence = "GetEvidence";
inline constexpr std::string_view kGetAdditionalEvidence = "GetAdditionalEvidence";
inline constexpr std::string_view kGetTeeType = "GetTeeType";
inline constexpr std::string_view kGetAdditionalTees = "GetAdditionalTees";
inline constexpr std::string_view kDefaultAddress =
    "unix:///run/confidential-containers/attestation-agent/attestation-agent.sock";

// GetEvidenceRequest and GetAdditionalEvidenceRequest: { bytes RuntimeData = 1; }
std::vector<uint8_t> EncodeEvidenceRequest(std::span<const uint8_t> runtime_data);
absl::StatusOr<std::vector<uint8_t>> DecodeEvidenceRequest(std::span<const uint8_t> bytes);

// GetEvidenceResponse: { bytes Evidence = 1; }
std::vector<uint8_t> EncodeEvidenceResponse(std::span<const uint8_t> evidence);
absl::StatusOr<std::vector<uint8_t>> DecodeEvidenceResponse(std::span<const uint8_t> bytes);

// GetTeeTypeRequest is empty. GetTeeTypeResponse: { string tee = 1; }
std::vector<uint8_t> EncodeTeeTypeResponse(std::string_view tee);
absl::StatusOr<std::string> DecodeTeeTypeResponse(std::span<const uint8_t> bytes);

// GetAdditionalTeesResponse: { repeated string additional_tees = 1; }
std::vector<uint8_t> EncodeAdditionalTeesResponse(const std::vector<std::string>& tees);
absl::StatusOr<std::vector<std::string>> DecodeAdditionalTeesResponse(
    std::span<const uint8_t> bytes);

// The `sample` TEE's evidence, as the AA's sample attester serialises it:
// {"svn":"1","report_data":"<standard base64 of the report data>"}.
std::string SampleEvidence(std::span<const uint8_t> report_data);

}  // namespace tng::attestation::aa
