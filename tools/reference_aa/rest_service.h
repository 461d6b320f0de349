// The reference AA's REST side: the CoCo api-server-rest ("ASR") evidence API for the `sample`
// TEE, as TNG's coco_asr attester calls it (GET /info, /aa/evidence, /aa/additional-evidence),
// answered with the same evidence as the ttrpc side and honouring the same failure switches.
#pragma once

#include "core/http/message.h"
#include "core/reactor.h"
#include "core/task.h"
#include "tools/reference_aa/aa_service.h"

namespace tng::reference_aa {

// The answer to one request, without the delay.
http::Response AnswerRest(const AaServiceOptions& options, const http::Request& request);

// AnswerRest after options.delay.
Task<http::Response> ServeRest(Reactor& reactor, const AaServiceOptions& options,
                               const http::Request& request);

}  // namespace tng::reference_aa
