// The reference Attestation Agent's service: the CoCo AA's ttrpc API answered for the `sample`
// TEE, with switches that make it misbehave for tests (errors, slowness, wrong report data).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "attestation/ttrpc.h"
#include "core/fd.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng::reference_aa {

struct AaServiceOptions {
  // GetEvidence answers INTERNAL, with the message a real AA sends when its attester fails.
  bool fail_evidence = false;
  // Every request waits this long before its answer. A request whose timeout_nano is shorter is
  // answered DEADLINE_EXCEEDED when that runs out, as ttrpc servers do.
  Duration delay = Duration::zero();
  // Evidence carries these bytes as report data instead of the request's runtime data.
  std::optional<std::vector<uint8_t>> report_data_override;
};

// The answer to one request, without the delay. Never fails: errors are ttrpc statuses.
attestation::ttrpc::Response Answer(const AaServiceOptions& options,
                                    const attestation::ttrpc::Request& request);

// Serves requests on one accepted connection, one at a time in arrival order, until the peer
// closes it or the reactor drains (a delayed answer is dropped as soon as the connection is
// hung up or shut down). `options` must outlive the connection.
Task<void> ServeConnection(Reactor& reactor, UniqueFd fd, const AaServiceOptions& options,
                           uint64_t connection_id);

}  // namespace tng::reference_aa
