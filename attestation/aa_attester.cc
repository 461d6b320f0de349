#include "attestation/aa_attester.h"

namespace tng::attestation {

Task<absl::StatusOr<AttesterEvidence>> AaAttester::GetEvidence(
    std::span<const uint8_t> runtime_data) {
  // The TEE type is asked every time rather than cached: an AA restarted on other hardware (a
  // live-migrated VM) must not be described with a stale type.
  auto tee = co_await client_.GetTeeType();
  if (!tee.ok()) co_return tee.status();
  auto evidence = co_await client_.GetEvidence(runtime_data);
  if (!evidence.ok()) co_return evidence.status();
  auto additional = co_await client_.GetAdditionalEvidence(runtime_data);
  if (!additional.ok()) co_return additional.status();
  AttesterEvidence out;
  out.tee_type = std::move(*tee);
  out.evidence = std::move(*evidence);
  out.additional_evidence = std::move(*additional);
  co_return out;
}

}  // namespace tng::attestation
