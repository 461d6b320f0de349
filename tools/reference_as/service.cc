#include "tools/reference_as/service.h"

#include <sys/random.h>

#include <array>
#include <optional>

#include "attestation/ear_token.h"
#include "core/json.h"
#include "crypto/base64.h"
#include "crypto/canonical_json.h"
#include "crypto/digest.h"
#include "crypto/jwt.h"
#include "crypto/str_cat.h"

namespace tng::reference_as {
namespace {

using crypto::StrAppend;
using crypto::StrCat;

constexpr int64_t kChallengeTtlSeconds = 300;
constexpr std::string_view kDeveloper = "https://confidentialcontainers.org";
constexpr std::string_view kIssuer = "CoCo-Attestation-Service";

// The TEE names trustee's restful AS knows (kbs-types); only `sample` is verified here.
constexpr std::array<std::string_view, 11> kKnownTees = {
    "az-snp-vtpm", "sgx",          "snp",         "tdx", "cca",     "csv",
    "sample",      "sampledevice", "az-tdx-vtpm", "se",  "hygondcu"};

// Errors carry the HTTP answer trustee gives: a failing JSON extractor is a 400 "Json deserialize
// error: ..."; anything after that is a 500 "An internal error occured" with the error chain.
template <typename Message>
absl::Status Deserialize(const Message& message) {
  return absl::InvalidArgumentError(StrCat("Json deserialize error: ", message));
}
template <typename Cause>
absl::Status Internal(std::string_view context, const Cause& cause) {
  return absl::InternalError(StrCat("An internal error occured: \n0: ", context, "\n1: ", cause));
}
absl::Status MissingField(std::string_view field, std::string_view body) {
  return Deserialize(StrCat("missing field `", field, "` at line 1 column ", body.size()));
}

Response ToResponse(const absl::Status& status) {
  return {.status = status.code() == absl::StatusCode::kInvalidArgument ? 400 : 500,
          .content_type = "text/plain",
          .body = std::string(status.message())};
}

std::string TrustVector(PolicyVerdict verdict) {
  // EAR tiers: 2..31 affirming, 32..95 warning, 96..127 contraindicated. 32 and 96 are the
  // "unrecognized" and "contraindicated" runtime values of the executables claim.
  const int executables = verdict == PolicyVerdict::kAllow  ? 3
                          : verdict == PolicyVerdict::kWarn ? 32
                                                            : 96;
  return StrCat("{\"configuration\":2,\"executables\":", executables,
                ",\"file-system\":2,\"hardware\":2}");
}

std::string_view StatusName(PolicyVerdict verdict) {
  switch (verdict) {
    case PolicyVerdict::kAllow:
      return "affirming";
    case PolicyVerdict::kWarn:
      return "warning";
    case PolicyVerdict::kDeny:
      return "contraindicated";
  }
  return "none";
}

absl::StatusOr<std::string> RandomNonce() {
  std::array<uint8_t, 32> bytes;
  if (getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    return absl::InternalError("getrandom failed while making a nonce");
  }
  return crypto::Base64Encode(bytes);
}

// One element of verification_requests (or the whole legacy body).
struct VerificationRequest {
  std::string tee;
  std::string evidence;
  const json::Value* runtime_data = nullptr;  // null when absent or JSON null
  std::string hash_algorithm;                 // empty: sha384
};

absl::StatusOr<std::string> StringField(const json::Value& obj, std::string_view key,
                                        std::string_view body) {
  const json::Value* v = obj.Find(key);
  if (v == nullptr) return MissingField(key, body);
  if (v->kind() != json::Kind::kString) {
    return Deserialize(
        StrCat("invalid type: ", json::Describe(*v), ", expected a string for `", key, "`"));
  }
  return v->text();
}

absl::StatusOr<VerificationRequest> ReadRequest(const json::Value& obj, std::string_view body) {
  if (obj.kind() != json::Kind::kObject) {
    return Deserialize(StrCat("invalid type: ", json::Describe(obj), ", expected a struct"));
  }
  VerificationRequest request;
  auto tee = StringField(obj, "tee", body);
  if (!tee.ok()) return tee.status();
  request.tee = *std::move(tee);
  auto evidence = StringField(obj, "evidence", body);
  if (!evidence.ok()) return evidence.status();
  request.evidence = *std::move(evidence);
  const json::Value* runtime = obj.Find("runtime_data");
  if (runtime != nullptr && runtime->kind() != json::Kind::kNull) request.runtime_data = runtime;
  const json::Value* alg = obj.Find("runtime_data_hash_algorithm");
  if (alg != nullptr && alg->kind() != json::Kind::kNull) {
    if (alg->kind() != json::Kind::kString) {
      return Deserialize("invalid type for `runtime_data_hash_algorithm`, expected a string");
    }
    request.hash_algorithm = alg->text();
  }
  return request;
}

absl::StatusOr<std::vector<std::string>> PolicyIds(const json::Value& root, std::string_view body) {
  const json::Value* ids = root.Find("policy_ids");
  if (ids == nullptr) return MissingField("policy_ids", body);
  if (ids->kind() != json::Kind::kArray) {
    return Deserialize("invalid type for `policy_ids`, expected a sequence");
  }
  std::vector<std::string> out;
  for (const json::Value& id : ids->elements()) {
    if (id.kind() != json::Kind::kString) {
      return Deserialize("invalid type in `policy_ids`, expected a string");
    }
    out.push_back(id.text());
  }
  return out;
}

// The report data the evidence must carry, from the runtime data (trustee's parse_runtime_data):
// the hash of the RFC 8785 form of "structured" data, or the bytes of "raw" data.
absl::StatusOr<std::optional<std::vector<uint8_t>>> ExpectedReportData(
    const VerificationRequest& request) {
  if (request.runtime_data == nullptr) return std::nullopt;
  crypto::HashAlgorithm hash = crypto::HashAlgorithm::kSha384;
  if (!request.hash_algorithm.empty()) {
    bool found = false;
    for (auto h : {crypto::HashAlgorithm::kSha256, crypto::HashAlgorithm::kSha384,
                   crypto::HashAlgorithm::kSha512}) {
      if (crypto::HashName(h) == request.hash_algorithm) hash = h, found = true;
    }
    if (!found) {
      return Internal("parse runtime data HashAlgorithm failed",
                      StrCat("unknown hash algorithm `", request.hash_algorithm, "`"));
    }
  }
  const json::Value& data = *request.runtime_data;
  if (data.kind() == json::Kind::kObject && data.members().size() == 1) {
    const json::Member& m = data.members()[0];
    if (m.key == "structured") {
      auto canonical = crypto::CanonicalizeJson(json::ToJson(m.value));
      if (!canonical.ok())
        return Internal("parse JSON structured data", canonical.status().message());
      return crypto::Digest(hash, *canonical);
    }
    if (m.key == "raw" && m.value.kind() == json::Kind::kString) {
      auto raw = crypto::Base64UrlDecode(m.value.text());
      if (!raw.ok()) return Internal("base64 decode raw runtime data", raw.status().message());
      return *std::move(raw);
    }
  }
  return Deserialize("unknown variant of `runtime_data`, expected `raw` or `structured`");
}

// A challenge token this AS issued, unexpired (trustee's verify_challenge_token).
absl::Status CheckChallengeToken(const json::Value& token, const TokenSigner& signer, int64_t now) {
  if (token.kind() != json::Kind::kString) {
    return Internal("verify challenge token", "challenge_token is not a string");
  }
  if (auto s = signer.VerifyOwnToken(token.text()); !s.ok()) {
    return Internal("verify challenge token", s.message());
  }
  auto jws = crypto::ParseJws(token.text());
  if (!jws.ok()) return Internal("verify challenge token", jws.status().message());
  auto payload = json::Document::Parse(
      std::string_view(reinterpret_cast<const char*>(jws->payload.data()), jws->payload.size()),
      "challenge token");
  const json::Value* exp = payload.ok() ? payload->root().Find("exp") : nullptr;
  if (exp == nullptr || exp->kind() != json::Kind::kNumber || exp->negative() ||
      exp->magnitude() < static_cast<uint64_t>(now)) {
    return Internal("verify challenge token", "the challenge token has expired");
  }
  return absl::OkStatus();
}

// Verifies one `sample` evidence against its runtime data and returns the submod's annotated
// evidence as trustee's broker writes it (report_data, runtime_data_claims, the TEE's claims).
absl::StatusOr<std::string> AppraiseSample(const VerificationRequest& request,
                                           const TokenSigner& signer, int64_t now) {
  auto evidence_bytes = crypto::Base64UrlDecode(request.evidence);
  if (!evidence_bytes.ok()) {
    return Internal("base64 decode evidence", evidence_bytes.status().message());
  }
  auto evidence =
      json::Document::Parse(std::string_view(reinterpret_cast<const char*>(evidence_bytes->data()),
                                             evidence_bytes->size()),
                            "evidence");
  if (!evidence.ok())
    return Internal("failed to parse evidence as JSON", evidence.status().message());
  bool known = false;
  for (std::string_view tee : kKnownTees) known |= tee == request.tee;
  if (!known) {
    return Internal("attestation report evaluate", StrCat("tee `", request.tee, " not supported`"));
  }
  if (request.tee != "sample") {
    return Internal("attestation report evaluate",
                    StrCat("Verifier evaluate failed: the reference AS verifies only `sample` "
                           "evidence, not `",
                           request.tee, "`"));
  }
  auto expected = ExpectedReportData(request);
  if (!expected.ok()) return expected.status();

  const json::Value& quote = evidence->root();
  const json::Value* svn = quote.kind() == json::Kind::kObject ? quote.Find("svn") : nullptr;
  if (svn == nullptr || svn->kind() != json::Kind::kString) {
    return Internal("Verifier evaluate failed",
                    "Deserialize Quote failed: sample evidence needs a string \"svn\"");
  }
  const json::Value* report = quote.Find("report_data");
  const std::string report_data =
      report != nullptr && report->kind() == json::Kind::kString ? report->text() : "";
  auto report_bytes = crypto::Base64Decode(report_data);
  if (!report_bytes.ok()) {
    return Internal(
        "Verifier evaluate failed",
        StrCat("base64 decode report data for sample evidence: ", report_bytes.status().message()));
  }
  if (*expected && **expected != *report_bytes) {
    return Internal("Verifier evaluate failed",
                    "Evidence's identity verification error: REPORT_DATA is different from that "
                    "in Sample Quote");
  }

  std::string runtime_claims = "null";
  if (request.runtime_data != nullptr) {
    const json::Member& variant = request.runtime_data->members()[0];
    if (variant.key == "structured") {
      runtime_claims = json::ToJson(variant.value);
      const json::Value* challenge = variant.value.kind() == json::Kind::kObject
                                         ? variant.value.Find("challenge_token")
                                         : nullptr;
      if (challenge != nullptr) {
        if (auto s = CheckChallengeToken(*challenge, signer, now); !s.ok()) return s;
      }
    }
  }
  return StrCat("{\"report_data\":", json::Quote(report_data),
                ",\"runtime_data_claims\":", runtime_claims,
                ",\"sample\":{\"debug\":false,\"launch_digest\":\"abcde\",\"platform_version\":{"
                "\"major\":1,\"minor\":4},\"svn\":",
                json::Quote(svn->text()), "}}");
}

}  // namespace

absl::StatusOr<std::pair<std::string, PolicyVerdict>> ParsePolicyFlag(std::string_view flag) {
  const size_t eq = flag.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        StrCat("--policy \"", flag, "\": expected NAME=allow, NAME=warn or NAME=deny"));
  }
  const std::string_view verdict = flag.substr(eq + 1);
  std::string name(flag.substr(0, eq));
  if (verdict == "allow") return std::pair{std::move(name), PolicyVerdict::kAllow};
  if (verdict == "warn") return std::pair{std::move(name), PolicyVerdict::kWarn};
  if (verdict == "deny") return std::pair{std::move(name), PolicyVerdict::kDeny};
  return absl::InvalidArgumentError(
      StrCat("--policy \"", flag, "\": unknown verdict \"", verdict, "\" (allow, warn or deny)"));
}

