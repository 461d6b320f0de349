// The Attester backed by the CoCo Attestation Agent over ttrpc (TNG's aa_provider "coco" with
// aa_type "uds"): TEE type, evidence and additional evidence from the AA.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "attestation/aa_client.h"
#include "attestation/attester.h"

namespace tng::attestation {

class AaAttester : public Attester {
 public:
  explicit AaAttester(AaClient client) : client_(std::move(client)) {}

  Task<absl::StatusOr<AttesterEvidence>> GetEvidence(
      std::span<const uint8_t> runtime_data) override;
  std::string Describe() const override { return "AA " + client_.options().address; }

 private:
  AaClient client_;
};

}  // namespace tng::attestation
