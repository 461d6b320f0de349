// `aa_provider: coco_asr`: evidence from the CoCo guest-components "api-server-rest" (ASR) HTTP
// API at `asr_addr`, for TNG instances that cannot reach the AA's unix socket (containers).
// The API, as TNG's rats-rs AsrClient uses it (inclavare-containers/guest-components PR #91):
//   GET /info                                                   -> {"tee": "<tee type>"}
//   GET /aa/evidence?runtime_data=<b64url>&encoding=base64      -> the AA's evidence bytes
//   GET /aa/additional-evidence?runtime_data=...&encoding=base64 -> bytes; non-2xx or empty: none
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "attestation/attester.h"
#include "core/reactor.h"

namespace tng::attestation {

class CocoAsrAttester : public Attester {
 public:
  // `base_url`: "http://host:port[/prefix]" without a trailing '/'.
  explicit CocoAsrAttester(std::string base_url, Duration timeout = std::chrono::seconds(30))
      : base_url_(std::move(base_url)), timeout_(timeout) {}

  // On the calling reactor: the TEE type (asked once, then remembered), the evidence and any
  // additional evidence. Errors name the URL and the HTTP status or what was malformed.
  Task<absl::StatusOr<AttesterEvidence>> GetEvidence(
      std::span<const uint8_t> runtime_data) override;
  std::string Describe() const override { return "coco_asr " + base_url_; }

 private:
  Task<absl::StatusOr<std::string>> TeeType(Reactor& reactor);

  std::string base_url_;
  Duration timeout_;
  std::mutex mu_;  // the attester may be shared by reactors; the TEE type is cached once
  std::optional<std::string> tee_;
};

// Checks that `asr_addr` is an http:// URL (https is not supported for the ASR, which listens
// on loopback inside the TEE).
absl::StatusOr<std::unique_ptr<Attester>> MakeCocoAsrAttester(std::string asr_addr);

}  // namespace tng::attestation
