// The reference Attestation Service's request handling, independent of the transport: trustee's
// REST API (POST /challenge, POST /attestation, GET /certificate) for `sample` TEE evidence, with
// named allow/warn/deny policies, answering with EAR tokens as trustee's EAR broker issues them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/reference_as/token_signer.h"

namespace tng::reference_as {

// What a policy makes of evidence that verified: the EAR status of every submod.
enum class PolicyVerdict {
  kAllow,  // "affirming"
  kWarn,   // "warning"
  kDeny,   // "contraindicated"
};
// "NAME=allow" | "NAME=warn" | "NAME=deny", as --policy takes it.
absl::StatusOr<std::pair<std::string, PolicyVerdict>> ParsePolicyFlag(std::string_view flag);

struct ServiceOptions {
  // Trustee ships a "default" policy; it is added as kAllow unless named here.
  std::vector<std::pair<std::string, PolicyVerdict>> policies;
  int64_t token_ttl_seconds = 300;  // trustee's default: 5 minutes
  // Behave as trustee <= 1.5.2: /attestation takes only the flat body {tee, evidence, ...}.
  bool legacy_api = false;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
};

class Service {
 public:
  Service(TokenSigner signer, ServiceOptions options);

  // One request. `now` is Unix seconds (tokens' iat/exp, challenge expiry).
  Response Handle(std::string_view method, std::string_view path, std::string_view body,
                  int64_t now);

  TokenSigner& signer() { return signer_; }

 private:
  Response Challenge(std::string_view body, int64_t now);
  Response Attestation(std::string_view body, int64_t now);

  TokenSigner signer_;
  ServiceOptions options_;
};

}  // namespace tng::reference_as