Service::Service(TokenSigner signer, ServiceOptions options)
    : signer_(std::move(signer)), options_(std::move(options)) {
  bool has_default = false;
  for (const auto& [name, verdict] : options_.policies) has_default |= name == "default";
  if (!has_default) options_.policies.emplace_back("default", PolicyVerdict::kAllow);
}

Response Service::Handle(std::string_view method, std::string_view path, std::string_view body,
                         int64_t now) {
  const size_t query = path.find('?');
  if (query != std::string_view::npos) path = path.substr(0, query);
  struct Route {
    std::string_view path;
    std::string_view method;
  };
  static constexpr Route kRoutes[] = {{"/challenge", "POST"},
                                      {"/attestation", "POST"},
                                      {"/certificate", "GET"},
                                      {"/.well-known/jwks.json", "GET"},
                                      {"/healthz", "GET"}};
  for (const Route& route : kRoutes) {
    if (path != route.path) continue;
    if (method != route.method) {
      return Response{.status = 405, .body = StrCat(method, " is not allowed on ", path)};
    }
    if (path == "/challenge") return Challenge(body, now);
    if (path == "/attestation") return Attestation(body, now);
    if (path == "/certificate") return Response{.body = signer_.CertificateChainPem()};
    if (path == "/healthz") return Response{};
    return Response{.content_type = "application/json",
                    .body = StrCat("{\"keys\":[", signer_.jwk_json(), "]}")};
  }
  return Response{.status = 404, .body = StrCat("no route for ", method, " ", path)};
}

