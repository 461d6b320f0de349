// The reference Attestation Service over gRPC (trustee's grpc-as): AttestationEvaluate of
// protos/attestation.proto (package attestation) answered by the same Service, and a cleartext
// HTTP/2 (h2c, prior knowledge) server for it on the reactor, framed by nghttp2.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/fd.h"
#include "core/reactor.h"
#include "core/task.h"
#include "tools/reference_as/service.h"

namespace tng::reference_as {

// The 1.6 AttestationRequest as the REST body the Service takes (see as_grpc_client.h).
absl::StatusOr<std::string> GrpcAttestationRequestToJson(std::span<const uint8_t> message);

struct GrpcReply {
  int status = 0;  // grpc-status
  std::string message;
  std::vector<uint8_t> body;  // the reply message when status is 0
};

// One unary call: `method` is the :path, `request` the decoded message.
GrpcReply HandleGrpc(Service& service, std::string_view method, std::span<const uint8_t> request,
                     int64_t now);

using GrpcHandler =
    std::function<GrpcReply(std::string_view method, std::span<const uint8_t> request)>;

// Serves unary gRPC calls on one accepted connection until the peer goes away.
Task<void> ServeGrpcConnection(Reactor& reactor, UniqueFd fd, GrpcHandler handler);

}  // namespace tng::reference_as
