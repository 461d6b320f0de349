#include "attestation/as_client.h"

#include "attestation/ear_token.h"
#include "core/http/client.h"
#include "crypto/str_cat.h"

namespace tng::attestation {

using crypto::StrCat;

AsClient::AsClient(Reactor& reactor, AsClientOptions options)
    : reactor_(reactor), options_(std::move(options)) {
  while (!options_.as_addr.empty() && options_.as_addr.back() == '/') options_.as_addr.pop_back();
  if (options_.transport == AsTransport::kGrpc) {
    grpc_.emplace(reactor_, AsGrpcClientOptions{.as_addr = options_.as_addr,
                                                .headers = options_.headers,
                                                .timeout = options_.timeout});
  }
}

Task<absl::StatusOr<AsClient::Reply>> AsClient::Call(std::string method, std::string path,
                                                     std::string body) {
  http::HttpRequestOptions request;
  request.method = std::move(method);
  request.url = StrCat(options_.as_addr, path);
  request.timeout = options_.timeout;
  for (const auto& [name, value] : options_.headers) request.headers.Add(name, value);
  if (!request.headers.Has("User-Agent")) request.headers.Add("User-Agent", "tng/" TNG_VERSION);
  if (request.method == "POST") {
    request.headers.Set("Content-Type", "application/json");
    request.body = std::move(body);
  }
  auto response = co_await http::Fetch(reactor_, std::move(request));
  if (!response.ok()) {
    co_return absl::Status(response.status().code(),
                           StrCat("Attestation Service: ", response.status().message()));
  }
  co_return Reply{.status = response->status, .body = std::move(response->body)};
}

Task<absl::StatusOr<std::string>> AsClient::Attest(AsAttestationInput input) {
  if (grpc_) co_return co_await grpc_->Attest(std::move(input));
  if (!legacy_) {
    auto body = BuildAttestationRequest(input);
    if (!body.ok()) co_return body.status();
    auto reply = co_await Call("POST", std::string(kAsAttestationPath), *std::move(body));
    if (!reply.ok()) co_return reply.status();
    if (!IsLegacyAsRejection(reply->status, reply->body)) {
      co_return ParseAttestationResponse(reply->status, reply->body);
    }
    // Trustee <= 1.5.2 wants the flat body (and cannot take additional evidence).
    legacy_ = true;
  }
  auto body = BuildLegacyAttestationRequest(input);
  if (!body.ok()) co_return body.status();
  auto reply = co_await Call("POST", std::string(kAsAttestationPath), *std::move(body));
  if (!reply.ok()) co_return reply.status();
  co_return ParseAttestationResponse(reply->status, reply->body);
}

Task<absl::StatusOr<std::optional<AsChallenge>>> AsClient::GetChallenge() {
  if (grpc_) co_return std::nullopt;
  auto reply =
      co_await Call("POST", std::string(kAsChallengePath), std::string(kAsChallengeRequestBody));
  if (!reply.ok()) co_return reply.status();
  co_return ParseChallengeResponse(reply->status, reply->body);
}

Task<absl::StatusOr<std::string>> AsClient::GetCertificate() {
  if (grpc_) {
    co_return absl::FailedPreconditionError(
        StrCat("the gRPC Attestation Service at ", options_.as_addr,
               " has no certificate RPC: set trusted_certs_paths to the AS token signer's CA"));
  }
  auto reply = co_await Call("GET", std::string(kAsCertificatePath), "");
  if (!reply.ok()) co_return reply.status();
  auto certs = ParseCertificateResponse(reply->status, reply->body);
  if (!certs.ok()) co_return certs.status();
  co_return std::move(reply->body);
}

}  // namespace tng::attestation
