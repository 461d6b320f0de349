// The evidence source an `attest` block configures (aa_provider / aa_type), as an Attester.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "attestation/attester.h"
#include "core/reactor.h"
#include "endpoints/config/options.h"

namespace tng::tunnel {

// `per_attempt_timeout` bounds each call to the source (refresh_interval 0 passes the handshake
// timeout: evidence is then fetched while a peer waits). Sources not built in yet are
// Unimplemented, naming the setting.
absl::StatusOr<std::unique_ptr<attestation::Attester>> MakeAttester(
    const config::AttestOptions& attest, Duration per_attempt_timeout);

}  // namespace tng::tunnel
