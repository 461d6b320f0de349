#include "attestation/as_protocol.h"

#include <utility>

#include "attestation/ear_token.h"
#include "core/json.h"
#include "crypto/base64.h"
#include "crypto/canonical_json.h"
#include "crypto/str_cat.h"

namespace tng::attestation {
namespace {

using crypto::StrAppend;
using crypto::StrCat;

constexpr size_t kQuotedBodyLimit = 512;

// The start of an AS's answer, for error messages: bodies can be whole HTML pages.
std::string Excerpt(std::string_view body) {
  if (body.size() <= kQuotedBodyLimit) return std::string(body);
  return StrCat(body.substr(0, kQuotedBodyLimit), "... (", body.size(), " bytes)");
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

absl::StatusOr<std::string> StructuredRuntimeData(std::string_view runtime_data) {
  auto canonical = crypto::CanonicalizeJson(runtime_data);
  if (!canonical.ok()) {
    return absl::InvalidArgumentError(
        StrCat("AS request: runtime data is not valid JSON: ", canonical.status().message()));
  }
  if (canonical->empty() || (*canonical)[0] != '{') {
    return absl::InvalidArgumentError("AS request: runtime data must be a JSON object");
  }
  return StrCat("{\"structured\":", *canonical, "}");
}

std::string PolicyIdsJson(const std::vector<std::string>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) StrAppend(&out, i ? "," : "", json::Quote(ids[i]));
  out += "]";
  return out;
}

absl::Status CheckTee(std::string_view tee) {
  if (tee.empty()) return absl::InvalidArgumentError("AS request: the TEE type is empty");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> BuildAttestationRequest(const AsAttestationInput& input) {
  if (auto s = CheckTee(input.tee); !s.ok()) return s;
  auto runtime = StructuredRuntimeData(input.runtime_data);
  if (!runtime.ok()) return runtime.status();
  std::string out =
      StrCat("{\"verification_requests\":[{\"tee\":", json::Quote(input.tee),
             ",\"evidence\":", json::Quote(crypto::Base64UrlEncode(input.evidence)),
             ",\"runtime_data\":", *runtime, ",\"init_data\":null,\"runtime_data_hash_algorithm\":",
             json::Quote(crypto::HashName(input.runtime_data_hash)), "}");
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
      StrAppend(&out, ",{\"tee\":", json::Quote(m.key), ",\"evidence\":",
                json::Quote(crypto::Base64UrlEncode(std::span(bytes, evidence->size()))),
                ",\"runtime_data\":null,\"init_data\":null,\"runtime_data_hash_algorithm\":null}");
    }
  }
  StrAppend(&out, "],\"policy_ids\":", PolicyIdsJson(input.policy_ids), "}");
  return out;
}

absl::StatusOr<std::string> BuildLegacyAttestationRequest(const AsAttestationInput& input) {
  if (auto s = CheckTee(input.tee); !s.ok()) return s;
  auto runtime = StructuredRuntimeData(input.runtime_data);
  if (!runtime.ok()) return runtime.status();
  return StrCat(
      "{\"tee\":", json::Quote(input.tee),
      ",\"evidence\":", json::Quote(crypto::Base64UrlEncode(input.evidence)),
      ",\"runtime_data\":", *runtime, ",\"init_data\":null,\"runtime_data_hash_algorithm\":",
      json::Quote(crypto::HashName(input.runtime_data_hash)),
      ",\"init_data_hash_algorithm\":null,\"policy_ids\":", PolicyIdsJson(input.policy_ids), "}");
}

bool IsLegacyAsRejection(int http_status, std::string_view body) {
  return http_status != 200 && body.find("missing field `tee`") != std::string_view::npos;
}

absl::StatusOr<std::string> ParseAttestationResponse(int http_status, std::string_view body) {
  if (http_status != 200) {
    std::string message =
        StrCat("AS ", kAsAttestationPath, " answered HTTP ", http_status, ": ", Excerpt(body));
    if (http_status >= 502 && http_status <= 504) return absl::UnavailableError(message);
    return absl::PermissionDeniedError(message);
  }
  std::string_view token = Trim(body);
  // A JWS compact token: three base64url parts. Anything else (an HTML page from a proxy, JSON)
  // is not a token even with status 200.
  size_t dots = 0;
  for (char c : token) {
    const bool b64url = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (c == '.') {
      ++dots;
    } else if (!b64url) {
      return absl::InvalidArgumentError(
          StrCat("AS ", kAsAttestationPath,
                 " answered 200 with a body that is not a JWT: ", Excerpt(body)));
    }
  }
  if (dots != 2) {
    return absl::InvalidArgumentError(StrCat("AS ", kAsAttestationPath, " answered 200 with ",
                                             dots + 1,
                                             " dot-separated parts, not a JWT: ", Excerpt(body)));
  }
  return std::string(token);
}

absl::StatusOr<std::optional<AsChallenge>> ParseChallengeResponse(int http_status,
                                                                  std::string_view body) {
  if (http_status != 200) {
    if (body.find("Failed to get inner tee") != std::string_view::npos) return std::nullopt;
    return absl::UnavailableError(
        StrCat("AS ", kAsChallengePath, " answered HTTP ", http_status, ": ", Excerpt(body)));
  }
  auto doc = json::Document::Parse(body, "AS /challenge response");
  if (!doc.ok()) return doc.status();
  const json::Value& root = doc->root();
  auto fail = [](std::string_view what) {
    return absl::InvalidArgumentError(StrCat("AS /challenge response: ", what));
  };
  if (root.kind() != json::Kind::kObject) return fail("not a JSON object");
  const json::Value* nonce = root.Find("nonce");
  if (nonce == nullptr || nonce->kind() != json::Kind::kString) {
    return fail("\"nonce\" is missing or not a string");
  }
  const json::Value* extra = root.Find("extra_params");
  if (extra == nullptr) extra = root.Find("extra-params");
  if (extra == nullptr || extra->kind() != json::Kind::kObject) {
    return fail("\"extra-params\" is missing or not an object");
  }
  const json::Value* jwt = extra->Find("jwt");
  if (jwt == nullptr || jwt->kind() != json::Kind::kString || jwt->text().empty()) {
    return fail("\"extra-params.jwt\" is missing or not a non-empty string");
  }
  return AsChallenge{.nonce = nonce->text(), .token = jwt->text()};
}

absl::StatusOr<std::vector<crypto::X509Certificate>> ParseCertificateResponse(
    int http_status, std::string_view body) {
  if (http_status != 200) {
    return absl::UnavailableError(
        StrCat("AS ", kAsCertificatePath, " answered HTTP ", http_status, ": ", Excerpt(body)));
  }
  return ParseCertificateList(std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()),
                              StrCat("AS ", kAsCertificatePath, " response"));
}

}  // namespace tng::attestation
