#include "attestation/aa_client.h"

#include <algorithm>
#include <utility>

#include "core/log.h"
#include "crypto/str_cat.h"

namespace tng::attestation {

using crypto::StrCat;

bool IsRetryableAaError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<AaClient> AaClient::Create(AaClientOptions options) {
  if (options.attempts < 1) {
    return absl::InvalidArgumentError(
        StrCat("attestation agent client for ", options.address, ": attempts must be at least 1"));
  }
  if (options.timeout <= Duration::zero()) {
    return absl::InvalidArgumentError(
        StrCat("attestation agent client for ", options.address, ": timeout must be positive"));
  }
  auto client = ttrpc::Client::Create(options.address);
  if (!client.ok()) {
    return absl::InvalidArgumentError(
        StrCat("attestation agent address: ", client.status().message()));
  }
  return AaClient(std::move(options), std::move(*client));
}

Task<absl::StatusOr<std::vector<uint8_t>>> AaClient::CallWithRetry(
    std::string_view method, std::vector<uint8_t> payload) const {
  Reactor* reactor = Reactor::Current();
  if (reactor == nullptr) {
    co_return absl::FailedPreconditionError(StrCat("attestation agent ", method, " on ",
                                                   options_.address,
                                                   ": called outside a reactor thread"));
  }
  Duration backoff = options_.initial_backoff;
  absl::Status last;
  int attempt = 1;
  for (;; ++attempt) {
    ttrpc::Request request;
    request.service = std::string(aa::kService);
    request.method = std::string(method);
    request.payload = payload;
    auto result = co_await client_.Call(*reactor, std::move(request), options_.timeout);
    if (result.ok()) co_return result;
    last = result.status();
    const bool retry = attempt < options_.attempts && IsRetryableAaError(last);
    TNG_LOG(Warn, "aa-client")
            .Kv("address", options_.address)
            .Kv("method", method)
            .Kv("attempt", attempt)
            .Kv("attempts", options_.attempts)
            .Kv("error", last.message())
        << (retry ? "attestation agent call failed, retrying" : "attestation agent call failed");
    if (!retry) break;
    if (backoff > Duration::zero()) co_await Sleep(*reactor, backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  co_return absl::Status(last.code(), StrCat("attestation agent call failed (attempt ", attempt,
                                             " of ", options_.attempts, "): ", last.message()));
}

Task<absl::StatusOr<std::vector<uint8_t>>> AaClient::GetEvidence(
    std::span<const uint8_t> runtime_data) const {
  auto payload = co_await CallWithRetry(aa::kGetEvidence, aa::EncodeEvidenceRequest(runtime_data));
  if (!payload.ok()) co_return payload.status();
  auto evidence = aa::DecodeEvidenceResponse(*payload);
  if (!evidence.ok()) {
    co_return absl::DataLossError(StrCat("attestation agent GetEvidence on ", options_.address,
                                         ": ", evidence.status().message()));
  }
  if (evidence->empty()) {
    co_return absl::DataLossError(StrCat("attestation agent GetEvidence on ", options_.address,
                                         ": the agent returned empty evidence"));
  }
  co_return std::move(*evidence);
}

Task<absl::StatusOr<std::optional<std::vector<uint8_t>>>> AaClient::GetAdditionalEvidence(
    std::span<const uint8_t> runtime_data) const {
  auto payload =
      co_await CallWithRetry(aa::kGetAdditionalEvidence, aa::EncodeEvidenceRequest(runtime_data));
  if (!payload.ok()) {
    if (payload.status().code() == absl::StatusCode::kUnimplemented) co_return std::nullopt;
    co_return payload.status();
  }
  auto evidence = aa::DecodeEvidenceResponse(*payload);
  if (!evidence.ok()) {
    co_return absl::DataLossError(StrCat("attestation agent GetAdditionalEvidence on ",
                                         options_.address, ": ", evidence.status().message()));
  }
  if (evidence->empty()) co_return std::nullopt;
  co_return std::optional<std::vector<uint8_t>>(std::move(*evidence));
}

Task<absl::StatusOr<std::string>> AaClient::GetTeeType() const {
  auto payload = co_await CallWithRetry(aa::kGetTeeType, {});
  if (!payload.ok()) co_return payload.status();
  auto tee = aa::DecodeTeeTypeResponse(*payload);
  if (!tee.ok()) {
    co_return absl::DataLossError(
        StrCat("attestation agent GetTeeType on ", options_.address, ": ", tee.status().message()));
  }
  if (tee->empty()) {
    co_return absl::DataLossError(StrCat("attestation agent GetTeeType on ", options_.address,
                                         ": the agent returned an empty TEE type"));
  }
  co_return std::move(*tee);
}

}  // namespace tng::attestation