Response Service::Challenge(std::string_view body, int64_t now) {
  auto doc = json::Document::Parse(body, "challenge request");
  if (!doc.ok()) return ToResponse(Deserialize(doc.status().message()));
  if (doc->root().kind() != json::Kind::kObject) {
    return ToResponse(Deserialize("invalid type, expected a map"));
  }
  auto nonce = RandomNonce();
  if (!nonce.ok()) return ToResponse(Internal("generate challenge", nonce.status().message()));
  auto token = signer_.SignBare(StrCat("{\"exp\":", now + kChallengeTtlSeconds, ",\"iat\":", now,
                                       ",\"nonce\":", json::Quote(*nonce), "}"));
  if (!token.ok()) return ToResponse(Internal("generate challenge", token.status().message()));
  return {.content_type = "application/json",
          .body = StrCat("{\"nonce\":", json::Quote(*nonce),
                         ",\"extra-params\":{\"jwt\":", json::Quote(*token), "}}")};
}

Response Service::Attestation(std::string_view body, int64_t now) {
  auto doc = json::Document::Parse(body, "attestation request");
  if (!doc.ok()) return ToResponse(Deserialize(doc.status().message()));
  const json::Value& root = doc->root();
  if (root.kind() != json::Kind::kObject) {
    return ToResponse(Deserialize("invalid type, expected struct AttestationRequest"));
  }
  std::vector<VerificationRequest> requests;
  if (options_.legacy_api) {
    auto request = ReadRequest(root, body);
    if (!request.ok()) return ToResponse(request.status());
    requests.push_back(*std::move(request));
  } else {
    const json::Value* list = root.Find("verification_requests");
    if (list == nullptr) return ToResponse(MissingField("verification_requests", body));
    if (list->kind() != json::Kind::kArray) {
      return ToResponse(
          Deserialize("invalid type for `verification_requests`, expected a sequence"));
    }
    for (const json::Value& element : list->elements()) {
      auto request = ReadRequest(element, body);
      if (!request.ok()) return ToResponse(request.status());
      requests.push_back(*std::move(request));
    }
  }
  auto policy_ids = PolicyIds(root, body);
  if (!policy_ids.ok()) return ToResponse(policy_ids.status());
  if (requests.empty()) {
    return ToResponse(
        Internal("attestation report evaluate", "No verification requests provided."));
  }

  std::vector<std::string> annotated_evidence;
  for (const VerificationRequest& request : requests) {
    auto claims = AppraiseSample(request, signer_, now);
    if (!claims.ok()) return ToResponse(claims.status());
    annotated_evidence.push_back(*std::move(claims));
  }

  // Trustee's EAR broker appraises with the first policy only (per TEE class: "<id>_cpu").
  const std::string policy = policy_ids->empty() ? "default" : policy_ids->front();
  const std::pair<std::string, PolicyVerdict>* found = nullptr;
  for (const auto& p : options_.policies) {
    if (p.first == policy) found = &p;
  }
  if (found == nullptr) {
    return ToResponse(Internal("attestation report evaluate",
                               StrCat("Policy `", policy, "_cpu.rego` not found")));
  }
  std::string submods;
  for (size_t i = 0; i < annotated_evidence.size(); ++i) {
    StrAppend(&submods, i ? "," : "", "\"cpu", i,
              "\":{\"ear.status\":", json::Quote(StatusName(found->second)),
              ",\"ear.trustworthiness-vector\":", TrustVector(found->second),
              ",\"ear.appraisal-policy-id\":", json::Quote(policy),
              ",\"ear.veraison.annotated-evidence\":", annotated_evidence[i], "}");
  }
  const std::string payload = StrCat(
      "{\"eat_profile\":", json::Quote(attestation::kTrusteeEarProfile), ",\"iat\":", now,
      ",\"ear.verifier-id\":{\"developer\":", json::Quote(kDeveloper),
      ",\"build\":\"tng-reference-as " TNG_VERSION "\"},\"submods\":{", submods,
      "},\"exp\":", now + options_.token_ttl_seconds, ",\"iss\":", json::Quote(kIssuer), "}");
  auto token = signer_.SignWithJwk(payload);
  if (!token.ok())
    return ToResponse(Internal("attestation report evaluate", token.status().message()));
  return {.body = *std::move(token)};
}

}  // namespace tng::reference_as
