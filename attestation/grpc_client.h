// A gRPC unary call over cleartext HTTP/2 (h2c with prior knowledge, as tonic dials http://
// addresses) on the reactor, framed by nghttp2: one connection per call, one deadline for
// resolve + connect + call. Also the gRPC message framing and status mapping both ends share.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng::attestation {

// A message on a gRPC stream: compressed flag (always 0 here), 4-byte big-endian length, bytes.
std::vector<uint8_t> EncodeGrpcFrame(std::span<const uint8_t> message);
// The one message of a unary reply: exactly one uncompressed frame covering `body`. Errors say
// what is wrong (truncated prefix or message, compression, trailing bytes, over `max_size`).
absl::StatusOr<std::vector<uint8_t>> DecodeGrpcFrame(std::span<const uint8_t> body,
                                                     size_t max_size = 4u << 20);

// grpc-message is percent-encoded (gRPC over HTTP/2 spec): encode/decode it.
std::string PercentEncodeGrpcMessage(std::string_view message);
std::string PercentDecodeGrpcMessage(std::string_view encoded);

// The absl status for a grpc-status trailer (gRPC and absl share code numbers 0..16); an
// unparsable or out-of-range value is kUnknown. `context` prefixes the message.
absl::Status GrpcStatusToAbsl(std::string_view grpc_status, std::string_view grpc_message,
                              std::string_view context);

struct GrpcCallOptions {
  std::string address;  // "http://host:port" (a trailing path is ignored, as tonic does)
  std::string method;   // "/package.Service/Method"
  std::vector<std::pair<std::string, std::string>> metadata;  // extra request headers
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  size_t max_response = 4u << 20;  // of the reply message (gRPC's default limit)
};

// Sends `request` (an encoded protobuf message) and returns the reply message. Errors start with
// "gRPC <method> at <address>: ": the grpc-status of the server mapped to its absl code, or
// Unavailable (connect, reset, HTTP/2 errors, non-200, not application/grpc), DeadlineExceeded,
// InvalidArgument (bad address, malformed reply frames).
Task<absl::StatusOr<std::vector<uint8_t>>> GrpcUnaryCall(Reactor& reactor,
                                                         const GrpcCallOptions& options,
                                                         std::span<const uint8_t> request);

}  // namespace tng::attestation
