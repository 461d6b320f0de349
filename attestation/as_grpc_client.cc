#include "attestation/as_grpc_client.h"

#include "attestation/grpc_client.h"
#include "core/json.h"
#include "core/protobuf_wire.h"
#include "crypto/base64.h"
#include "crypto/canonical_json.h"
#include "crypto/str_cat.h"

namespace tng::attestation {
namespace {

using crypto::StrCat;

absl::StatusOr<std::string> CanonicalRuntimeData(const AsAttestationInput& input) {
  if (input.tee.empty()) return absl::InvalidArgumentError("AS request: the TEE type is empty");
  auto canonical = crypto::CanonicalizeJson(input.runtime_data);
  if (!canonical.ok()) {
    return absl::InvalidArgumentError(
        StrCat("AS request: runtime data is not valid JSON: ", canonical.status().message()));
  }
  if (canonical->empty() || (*canonical)[0] != '{') {
    return absl::InvalidArgumentError("AS request: runtime data must be a JSON object");
  }
  return canonical;
}

bool IsTransportFailure(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> BuildGrpcAttestationRequest(const AsAttestationInput& input) {
  auto runtime = CanonicalRuntimeData(input);
  if (!runtime.ok()) return runtime.status();
  pb::Writer request;
  pb::Writer main;
  main.String(1, input.tee);
  main.String(3, crypto::Base64UrlEncode(input.evidence));
  main.String(5, *runtime);
  main.String(8, crypto::HashName(input.runtime_data_hash));
  request.Message(1, main);
  if (input.additional_evidence) {
    auto doc = json::Document::Parse(*input.additional_evidence, "additional evidence");
    if (!doc.ok()) return doc.status();
    if (doc->root().kind() != json::Kind::kObject) {
      return absl::InvalidArgumentError(
          "AS request: additional evidence must be a JSON object {tee: evidence}");
    }
    for (const json::Member& m : doc->root().members()) {
      auto evidence = crypto::CanonicalizeJson(json::ToJson(m.value));
      if (!evidence.ok()) {
        return absl::InvalidArgumentError(StrCat("AS request: additional evidence for ",
                                                 json::Quote(m.key), ": ",
                                                 evidence.status().message()));
      }
      const auto* bytes = reinterpret_cast<const uint8_t*>(evidence->data());
      pb::Writer extra;
      extra.String(1, m.key);
      extra.String(3, crypto::Base64UrlEncode(std::span(bytes, evidence->size())));
      request.Message(1, extra);
    }
  }
  for (const std::string& id : input.policy_ids) request.String(2, id);
  return request.Take();
}

absl::StatusOr<std::vector<uint8_t>> BuildLegacyGrpcAttestationRequest(
    const AsAttestationInput& input) {
  auto runtime = CanonicalRuntimeData(input);
  if (!runtime.ok()) return runtime.status();
  pb::Writer request;
  request.String(1, input.tee);
  request.String(2, crypto::Base64UrlEncode(input.evidence));
  request.String(4, *runtime);
  request.String(7, crypto::HashName(input.runtime_data_hash));
  for (const std::string& id : input.policy_ids) request.String(9, id);
  return request.Take();
}

absl::StatusOr<std::string> ParseGrpcAttestationResponse(std::span<const uint8_t> message) {
  pb::Reader reader(message, "AttestationResponse");
  std::string token;
  pb::Field field;
  while (true) {
    auto more = reader.Next(field);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (field.number != 1) continue;  // unknown fields are skipped, as protobuf does
    if (auto st = reader.ExpectType(field, pb::WireType::kLengthDelimited); !st.ok()) return st;
    token = std::string(field.AsStringView());
  }
  if (token.empty()) {
    return absl::InvalidArgumentError("AS AttestationResponse carries no attestation_token");
  }
  return ParseAttestationResponse(200, token);
}

AsGrpcClient::AsGrpcClient(Reactor& reactor, AsGrpcClientOptions options)
    : reactor_(reactor), options_(std::move(options)) {}

Task<absl::StatusOr<std::string>> AsGrpcClient::Evaluate(std::vector<uint8_t> request) {
  GrpcCallOptions call;
  call.address = options_.as_addr;
  call.method = std::string(kAsGrpcEvaluateMethod);
  call.metadata = options_.headers;
  call.timeout = options_.timeout;
  auto reply = co_await GrpcUnaryCall(reactor_, call, request);
  if (!reply.ok()) {
    if (IsTransportFailure(reply.status())) {
      co_return absl::Status(reply.status().code(),
                             StrCat("Attestation Service: ", reply.status().message()));
    }
    // trustee answers ABORTED when it rejects evidence or does not know a policy.
    co_return absl::PermissionDeniedError(
        StrCat("Attestation Service: ", reply.status().message()));
  }
  co_return ParseGrpcAttestationResponse(*reply);
}

Task<absl::StatusOr<std::string>> AsGrpcClient::Attest(AsAttestationInput input) {
  absl::Status first_error;
  if (!legacy_) {
    auto request = BuildGrpcAttestationRequest(input);
    if (!request.ok()) co_return request.status();
    auto token = co_await Evaluate(*std::move(request));
    if (token.ok() || IsTransportFailure(token.status())) co_return token;
    first_error = token.status();
  }
  // Trustee <= 1.5.2 has the flat message (and cannot take additional evidence).
  auto request = BuildLegacyGrpcAttestationRequest(input);
  if (!request.ok()) co_return request.status();
  auto token = co_await Evaluate(*std::move(request));
  if (token.ok()) {
    legacy_ = true;
    co_return token;
  }
  if (first_error.ok()) co_return token;
  // Both forms failed: the 1.6 answer is the one that says why.
  co_return first_error;
}

}  // namespace tng::attestation
