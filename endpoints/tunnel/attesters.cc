#include "endpoints/tunnel/attesters.h"

#include "absl/strings/str_cat.h"
#include "attestation/aa_attester.h"
#include "attestation/aa_client.h"
#include "attestation/coco_asr_client.h"
#include "attestation/configfs_tsm.h"

namespace tng::tunnel {

absl::StatusOr<std::unique_ptr<attestation::Attester>> MakeAttester(
    const config::AttestOptions& attest, Duration per_attempt_timeout) {
  if (attest.aa_provider == "coco" && attest.aa_type == "uds") {
    attestation::AaClientOptions options;
    options.address = attest.aa_addr;
    if (per_attempt_timeout > Duration::zero()) {
      options.timeout = per_attempt_timeout;
      options.attempts = 1;  // a waiting handshake cannot afford retries
    }
    auto client = attestation::AaClient::Create(std::move(options));
    if (!client.ok()) return client.status();
    return std::make_unique<attestation::AaAttester>(std::move(*client));
  }
  if (attest.aa_provider == "coco" && attest.aa_type == "builtin") {
    return attestation::MakeConfigfsTsmAttester(attest.configfs_tsm_root);
  }
  if (attest.aa_provider == "coco_asr") return attestation::MakeCocoAsrAttester(attest.asr_addr);
  std::string what = attest.aa_type.empty()
                         ? absl::StrCat("aa_provider \"", attest.aa_provider, "\"")
                         : absl::StrCat("aa_provider \"", attest.aa_provider, "\" with aa_type \"",
                                        attest.aa_type, "\"");
  return absl::UnimplementedError(absl::StrCat("evidence source ", what, " is not supported yet"));
}

}  // namespace tng::tunnel
